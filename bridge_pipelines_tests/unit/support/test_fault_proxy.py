"""The fault proxy does to the wire exactly what each mode says, against a tiny echo server."""

import socket
import socketserver
import threading
import time
from collections.abc import Iterator

import pytest

from bridge_pipelines.sandbox.fault_proxy import (
    Cut,
    Delay,
    FaultProxy,
    Pass,
    Reset,
    Stall,
)


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        received = self.server.received  # type: ignore[attr-defined]
        try:
            while data := self.request.recv(65536):
                received.append(data)
                self.request.sendall(data)
        except OSError:
            return  # the proxy reset us: that is the point of some tests


class _EchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Echo)
        self.received: list[bytes] = []


Proxied = tuple[FaultProxy, _EchoServer]


@pytest.fixture
def proxy() -> Iterator[Proxied]:
    server = _EchoServer()
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        with FaultProxy(server.server_address) as fault_proxy:  # type: ignore[arg-type]
            yield fault_proxy, server
    finally:
        server.shutdown()
        server.server_close()


def connect(proxy: FaultProxy, timeout: float = 2.0) -> socket.socket:
    return socket.create_connection(proxy.address, timeout=timeout)


def read_until_closed(sock: socket.socket, limit: int = 1 << 20) -> bytes:
    """Everything until EOF; raises what the socket raises (reset, timeout)."""
    got = bytearray()
    while len(got) < limit:
        data = sock.recv(65536)
        if not data:
            break
        got += data
    return bytes(got)


def read_exactly(sock: socket.socket, n: int) -> bytes:
    got = bytearray()
    while len(got) < n:
        data = sock.recv(n - len(got))
        if not data:
            break
        got += data
    return bytes(got)


def test_pass_echoes_and_counts(proxy: Proxied) -> None:
    fault_proxy, _ = proxy
    with connect(fault_proxy) as sock:
        sock.sendall(b"x" * 5000)
        assert read_exactly(sock, 5000) == b"x" * 5000
    stats = fault_proxy.stats
    assert stats.connections == 1
    assert stats.bytes_up == 5000 and stats.bytes_down == 5000
    assert stats.fired == {}


def test_delay_slows_every_chunk(proxy: Proxied) -> None:
    fault_proxy, _ = proxy
    fault_proxy.set(down=Delay(0.3))
    with connect(fault_proxy) as sock:
        started = time.monotonic()
        sock.sendall(b"ping")
        assert read_exactly(sock, 4) == b"ping"
        assert time.monotonic() - started >= 0.3
    fault_proxy.set(down=Pass())
    with connect(fault_proxy) as sock:
        started = time.monotonic()
        sock.sendall(b"ping")
        assert read_exactly(sock, 4) == b"ping"
        assert time.monotonic() - started < 0.3


def test_cut_down_delivers_n_bytes_then_a_clean_end(proxy: Proxied) -> None:
    fault_proxy, _ = proxy
    fault_proxy.set(down=Cut(after_bytes=1000))
    with connect(fault_proxy) as sock:
        sock.sendall(b"y" * 4000)
        assert read_until_closed(sock) == b"y" * 1000  # EOF, no exception: a FIN
    assert fault_proxy.stats.fired == {"cut": 1}


def test_reset_down_delivers_n_bytes_then_rst(proxy: Proxied) -> None:
    fault_proxy, _ = proxy
    fault_proxy.set(down=Reset(after_bytes=10))
    with connect(fault_proxy) as sock:
        sock.sendall(b"z" * 100)
        got = bytearray()
        with pytest.raises(ConnectionResetError):
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                got += data
        assert len(got) <= 10
    assert fault_proxy.stats.fired == {"reset": 1}


def test_stall_holds_the_connection_open_and_silent(proxy: Proxied) -> None:
    fault_proxy, _ = proxy
    fault_proxy.set(down=Stall(after_bytes=3))
    with connect(fault_proxy, timeout=0.5) as sock:
        sock.sendall(b"abcdef")
        assert read_exactly(sock, 3) == b"abc"
        with pytest.raises(TimeoutError):
            sock.recv(10)  # neither data nor EOF: only our own timeout ends the wait
        assert fault_proxy.stats.active == 1
    assert fault_proxy.stats.fired == {"stall": 1}


def test_cut_up_reaches_the_server_partially(proxy: Proxied) -> None:
    fault_proxy, server = proxy
    fault_proxy.set(up=Cut(after_bytes=6))
    with connect(fault_proxy) as sock:
        sock.sendall(b"0123456789")
        assert b"012345".startswith(read_until_closed(sock))  # then a clean end, both ways
    deadline = time.monotonic() + 2
    while b"".join(server.received) != b"012345" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert b"".join(server.received) == b"012345"


def test_a_fault_fires_times_then_reverts_and_can_change_at_runtime(proxy: Proxied) -> None:
    fault_proxy, _ = proxy
    with connect(fault_proxy) as first:
        first.sendall(b"before")
        assert read_exactly(first, 6) == b"before"
        fault_proxy.set(down=Cut(after_bytes=2, times=1))  # an open connection takes it too
        first.sendall(b"after")
        assert read_until_closed(first) == b"af"
    with connect(fault_proxy) as second:
        second.sendall(b"again")
        assert read_exactly(second, 5) == b"again"
    assert fault_proxy.stats.connections == 2
    assert fault_proxy.stats.fired == {"cut": 1}


def test_refuse_resets_new_connections_until_cleared(proxy: Proxied) -> None:
    fault_proxy, _ = proxy
    fault_proxy.refuse()
    # The reset may even beat connect() back.
    with pytest.raises((ConnectionResetError, BrokenPipeError)), connect(fault_proxy) as sock:
        sock.sendall(b"hello")
        if not sock.recv(10):
            raise AssertionError("a FIN, not a reset")
    fault_proxy.clear()
    with connect(fault_proxy) as sock:
        sock.sendall(b"hello")
        assert read_exactly(sock, 5) == b"hello"
    assert fault_proxy.stats.refused == 1


def test_drop_all_resets_open_connections(proxy: Proxied) -> None:
    fault_proxy, _ = proxy
    with connect(fault_proxy) as sock:
        sock.sendall(b"hi")
        assert read_exactly(sock, 2) == b"hi"
        assert fault_proxy.drop_all() == 1
        with pytest.raises(ConnectionResetError):
            if not sock.recv(10):
                raise AssertionError("a FIN, not a reset")
