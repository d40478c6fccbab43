"""`bridge demo --once` through the real CLI: files land, get taken, every one accounted for."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BRIDGE = Path(sys.executable).parent / "bridge"
TERMINAL = {"parsed", "quarantined", "duplicate", "vanished"}

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def run_bridge(
    *args: str, env: dict[str, str], timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BRIDGE), *args], capture_output=True, text=True, env=env, timeout=timeout, check=False
    )


def test_demo_once_takes_every_file_and_reports(tmp_path: Path) -> None:
    home = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BRIDGE_", "DAGSTER_"))}
    result = run_bridge("demo", "--once", "--home", str(home), "--sftp-port-base", "0", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "tenant acme: OK" in result.stdout
    assert "tenant globex: OK" in result.stdout
    assert "demo cycle OK" in result.stdout

    env.update(
        BRIDGE_HOME=str(home),
        BRIDGE_TENANTS_DIR=str(home / "tenants"),
        DAGSTER_HOME=str(home / "dagster_home"),
    )
    for tenant in ("acme", "globex"):
        status = run_bridge("status", tenant, "--json", env=env)
        assert status.returncode == 0, status.stderr
        report = json.loads(status.stdout)
        states = {f["name"]: f["state"] for f in report["files"]}
        assert states, "the simulator's files were not seen"
        assert set(states.values()) <= TERMINAL, states
        assert "duplicate" in states.values(), "the redelivered file was not recognised"
        for f in report["files"]:
            if f["state"] != "parsed":
                assert f["reason"], f"{f['name']} is {f['state']} without a reason"
        assert report["records"].get("accepted", 0) > 0
        # The simulator's deliberately bad invoice is refused, located, and others still flow.
        assert any(e["row"] and e["field"] for e in report["row_errors"]), report["row_errors"]

    # No secret reached the output.
    creds = (home / "credentials" / "acme.yaml").read_text()
    password = next(
        line.split(":", 1)[1].strip() for line in creds.splitlines() if line.startswith("password")
    )
    assert password not in result.stdout + result.stderr
