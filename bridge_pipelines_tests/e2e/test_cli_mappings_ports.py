"""Issue 16 for operators: mapping files under BRIDGE_HOME, a missing one said by `bridge
tenants check`; `make demo` / `make demo-once` on other ports."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bridge_pipelines.cli import main
from bridge_pipelines.settings import Settings

REPO = Path(__file__).resolve().parents[2]
BRIDGE = Path(sys.executable).parent / "bridge"

pytestmark = pytest.mark.e2e


def test_mapping_files_live_under_bridge_home_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BRIDGE_MAPPINGS_DIR", raising=False)
    monkeypatch.setenv("BRIDGE_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    assert Settings().resolved_mappings_dir == tmp_path / "home" / "mappings"
    assert Settings().mapping_file("acme") == tmp_path / "home" / "mappings" / "acme.yaml"
    monkeypatch.setenv("BRIDGE_MAPPINGS_DIR", str(tmp_path / "elsewhere"))
    assert Settings().resolved_mappings_dir == tmp_path / "elsewhere"


def test_tenants_check_says_when_a_tenant_with_an_erp_has_no_mapping_file(
    sealed_tenants: Path, mappings_dir: Path
) -> None:
    (mappings_dir / "globex.yaml").unlink()
    result = CliRunner().invoke(main, ["tenants", "check"], catch_exceptions=False)
    assert result.exit_code == 1, result.output
    [line] = result.stdout.splitlines()
    assert line.startswith(f"{sealed_tenants / 'globex.yaml'}: erp: mapping file ")
    assert f"{mappings_dir / 'globex.yaml'} not found" in line
    assert "held as unmapped" in line
    (mappings_dir / "globex.yaml").write_text("{}\n")  # an empty file: no overrides needed
    result = CliRunner().invoke(main, ["tenants", "check"], catch_exceptions=False)
    assert result.exit_code == 0, result.output


def _make_n(*args: str) -> str:
    result = subprocess.run(
        ["make", "-n", "-o", ".venv/.synced", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return result.stdout


def test_make_demo_takes_other_ports() -> None:
    assert "bridge demo --port 3000 --sftp-port-base 2222" in _make_n("demo")
    out = _make_n("demo", "UI_PORT=3105", "SFTP_PORT=2322")
    assert "bridge demo --port 3105 --sftp-port-base 2322" in out
    assert "bridge demo --once --sftp-port-base 0" in _make_n("demo-once", "SFTP_PORT=0")


def test_a_taken_demo_port_is_named_with_the_make_variable(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BRIDGE_", "DAGSTER_"))}
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        once = subprocess.run(
            [str(BRIDGE), "demo", "--once", "--home", str(tmp_path / "demo"),
             "--sftp-port-base", str(port)],
            capture_output=True, text=True, env=env, timeout=120, check=False,
        )  # fmt: skip
        assert once.returncode == 1, once.stdout + once.stderr
        assert f"port {port} for the demo's SFTP (acme) is taken" in once.stderr
        assert "SFTP_PORT=<port>" in once.stderr and "Traceback" not in once.stderr
        ui = subprocess.run(
            [str(BRIDGE), "demo", "--home", str(tmp_path / "demo"), "--port", str(port),
             "--sftp-port-base", "0"],
            capture_output=True, text=True, env=env, timeout=120, check=False,
        )  # fmt: skip
        assert ui.returncode == 1 and "UI_PORT=<port>" in ui.stderr, ui.stderr
