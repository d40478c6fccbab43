"""`bridge sandbox up`: both demo ERPs answer while it runs, and a plain `kill` stops them."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

BRIDGE = Path(sys.executable).parent / "bridge"

pytestmark = pytest.mark.e2e


def test_sandbox_up_serves_syspro_and_sap_b1_and_stops_them_on_sigterm(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BRIDGE_", "DAGSTER_"))}
    command = [str(BRIDGE), "sandbox", "up", "--home", str(tmp_path / "demo"),
               "--sftp-port-base", "0", "--cadence", "3600"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    lines: list[str] = []
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip())
            if line.startswith("tenant files:"):
                break
        output = "\n".join(lines)
        urls = dict(re.findall(r"^(\w+) sandbox for \w+: (http://[\d.:]+)/", output, re.M))
        assert {"syspro", "sap_b1", "infor_m3"} <= set(urls), output
        assert "/b1s/v1 " in output and "globex: sftp://" in output, output
        for url in urls.values():
            assert httpx.get(f"{url}/_sandbox/health", timeout=5).status_code == 200
        login = httpx.post(
            f"{urls['sap_b1']}/b1s/v1/Login",
            json={"CompanyDB": "SBODEMOUS", "UserName": "bridge", "Password": "Bridge#B1"},
            timeout=5,
        )
        assert login.status_code == 200 and login.cookies["B1SESSION"]

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        for url in urls.values():  # no orphaned sandbox process keeps answering
            with pytest.raises(httpx.TransportError):
                httpx.get(f"{url}/_sandbox/health", timeout=2)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
