"""Pipelined SFTP writes whose every acknowledgement is checked.

paramiko's pipelined `SFTPFile.write` files the server's answers under no owner and drops them:
a write refused for a full disk or a quota goes unnoticed, and an upload "succeeds" with a
truncated file, which our rename would then publish. Here every WRITE answer is collected and
checked, and the CLOSE answer too (some servers report the failure only then), before the caller
renames anything into place.
"""

from typing import cast

import paramiko
from paramiko.sftp import CMD_CLOSE, CMD_STATUS, CMD_WRITE

from bridge_pipelines.faultpoints import armed, fault_point
from bridge_pipelines.sftp.reads import requests

WRITE_SIZE = 32 * 1024  # the size every server accepts
WRITE_DEPTH = 32

_int64 = paramiko.sftp_client.int64  # type: ignore[attr-defined]


class _Acks:
    """Receives the answers to our WRITE requests (paramiko dispatches them here)."""

    def __init__(self, sftp: paramiko.SFTPClient) -> None:
        self._sftp = sftp
        self.pending: set[int] = set()
        self.errors: list[Exception] = []

    def _async_response(self, kind: int, msg: paramiko.Message, num: int) -> None:
        self.pending.discard(num)
        if kind != CMD_STATUS:
            self.errors.append(paramiko.SFTPError(f"expected STATUS, got message type {kind}"))
            return
        try:
            requests(self._sftp)._convert_status(msg)
        except (OSError, EOFError) as exc:
            self.errors.append(exc)


def write_file(sftp: paramiko.SFTPClient, path: str, data: bytes) -> None:
    """Create or truncate `path` and write `data`, confirmed chunk by chunk; then close it.

    Raises:
        OSError: the server refused a write or the close (message is the server's).
        EOFError, paramiko.SSHException: the connection failed.
    """
    remote = sftp.open(path, "wb")
    handle = cast(bytes, remote.handle)
    remote._closed = True  # type: ignore[attr-defined]  # we send CLOSE ourselves, once
    rq = requests(sftp)
    acks = _Acks(sftp)
    try:
        for offset in range(0, len(data), WRITE_SIZE):
            chunk = data[offset : offset + WRITE_SIZE]
            acks.pending.add(rq._async_request(acks, CMD_WRITE, handle, _int64(offset), chunk))
            if offset == 0 and armed("mid_upload"):
                while acks.pending:  # the first chunk is on the server, the rest never will be
                    rq._read_response()
                fault_point("mid_upload")
            while len(acks.pending) >= WRITE_DEPTH:
                rq._read_response()
            if acks.errors:
                break
        while acks.pending:
            rq._read_response()
    finally:
        closing_error: Exception | None = None
        try:
            rq._request(CMD_CLOSE, handle)
        except (OSError, EOFError) as exc:
            closing_error = exc
    if acks.errors:
        raise acks.errors[0]
    if closing_error is not None:
        raise closing_error
