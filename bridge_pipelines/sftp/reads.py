"""Pipelined SFTP reads: many large READ requests in flight, answered in order, in one thread.

paramiko's own `prefetch()` issues 32 KiB requests from a helper thread and scans its buffer on
every read (quadratic on big files). Here one thread keeps `depth` requests of up to the
server's read limit (OpenSSH: ~255 KiB, announced by `limits@openssh.com`) outstanding and hands
each chunk to a sink in file order, so hashing and writing overlap with the network. This leans
on paramiko's request plumbing (`_async_request`, `_read_response`), stable since paramiko 1.x.
"""

from collections import deque
from collections.abc import Callable
from typing import Protocol, cast

import paramiko
from paramiko.sftp import CMD_DATA, CMD_EXTENDED, CMD_EXTENDED_REPLY, CMD_READ, CMD_STATUS

# paramiko's only documented request size; every server must accept it.
SAFE_READ_SIZE = 32 * 1024
MAX_READ_SIZE = 255 * 1024
PIPELINE_DEPTH = 32

_int64: Callable[[int], object] = paramiko.sftp_client.int64  # type: ignore[attr-defined]


class SftpRequests(Protocol):
    """paramiko's request plumbing, which its type stubs leave out."""

    def _request(self, t: int, *args: object) -> tuple[int | None, paramiko.Message | None]: ...

    def _async_request(self, fileobj: object, t: int, *args: object) -> int: ...

    def _read_response(
        self, waitfor: int | None = None
    ) -> tuple[int | None, paramiko.Message | None]: ...

    def _convert_status(self, msg: paramiko.Message) -> None: ...


def requests(sftp: paramiko.SFTPClient) -> SftpRequests:
    """The same client, typed with its request methods."""
    return cast(SftpRequests, sftp)


class ReadLimitExceeded(Exception):
    """More bytes arrived than the caller allows."""


def server_read_size(sftp: paramiko.SFTPClient) -> int:
    """The largest READ the server answers in full, asking once via `limits@openssh.com`."""
    try:
        kind, msg = requests(sftp)._request(CMD_EXTENDED, "limits@openssh.com")
    except (OSError, EOFError):
        # Servers without the extension answer OP_UNSUPPORTED; the safe size always works.
        return SAFE_READ_SIZE
    if kind != CMD_EXTENDED_REPLY or msg is None:
        return SAFE_READ_SIZE
    msg.get_int64()  # max packet length
    max_read = int(msg.get_int64())
    if max_read <= 0:
        return MAX_READ_SIZE
    return max(SAFE_READ_SIZE, min(max_read, MAX_READ_SIZE))


class _Responses:
    """Receives paramiko's dispatched answers for our request numbers."""

    def __init__(self) -> None:
        self.got: dict[int, tuple[int, paramiko.Message]] = {}

    def _async_response(self, kind: int, msg: paramiko.Message, num: int) -> None:
        self.got[num] = (kind, msg)


def read_all(
    sftp: paramiko.SFTPClient,
    handle: bytes,
    sink: Callable[[bytes], None],
    *,
    limit: int,
    chunk: int,
    depth: int = PIPELINE_DEPTH,
) -> int:
    """Read an open file from offset 0 to EOF, feeding `sink` in order; returns the byte count.

    Reads until the server says EOF (not up to a size seen earlier), so a file that grew is
    noticed by the caller's re-stat. Short answers are completed with follow-up reads.

    Raises:
        ReadLimitExceeded: more than `limit` bytes are available.
        OSError, EOFError, paramiko.SSHException: server or network failure.
    """
    rq = requests(sftp)
    responses = _Responses()
    pending: deque[tuple[int, int, int]] = deque()
    next_offset = 0
    total = 0
    try:
        while True:
            while len(pending) < depth and next_offset <= limit:
                num = rq._async_request(responses, CMD_READ, handle, _int64(next_offset), chunk)
                pending.append((num, next_offset, chunk))
                next_offset += chunk
            if not pending:
                # Only reached when `limit` bytes were asked for without an EOF.
                return total
            num, offset, length = pending.popleft()
            while num not in responses.got:
                rq._read_response()
            kind, msg = responses.got.pop(num)
            if kind == CMD_STATUS:
                # EOF ends the read even if later offsets would now answer: bytes appended
                # meanwhile show up in the caller's re-stat, never as a hole in our copy.
                _raise_unless_eof(sftp, msg)
                return total
            if kind != CMD_DATA:
                raise paramiko.SFTPError(f"expected DATA, got message type {kind}")
            data = msg.get_string()
            total += len(data)
            if total > limit:
                raise ReadLimitExceeded()
            sink(data)
            if len(data) < length:
                total += _complete_short_read(
                    sftp,
                    handle,
                    offset=offset + len(data),
                    missing=length - len(data),
                    sink=sink,
                    budget=limit - total,
                )
    finally:
        _drain(sftp, responses, pending)


def _complete_short_read(
    sftp: paramiko.SFTPClient,
    handle: bytes,
    *,
    offset: int,
    missing: int,
    sink: Callable[[bytes], None],
    budget: int,
) -> int:
    """Fetch what a short answer left out (servers may cap a read below what we asked)."""
    got = 0
    while got < missing:
        try:
            kind, msg = requests(sftp)._request(
                CMD_READ, handle, _int64(offset + got), missing - got
            )
        except EOFError:
            return got
        if kind != CMD_DATA or msg is None:
            raise paramiko.SFTPError(f"expected DATA, got message type {kind}")
        data = msg.get_string()
        if not data:
            return got
        got += len(data)
        if got > budget:
            raise ReadLimitExceeded()
        sink(data)
    return got


def _raise_unless_eof(sftp: paramiko.SFTPClient, msg: paramiko.Message) -> None:
    try:
        requests(sftp)._convert_status(msg)
    except EOFError:
        return
    raise paramiko.SFTPError("unexpected OK status to a READ")


def _drain(
    sftp: paramiko.SFTPClient, responses: _Responses, pending: deque[tuple[int, int, int]]
) -> None:
    """Collect answers still in flight so the next request on this channel starts clean."""
    try:
        for num, _, _ in pending:
            while num not in responses.got:
                requests(sftp)._read_response()
            responses.got.pop(num)
    except (OSError, EOFError, paramiko.SSHException):
        pass
