"""Stopping `bridge demo` is clean: SIGTERM or Ctrl-C (SIGINT) ends the webserver, the daemon,
the code server and the sandboxes within seconds, leaving no process behind."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from bridge_pipelines_tests.e2e.test_ui import free_port

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]
STOP_WITHIN_S = 15.0
pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_a_signal_stops_everything_within_seconds(tmp_path: Path, signum: int) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BRIDGE_", "DAGSTER_"))}
    port = free_port()
    demo = subprocess.Popen(
        [
            str(BIN / "bridge"),
            "demo",
            "--home",
            str(tmp_path / "demo"),
            "--port",
            str(port),
            "--sftp-port-base",
            "0",
            "--cadence",
            "3600",
        ],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # Ctrl-C reaches the whole group, as in a terminal
    )
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/server_info", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert demo.poll() is None, "the demo exited before its UI came up"
            time.sleep(1)
        else:
            pytest.fail("the demo's UI did not come up in 180 s")
        time.sleep(5)  # the daemon and the code server are up too
        family = [demo.pid, *(p.pid for p in psutil.Process(demo.pid).children(recursive=True))]
        assert len(family) >= 3, family  # dagster dev, webserver, daemon (code servers...)
        started = time.monotonic()
        if signum == signal.SIGINT:
            os.killpg(demo.pid, signal.SIGINT)
        else:
            demo.send_signal(signal.SIGTERM)
        demo.wait(timeout=STOP_WITHIN_S + 15)
        took = time.monotonic() - started
        time.sleep(1)
        left = [
            p for p in family if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"
        ]
        assert not left, [psutil.Process(p).cmdline() for p in left]
        assert took < STOP_WITHIN_S, took
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait()


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
