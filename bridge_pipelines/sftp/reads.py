"""Pipelined SFTP reads: many large READ requests in flight, answered in file order.

Why not paramiko's `prefetch()`: it asks for 32 KiB at a time from a helper thread, scans its
buffer on every read, and every SFTP message it takes from the channel shifts the whole channel
buffer (`del buffer[:n]`), which is quadratic in the data in flight. Here one thread keeps
`depth` requests of up to the server's read limit (OpenSSH: ~255 KiB, announced by
`limits@openssh.com`) outstanding, splits SFTP messages itself, and hands each chunk to a sink
in file order (the caller hashes and writes on another thread). It uses paramiko's request
counter, and owns the channel only for the duration of one call: outstanding answers are
drained before it returns, so paramiko's own reader finds the stream where it expects it. If
that cannot be guaranteed the caller is told (`StreamDesynchronized`) and must drop the
connection.

Where the time goes (profiled, 100 MB from sshd on loopback, 2 cores): not in decryption but
in moving bytes between paramiko's threads. Its channel buffer is an `array` that copies every
SSH packet in, copies twice on the way out and wakes the reader for each 32 KiB packet. A
channel opened by our transport gets a `ChunkPipe` instead (see `connection.py`): packets are
kept as they arrived, the reader is woken once per SFTP answer, and each answer is copied once,
into the bytes handed to the sink. READ requests go out eight to an SSH packet.
"""

import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, cast

import paramiko
from paramiko.buffered_pipe import BufferedPipe
from paramiko.common import cMSG_CHANNEL_WINDOW_ADJUST
from paramiko.sftp import CMD_DATA, CMD_EXTENDED, CMD_EXTENDED_REPLY, CMD_READ, CMD_STATUS

# paramiko's only documented request size; every server must accept it.
SAFE_READ_SIZE = 32 * 1024
MAX_READ_SIZE = 255 * 1024
PIPELINE_DEPTH = 32
# Requests are sent in batches: one SSH packet and one syscall for several READs.
REQUEST_BATCH = 8
_RECV_SIZE = 4 * 1024 * 1024
# No answer to our READs comes near this; a larger length prefix is garbage, not a reason to
# buffer gigabytes.
_MAX_MESSAGE = 4 * MAX_READ_SIZE
_FX_EOF = 1
_HEADER = struct.Struct(">IBI")  # length, type, request id
_UINT32 = struct.Struct(">I")
_READ = struct.Struct(">IBI")  # length, CMD_READ, request id (then handle, offset, length)
_READ_TAIL = struct.Struct(">QI")

_int64: Callable[[int], object] = paramiko.sftp_client.int64  # type: ignore[attr-defined]

Piece = bytes | memoryview

if TYPE_CHECKING:
    _BytesPipe = BufferedPipe[bytes]  # generic in the stubs only
else:
    _BytesPipe = BufferedPipe


class ChunkPipe(_BytesPipe):
    """A channel buffer that keeps packets as they arrived and wakes readers only when useful.

    paramiko's `BufferedPipe` API (`feed`, `read`, `read_ready`, `empty`, `close`, `set_event`,
    `len`) behaves as before, so paramiko's own SFTP calls work unchanged; `take()` is the bulk
    path used by `read_all`.
    """

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._cv = threading.Condition(self._lock)
        self._event: threading.Event | None = None
        self._closed = False
        self._chunks: deque[Piece] = deque()
        self._size = 0
        self._want = 1

    def feed(self, data: Piece) -> None:
        """Add a packet's data (called by paramiko's transport thread)."""
        if not data:
            return
        with self._lock:
            self._chunks.append(data)
            self._size += len(data)
            if self._event is not None:
                self._event.set()
            if self._size >= self._want:
                self._cv.notify_all()

    def take(self, need: int, timeout: float | None) -> list[Piece]:
        """Wait until `need` bytes are buffered (or the pipe closed) and return all of them.

        `timeout` bounds a wait without progress, as a socket timeout would.

        Raises:
            socket.timeout: no data arrived for `timeout` seconds.
        """
        with self._lock:
            seen = self._size
            deadline = None if timeout is None else time.monotonic() + timeout
            self._want = need
            try:
                while self._size < need and not self._closed:
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        raise TimeoutError()
                    self._cv.wait(left)
                    if self._size != seen and timeout is not None:
                        seen = self._size
                        deadline = time.monotonic() + timeout
            finally:
                self._want = 1
            out = list(self._chunks)
            self._chunks.clear()
            self._size = 0
            self._clear_event()
            return out

    def _clear_event(self) -> None:
        if self._event is not None and not self._closed:
            self._event.clear()

    def read_ready(self) -> bool:
        with self._lock:
            return self._size > 0

    def read(self, nbytes: int, timeout: float | None = None) -> bytes:
        with self._lock:
            if not self._size:
                if self._closed:
                    return b""
                if timeout == 0.0:
                    raise paramiko.buffered_pipe.PipeTimeout()
                deadline = None if timeout is None else time.monotonic() + timeout
                while not self._size and not self._closed:
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        raise paramiko.buffered_pipe.PipeTimeout()
                    self._cv.wait(left)
                if not self._size:
                    return b""
            parts: list[Piece] = []
            got = 0
            while self._chunks and got < nbytes:
                head = self._chunks.popleft()
                if got + len(head) > nbytes:
                    keep = nbytes - got
                    view = memoryview(head)
                    self._chunks.appendleft(view[keep:])
                    head = view[:keep]
                parts.append(head)
                got += len(head)
            self._size -= got
            if not self._size:
                self._clear_event()
            return parts[0] if len(parts) == 1 and isinstance(parts[0], bytes) else b"".join(parts)

    def empty(self) -> bytes:
        with self._lock:
            out = b"".join(self._chunks)
            self._chunks.clear()
            self._size = 0
            self._clear_event()
            return out

    def set_event(self, event: threading.Event) -> None:
        with self._lock:
            self._event = event
            if self._closed or self._size:
                event.set()
            else:
                event.clear()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._cv.notify_all()
            if self._event is not None:
                self._event.set()

    def __len__(self) -> int:
        with self._lock:
            return self._size


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
    """SFTP messages taken straight from the channel, split by length prefix.

    A DATA answer is filed as its payload alone, any other answer as its body after the id.
    """

    def __init__(self, channel: paramiko.Channel) -> None:
        self._channel = channel
        pipe = channel.in_buffer
        self._pipe = pipe if isinstance(pipe, ChunkPipe) else None
        self._pieces: deque[Piece] = deque()
        self._size = 0
        self.got: dict[int, tuple[int, bytes]] = {}

    def _fill(self, needed: int) -> None:
        while self._size < needed:
            if self._pipe is not None:
                got = self._pipe.take(needed - self._size, self._channel.timeout)
                _consumed(self._channel, sum(len(p) for p in got))
            else:
                got = [self._channel.recv(_RECV_SIZE)]
            if not got or not got[-1]:
                raise EOFError("SFTP channel closed")
            self._pieces.extend(got)
            self._size += sum(len(p) for p in got)

    def _take(self, n: int) -> bytes:
        """The next `n` bytes, copied once."""
        self._fill(n)
        self._size -= n
        pieces = self._pieces
        head = pieces[0]
        if len(head) == n:
            pieces.popleft()
            return bytes(head)
        if len(head) > n:
            view = memoryview(head)
            pieces[0] = view[n:]
            return bytes(view[:n])
        parts: list[Piece] = []
        while n:
            head = pieces.popleft()
            if len(head) > n:
                view = memoryview(head)
                pieces.appendleft(view[n:])
                head = view[:n]
            parts.append(head)
            n -= len(head)
        return b"".join(parts)

    def _peek_header(self) -> tuple[int, int, int]:
        self._fill(_HEADER.size)
        head = self._pieces[0]
        if len(head) >= _HEADER.size:
            return _HEADER.unpack_from(head, 0)
        return _HEADER.unpack(b"".join(self._pieces)[: _HEADER.size])

    def read_one(self) -> None:
        """Take one whole message off the channel and file it under its request id.

        The message is buffered whole before any of it is consumed, so a failure mid-way
        leaves the stream at a message boundary.
        """
        length, kind, num = self._peek_header()
        rest = length - (_HEADER.size - 4)
        if rest < 0 or length > _MAX_MESSAGE:
            raise paramiko.SFTPError(f"SFTP message of impossible length {length}")
        self._fill(4 + length)
        self._take(_HEADER.size)
        if kind == CMD_DATA:
            if rest < 4:
                raise paramiko.SFTPError("SFTP DATA without a length")
            (size,) = _UINT32.unpack(self._take(4))
            if size > rest - 4:
                raise paramiko.SFTPError("SFTP DATA longer than its message")
            data = self._take(size)
            if rest - 4 - size:
                self._take(rest - 4 - size)  # trailing bytes (an end-of-file flag, v6)
            self.got[num] = (kind, data)
        else:
            self.got[num] = (kind, self._take(rest))

    def wait_for(self, num: int) -> tuple[int, bytes]:
        while num not in self.got:
            self.read_one()
        return self.got.pop(num)

    @property
    def leftover(self) -> int:
        return self._size


def _consumed(channel: paramiko.Channel, n: int) -> None:
    """Credit the server's send window for bytes taken past `Channel.recv`, as recv does."""
    ack = channel._check_add_window(n)  # type: ignore[attr-defined]
    if ack > 0 and channel.transport is not None:
        m = paramiko.Message()
        m.add_byte(cMSG_CHANNEL_WINDOW_ADJUST)
        m.add_int(channel.remote_chanid)
        m.add_int(ack)
        channel.transport._send_user_message(m)  # type: ignore[attr-defined]


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
    batch = max(1, min(REQUEST_BATCH, depth // 4))
    handle_field = _UINT32.pack(len(handle)) + handle
    read_length = _READ.size - 4 + len(handle_field) + _READ_TAIL.size

    def ask(wanted: list[tuple[int, int]]) -> list[int]:
        """Send READs for (offset, length) pairs in one write; returns their request ids."""
        with sftp._lock:  # type: ignore[attr-defined]  # paramiko's request-number lock
            first = rq.request_number
            rq.request_number += len(wanted)
        out = []
        for i, (offset, length) in enumerate(wanted):
            out.append(_READ.pack(read_length, CMD_READ, first + i))
            out.append(handle_field)
            out.append(_READ_TAIL.pack(offset, length))
        channel.sendall(b"".join(out))
        return list(range(first, first + len(wanted)))

    def top_up() -> None:
        nonlocal next_offset
        room = depth - len(order)
        if room < batch and order:
            return
        wanted = []
        while room > 0 and next_offset <= limit:
            wanted.append((next_offset, chunk))
            next_offset += chunk
            room -= 1
        if wanted:
            for num, (offset, length) in zip(ask(wanted), wanted, strict=True):
                order.append((num, offset, length))

    ok = False
    try:
        while True:
            top_up()
            if not order:
                ok = True
                return total
            num, offset, length = order.popleft()
            kind, data = answers.wait_for(num)
            if kind == CMD_STATUS:
                # EOF ends the read even if later offsets would now answer: bytes appended
                # meanwhile show up in the caller's re-stat, never as a hole in our copy.
                _raise_unless_eof(sftp, data)
                ok = True
                return total
            if kind != CMD_DATA:
                raise paramiko.SFTPError(f"expected DATA, got message type {kind}")
            total += len(data)
            if total > limit:
                raise ReadLimitExceeded()
            sink(data)
            if 0 < len(data) < length:
                # The server capped this read: fetch the rest before anything later.
                start, left = offset + len(data), length - len(data)
                (rest,) = ask([(start, left)])
                order.appendleft((rest, start, left))
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
    except (OSError, EOFError, paramiko.SSHException, paramiko.SFTPError) as exc:
        raise StreamDesynchronized() from exc
    if answers.leftover and clean:
        raise StreamDesynchronized()
