"""`bridge ping` and `bridge status` as an operator uses them, against the demo's SFTP servers."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from bridge_pipelines.cli import main
from bridge_pipelines.demo.environment import DEMO_TENANTS, DemoEnvironment, start_demo

pytestmark = pytest.mark.e2e


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DemoEnvironment]:
    for name in ("BRIDGE_HOME", "BRIDGE_TENANTS_DIR", "DAGSTER_HOME", "BRIDGE_LEDGER_URL"):
        monkeypatch.delenv(name, raising=False)
    environment = start_demo(
        tmp_path / "demo", ports=dict.fromkeys((t.id for t in DEMO_TENANTS), 0)
    )
    for key, value in environment.env().items():
        monkeypatch.setenv(key, value)
    try:
        yield environment
    finally:
        environment.stop()


def test_ping_verifies_host_key_logs_in_and_lists_folders(demo: DemoEnvironment) -> None:
    demo.tenants[0].simulator.write_invoices(2)
    result = CliRunner().invoke(main, ["ping", "acme"])
    assert result.exit_code == 0, result.output
    assert "host key verified" in result.output
    assert "/outbound/invoices: 1 files" in result.output
    # The key-authenticated tenant (encrypted private key) works the same way.
    result = CliRunner().invoke(main, ["ping", "globex"])
    assert result.exit_code == 0, result.output


def test_ping_refuses_a_changed_host_key_clearly(demo: DemoEnvironment) -> None:
    server = demo.tenants[0].server
    server.rotate_host_key()
    result = CliRunner().invoke(main, ["ping", "acme"])
    assert result.exit_code == 1
    assert "host key" in result.output.lower()
    assert "SHA256:" in result.output


def test_status_json_on_an_empty_ledger_and_unknown_tenant(demo: DemoEnvironment) -> None:
    result = CliRunner().invoke(main, ["status", "acme", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["files"] == []
    result = CliRunner().invoke(main, ["ping", "nobody"])
    assert result.exit_code != 0
    assert "no tenant 'nobody'" in result.output
