"""Pipelined SFTP reads: many large READ requests in flight, answered in file order.

Why not paramiko's `prefetch()`: it asks for 32 KiB at a time from a helper thread, scans its
buffer on every read, and every SFTP message it takes from the channel shifts the whole channel
buffer (`del buffer[:n]`), which is quadratic in the data in flight. Here one thread keeps
`depth` requests of up to the server's read limit (OpenSSH: ~255 KiB, announced by
`limits@openssh.com`) outstanding, empties the channel buffer in one call, splits SFTP messages
itself, and hands each chunk to a sink in file order (hashing and writing overlap with the
network). It uses paramiko's request counter and packet sender, and owns the channel only for
the duration of one call: outstanding answers are drained before it returns, so paramiko's own
reader finds the stream where it expects it. If that cannot be guaranteed the caller is told
(`StreamDesynchronized`) and must drop the connection.
"""

import struct
from collections import deque
from collections.abc import Callable
from typing import Protocol, cast

import paramiko
from paramiko.sftp import CMD_DATA, CMD_EXTENDED, CMD_EXTENDED_REPLY, CMD_READ, CMD_STATUS

# paramiko's only documented request size; every server must accept it.
SAFE_READ_SIZE = 32 * 1024
MAX_READ_SIZE = 255 * 1024
PIPELINE_DEPTH = 32
_RECV_SIZE = 4 * 1024 * 1024
_FX_EOF = 1
_HEADER = struct.Struct(">IBI")  # length, type, request id
_UINT32 = struct.Struct(">I")

_int64: Callable[[int], object] = paramiko.sftp_client.int64  # type: ignore[attr-defined]


class SftpRequests(Protocol):
    """paramiko's request plumbing, which its type stubs leave out."""

    _expecting: dict[int, object]
    request_number: int

    def _request(self, t: int, *args: object) -> tuple[int | None, paramiko.Message | None]: ...

    def _async_request(self, fileobj: object, t: int, *args: object) -> int: ...

    def _read_response(
        self, waitfor: int | None = None
    ) -> tuple[int | None, paramiko.Message | None]: ...

    def _convert_status(self, msg: paramiko.Message) -> None: ...

    def _send_packet(self, t: int, packet: paramiko.Message) -> None: ...


def requests(sftp: paramiko.SFTPClient) -> SftpRequests:
    """The same client, typed with its request methods."""
    return cast(SftpRequests, sftp)


class ReadLimitExceeded(Exception):
    """More bytes arrived than the caller allows."""


class StreamDesynchronized(Exception):
    """Answers are still in flight on the channel: the connection must not be reused."""


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


class _Answers:
    """SFTP messages taken straight from the channel, split by length prefix."""

    def __init__(self, channel: paramiko.Channel) -> None:
        self._channel = channel
        self._buffer = bytearray()
        self._pos = 0
        self.got: dict[int, tuple[int, bytes]] = {}

    def _fill(self, needed: int) -> None:
        while len(self._buffer) - self._pos < needed:
            data = self._channel.recv(_RECV_SIZE)
            if not data:
                raise EOFError("SFTP channel closed")
            if self._pos:
                del self._buffer[: self._pos]
                self._pos = 0
            self._buffer += data

    def read_one(self) -> None:
        """Take one whole message off the channel and file it under its request id."""
        self._fill(_HEADER.size)
        length, kind, num = _HEADER.unpack_from(self._buffer, self._pos)
        self._fill(4 + length)
        body_start = self._pos + _HEADER.size
        end = self._pos + 4 + length
        self.got[num] = (kind, bytes(self._buffer[body_start:end]))
        self._pos = end

    def wait_for(self, num: int) -> tuple[int, bytes]:
        while num not in self.got:
            self.read_one()
        return self.got.pop(num)

    @property
    def leftover(self) -> int:
        return len(self._buffer) - self._pos


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
        StreamDesynchronized: a failure left answers in flight (drop the connection).
        OSError, EOFError, paramiko.SSHException: server or network failure.
    """
    rq = requests(sftp)
    while rq._expecting:
        # Answers paramiko still waits for (a listing's CLOSE) come first on the channel.
        rq._read_response()
    channel = sftp.get_channel()
    if channel is None:
        raise EOFError("SFTP channel closed")
    answers = _Answers(channel)
    order: deque[tuple[int, int, int]] = deque()
    next_offset = 0
    total = 0

    def ask(offset: int, length: int) -> int:
        with sftp._lock:  # type: ignore[attr-defined]  # paramiko's request-number lock
            num = rq.request_number
            rq.request_number += 1
        msg = paramiko.Message()
        msg.add_int(num)
        msg.add_string(handle)
        msg.add_int64(offset)
        msg.add_int(length)
        rq._send_packet(CMD_READ, msg)
        return num

    ok = False
    try:
        while True:
            while len(order) < depth and next_offset <= limit:
                order.append((ask(next_offset, chunk), next_offset, chunk))
                next_offset += chunk
            if not order:
                ok = True
                return total
            num, offset, length = order.popleft()
            kind, body = answers.wait_for(num)
            if kind == CMD_STATUS:
                # EOF ends the read even if later offsets would now answer: bytes appended
                # meanwhile show up in the caller's re-stat, never as a hole in our copy.
                _raise_unless_eof(sftp, body)
                ok = True
                return total
            if kind != CMD_DATA:
                raise paramiko.SFTPError(f"expected DATA, got message type {kind}")
            (size,) = _UINT32.unpack_from(body, 0)
            data = body[4 : 4 + size]
            total += len(data)
            if total > limit:
                raise ReadLimitExceeded()
            sink(data)
            if 0 < len(data) < length:
                # The server capped this read: fetch the rest before anything later.
                rest = (
                    ask(offset + len(data), length - len(data)),
                    offset + len(data),
                    length - len(data),
                )
                order.appendleft(rest)
            elif not data:
                ok = True
                return total
    finally:
        _drain(answers, order, clean=ok)


def _raise_unless_eof(sftp: paramiko.SFTPClient, body: bytes) -> None:
    (code,) = _UINT32.unpack_from(body, 0)
    if code == _FX_EOF:
        return
    msg = paramiko.Message(body)
    requests(sftp)._convert_status(msg)
    raise paramiko.SFTPError("unexpected OK status to a READ")


def _drain(answers: _Answers, order: deque[tuple[int, int, int]], *, clean: bool) -> None:
    """Take every answer still in flight off the channel, so the stream stays in step."""
    try:
        for num, _, _ in order:
            answers.wait_for(num)
    except (OSError, EOFError, paramiko.SSHException) as exc:
        raise StreamDesynchronized() from exc
    if answers.leftover and clean:
        raise StreamDesynchronized()
