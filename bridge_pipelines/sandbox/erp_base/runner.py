"""Run a sandbox on a loopback port in its own process; used by tests, the demo and benchmarks.

`start_sandbox("bridge_pipelines.sandbox.syspro.app:create_app", state_dir)` starts
`python -m bridge_pipelines.sandbox.erp_base.runner`, which binds the port itself (0 = a free
one), reports it on stdout and serves under uvicorn. The parent gets a `RunningSandbox` with the
base URL and an admin client; `restart()` keeps the state folder and the port.
"""

import argparse
import importlib
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import httpx

from bridge_pipelines.sandbox.erp_base.admin_client import SandboxAdmin

_READY = "LISTENING "
LOG_FILE = "server.log"


class RunningSandbox:
    """A sandbox process: its base URL, state folder and admin client."""

    def __init__(
        self, app_factory: str, state_dir: Path, *, port: int = 0, host: str = "127.0.0.1"
    ) -> None:
        self.app_factory = app_factory
        self.state_dir = state_dir
        self.host = host
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def admin(self) -> SandboxAdmin:
        return SandboxAdmin(self.base_url)

    def start(self, timeout: float = 20.0) -> "RunningSandbox":
        """Start the process and wait until `/_sandbox/health` answers."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        log = (self.state_dir / LOG_FILE).open("ab")
        command = [
            sys.executable,
            "-m",
            "bridge_pipelines.sandbox.erp_base.runner",
            "--app",
            self.app_factory,
            "--state-dir",
            str(self.state_dir),
            "--host",
            self.host,
            "--port",
            str(self.port),
        ]
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL
        )
        log.close()
        self.port = self._read_port(timeout)
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{self.base_url}/_sandbox/health", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()
                raise RuntimeError(f"sandbox did not start; see {self.state_dir / LOG_FILE}")
            time.sleep(0.05)

    def _read_port(self, timeout: float) -> int:
        assert self.process is not None and self.process.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(self.process.stdout, selectors.EVENT_READ)
        try:
            if not selector.select(timeout):
                self.stop()
                raise RuntimeError(f"sandbox did not report its port; see {LOG_FILE}")
        finally:
            selector.close()
        line = self.process.stdout.readline().decode()
        if not line.startswith(_READY):
            self.stop()
            raise RuntimeError(f"sandbox failed to start: {line!r}; see {LOG_FILE}")
        return int(line[len(_READY) :])

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate (SIGTERM, then SIGKILL) and wait."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        if self.process.stdout:
            self.process.stdout.close()
        self.process = None

    def kill(self) -> None:
        """SIGKILL: a crash, for tests that need one."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.stop()

    def restart(self) -> "RunningSandbox":
        """Stop and start again on the same port with the same state folder."""
        self.stop()
        return self.start()

    def __enter__(self) -> "RunningSandbox":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_sandbox(
    app_factory: str, state_dir: Path, *, port: int = 0, host: str = "127.0.0.1"
) -> RunningSandbox:
    """Start a sandbox process; `app_factory` is `module:function(state_dir) -> ASGI app`."""
    return RunningSandbox(app_factory, state_dir, port=port, host=host).start()


def _load_factory(spec: str) -> Callable[[Path], object]:
    module_name, _, attr = spec.partition(":")
    factory: Callable[[Path], object] = getattr(importlib.import_module(module_name), attr)
    return factory


def serve(app_factory: str, state_dir: Path, host: str, port: int) -> None:
    """Bind, report the port on stdout, then serve until SIGTERM."""
    import uvicorn

    from bridge_pipelines.sandbox.erp_base.transport import TrackingH11Protocol

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(256)
    app = _load_factory(app_factory)(state_dir)
    sys.stdout.write(f"{_READY}{sock.getsockname()[1]}\n")
    sys.stdout.flush()
    config = uvicorn.Config(
        app,  # type: ignore[arg-type]
        http=TrackingH11Protocol,
        lifespan="off",
        log_level="warning",
        access_log=False,
        timeout_keep_alive=30,
        timeout_graceful_shutdown=1,
    )
    uvicorn.Server(config).run(sockets=[sock])


def main(argv: list[str] | None = None) -> None:
    """Command line of the sandbox process (`python -m ...erp_base.runner`)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--app", required=True, help="module:factory(state_dir) -> ASGI app")
    parser.add_argument("--state-dir", required=True, type=Path)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    serve(args.app, args.state_dir, args.host, args.port)


if __name__ == "__main__":
    main()
