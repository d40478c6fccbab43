"""A small TCP fault proxy for the fault tests and the soak bench (Toxiproxy is not installable).

Put it between the product and sshd, an ERP sandbox or PostgreSQL, point the product at
`proxy.port`, and change what the wire does while the product runs:

- `Pass()`: bytes flow unchanged.
- `Delay(seconds)`: every chunk waits `seconds` before it is forwarded (latency per chunk).
- `Cut(after_bytes)`: forward `after_bytes` more bytes, then close both sides cleanly (FIN).
- `Reset(after_bytes)`: forward `after_bytes` more bytes, then reset both sides
  (`SO_LINGER` 0, so the peers see RST, as after a crash or a firewall drop).
- `Stall(after_bytes)`: forward `after_bytes` more bytes, then hold the connection open and
  forward nothing more in either direction (a hung peer: only the client's timeout ends it).
- `Refuse()`: accept new connections and reset them at once (a service that is down).

A fault applies to one direction (`up`: client to server, `down`: server to client, or both
via `set(both=...)`). Bytes are counted per connection from the moment the fault is set (or
from the connection's start if later), so "cut after 50 KB down" means 50 KB into whatever
transfer follows, not into the SSH handshake that preceded it. `times` bounds on how many
connections a fault fires before its direction reverts to `Pass()` (None: every connection).

Counters (`stats`) tell a test what actually happened: connections accepted, bytes each way,
faults fired. Everything runs on plain threads, two per connection, so it works the same
inside pytest, a forked worker or a benchmark.
"""

import contextlib
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Literal

Direction = Literal["up", "down"]
_CHUNK = 64 * 1024
_LINGER_RESET = struct.pack("ii", 1, 0)


@dataclass(frozen=True)
class Pass:
    """Bytes flow unchanged."""


@dataclass(frozen=True)
class Delay:
    """Every chunk in this direction waits `seconds` before it is forwarded."""

    seconds: float


@dataclass(frozen=True)
class Cut:
    """After `after_bytes` more bytes, both sides are closed cleanly (FIN)."""

    after_bytes: int = 0
    times: int | None = 1


@dataclass(frozen=True)
class Reset:
    """After `after_bytes` more bytes, both sides are reset (RST via SO_LINGER 0)."""

    after_bytes: int = 0
    times: int | None = 1


@dataclass(frozen=True)
class Stall:
    """After `after_bytes` more bytes, nothing more is forwarded; the connection stays open."""

    after_bytes: int = 0
    times: int | None = 1


@dataclass(frozen=True)
class Refuse:
    """New connections are accepted and reset at once; open ones are left alone."""


Fault = Pass | Delay | Cut | Reset | Stall
_Firing = Cut | Reset | Stall


@dataclass
class ProxyStats:
    """What went through the proxy since it started (or since `reset_stats`)."""

    connections: int = 0
    refused: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    fired: dict[str, int] = field(default_factory=dict)
    active: int = 0


@dataclass
class _Rule:
    fault: Fault
    generation: int
    left: int | None  # firings left; None = unbounded


class _Connection:
    """One client connection and its upstream socket, pumped by two threads."""

    def __init__(self, proxy: "FaultProxy", client: socket.socket, upstream: socket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.upstream = upstream
        self.closed = threading.Event()
        self.stalled = threading.Event()
        self._lock = threading.Lock()

    def start(self) -> None:
        for direction in ("up", "down"):
            threading.Thread(
                target=self._pump,
                args=(direction,),
                name=f"fault-proxy-{direction}",
                daemon=True,
            ).start()

    def _pump(self, direction: Direction) -> None:
        source, sink = (
            (self.client, self.upstream) if direction == "up" else (self.upstream, self.client)
        )
        generation = -1
        counted = 0
        try:
            while not self.closed.is_set():
                try:
                    data = source.recv(_CHUNK)
                except OSError:
                    break
                if not data:
                    break
                if self.stalled.is_set():
                    continue  # read and drop: we still notice when the peer gives up
                rule = self.proxy._rule(direction)
                if rule.generation != generation:
                    generation, counted = rule.generation, 0
                fault = rule.fault
                if isinstance(fault, Delay):
                    time.sleep(fault.seconds)
                elif isinstance(fault, Cut | Reset | Stall):
                    room = fault.after_bytes - counted
                    if room < len(data) and self.proxy._claim_firing(direction, rule):
                        if room > 0:
                            self._send(sink, data[:room], direction)
                        self._fire(fault)
                        if isinstance(fault, Stall):
                            continue
                        return
                    counted += len(data)
                self._send(sink, data, direction)
        finally:
            # A stalled connection stays open towards the client until the client gives up.
            if direction == "up" or not self.stalled.is_set():
                self.close(reset=False)

    def _send(self, sink: socket.socket, data: bytes, direction: Direction) -> None:
        self.proxy._count(direction, len(data))  # first: a peer may answer before we return
        try:
            sink.sendall(data)
        except OSError:
            self.close(reset=False)

    def _fire(self, fault: _Firing) -> None:
        self.proxy._fired(type(fault).__name__.lower())
        if isinstance(fault, Stall):
            self.stalled.set()
        else:
            self.close(reset=isinstance(fault, Reset))

    def close(self, *, reset: bool) -> None:
        """Close both sockets, with RST when `reset` (once; later calls do nothing)."""
        with self._lock:
            if self.closed.is_set():
                return
            self.closed.set()
        for sock in (self.client, self.upstream):
            # A thread blocked in recv() keeps the socket alive past close(): wake it first.
            # SHUT_RD sends nothing, so with SO_LINGER 0 the last close sends an RST; SHUT_RDWR
            # sends the FIN of a clean end.
            with contextlib.suppress(OSError):
                if reset:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
                    sock.shutdown(socket.SHUT_RD)
                else:
                    sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()
        self.proxy._forget(self)


class FaultProxy:
    """A TCP proxy from `127.0.0.1:port` to `target`; see the module docstring.

    Use as a context manager, or call `start()` and `stop()`.
    """

    def __init__(
        self,
        target: tuple[str, int],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        connect_timeout: float = 5.0,
    ) -> None:
        self.target = target
        self.host = host
        self._requested_port = port
        self.connect_timeout = connect_timeout
        self._lock = threading.Lock()
        self._generation = 0
        self._rules: dict[Direction, _Rule] = {
            "up": _Rule(Pass(), 0, None),
            "down": _Rule(Pass(), 0, None),
        }
        self._refuse = False
        self._connections: set[_Connection] = set()
        self._stats = ProxyStats()
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    # -- life cycle --------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port clients connect to (known once started)."""
        if self._listener is None:
            raise RuntimeError("the proxy is not started")
        return int(self._listener.getsockname()[1])

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    def start(self) -> "FaultProxy":
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self._requested_port))
        listener.listen(128)
        listener.settimeout(0.05)
        self._listener = listener
        self._stopping.clear()
        self._thread = threading.Thread(target=self._accept_loop, name="fault-proxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting and close every connection."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        self.drop_all()

    def __enter__(self) -> "FaultProxy":
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- faults ------------------------------------------------------------------------------

    def set(
        self,
        *,
        up: Fault | None = None,
        down: Fault | None = None,
        both: Fault | None = None,
    ) -> None:
        """Change the fault of one or both directions; applies to open connections too."""
        with self._lock:
            self._refuse = False
            for direction, fault in (("up", up or both), ("down", down or both)):
                if fault is None:
                    continue
                self._generation += 1
                left = getattr(fault, "times", None)
                self._rules[direction] = _Rule(fault, self._generation, left)  # type: ignore[index]

    def refuse(self) -> None:
        """New connections are reset at once (`Refuse`); `clear()` ends it."""
        with self._lock:
            self._refuse = True

    def clear(self) -> None:
        """Back to `Pass()` both ways, accepting again."""
        self.set(both=Pass())

    def drop_all(self, *, reset: bool = True) -> int:
        """Close every open connection now (RST by default); returns how many."""
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            connection.close(reset=reset)
        return len(connections)

    @property
    def stats(self) -> ProxyStats:
        """A snapshot of the counters."""
        with self._lock:
            snapshot = ProxyStats(
                connections=self._stats.connections,
                refused=self._stats.refused,
                bytes_up=self._stats.bytes_up,
                bytes_down=self._stats.bytes_down,
                fired=dict(self._stats.fired),
            )
            snapshot.active = len(self._connections)
            return snapshot

    def reset_stats(self) -> None:
        with self._lock:
            self._stats = ProxyStats()

    # -- internals ---------------------------------------------------------------------------

    def _rule(self, direction: Direction) -> _Rule:
        with self._lock:
            return self._rules[direction]

    def _claim_firing(self, direction: Direction, rule: _Rule) -> bool:
        """Whether this connection may fire `rule` now (counts down its `times`)."""
        with self._lock:
            current = self._rules[direction]
            if current is not rule:
                return False
            if current.left is None:
                return True
            if current.left <= 0:
                return False
            current.left -= 1
            if current.left == 0:
                self._generation += 1
                self._rules[direction] = _Rule(Pass(), self._generation, None)
            return True

    def _count(self, direction: Direction, n: int) -> None:
        with self._lock:
            if direction == "up":
                self._stats.bytes_up += n
            else:
                self._stats.bytes_down += n

    def _fired(self, name: str) -> None:
        with self._lock:
            self._stats.fired[name] = self._stats.fired.get(name, 0) + 1

    def _forget(self, connection: _Connection) -> None:
        with self._lock:
            self._connections.discard(connection)

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            with self._lock:
                refuse = self._refuse
                if refuse:
                    self._stats.refused += 1
            if refuse:
                with contextlib.suppress(OSError):
                    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=self.connect_timeout)
            except OSError:
                with contextlib.suppress(OSError):
                    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
                client.close()
                continue
            upstream.settimeout(None)
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection = _Connection(self, client, upstream)
            with self._lock:
                self._connections.add(connection)
                self._stats.connections += 1
            connection.start()
