"""`bridge verify` as an auditor runs it: against the demo's SFTP server, SYSPRO and ledger."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from bridge_pipelines.cli import main
from bridge_pipelines.demo.environment import DEMO_TENANTS, DemoEnvironment, start_demo
from bridge_pipelines.intake.process import process_pending
from bridge_pipelines.intake.runtime import Runtime
from bridge_pipelines.intake.scan import scan_tenant
from bridge_pipelines.posting.run import post_tenant_day
from bridge_pipelines.tenants.loader import find_tenant
from bridge_pipelines_tests.contract.syspro import payloads as syspro_xml
from bridge_pipelines_tests.support.erp_sandboxes import SysproSandboxHandle

pytestmark = pytest.mark.e2e

STRAY_REF = "BP00000000000000000Z"


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


def _take_and_post(demo: DemoEnvironment) -> None:
    """What one sensor-triggered run does for acme: take the files, post the day."""
    tenant = find_tenant("acme")
    ctx = Runtime.from_env()
    now = datetime.now(UTC)
    for later in (0.0, tenant.sftp.settle_seconds + 1):
        with ctx.sftp(tenant) as client:
            scan_tenant(tenant, client, ctx.ledger, now=now + timedelta(seconds=later))
    for day in {f.partition_day for f in ctx.ledger.pending_files(tenant.id, "invoices")}:
        process_pending(ctx, tenant, "invoices", day)
        post_tenant_day(ctx, tenant, day, owner="e2e")
    ctx.pool.close_all()
    ctx.ledger.dispose()


def verify(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["verify", *args])
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def test_verify_exit_codes_table_and_json(demo: DemoEnvironment) -> None:
    demo.tenants[0].simulator.write_invoices(3, lines=(1, 2))
    _take_and_post(demo)

    code, out = verify("acme")
    assert code == 0, out
    assert out.splitlines()[0] == "tenant acme (all days): OK"
    assert "OK           duplicates" in out

    code, out = verify("acme", "--json")
    assert code == 0, out
    report = json.loads(out)
    assert report["ok"] is True and report["tenant"] == "acme" and report["day"] is None
    assert report["counts"]["posted"] == report["counts"]["erp_documents"] == 3
    assert set(report["checks"]) == {
        "duplicates", "unknown_to_ledger", "lost", "files_not_terminal", "files_need_attention",
        "journal_imbalances", "payments_applied", "payments_unknown_to_ledger", "open_balances",
    }  # fmt: skip

    # Someone keys an invoice into SYSPRO with one of our references: an invariant fails.
    assert demo.erps.get("syspro") is not None
    syspro = SysproSandboxHandle(demo.erps.get("syspro"))
    with syspro.http:
        user_id = syspro.logon()
        syspro.post(user_id, syspro_xml.ap_invoice(invoice="MANUAL-1", reference=STRAY_REF))
    code, out = verify("acme")
    assert code == 1, out
    assert "FAIL         unknown_to_ledger        1" in out
    assert f"SUP00001/MANUAL-1 carries our reference {STRAY_REF}" in out
    code, out = verify("acme", "--day", "2001-01-01", "--json")
    assert code == 1 and json.loads(out)["checks"]["unknown_to_ledger"]["count"] == 1

    # --timeout bounds the ERP calls: SYSPRO answering in 3 s fails a verify given 1 s, in one
    # line (exit 2); the same verify without it waits for the answers and reports as before.
    syspro.admin.configure(latency_ms=3000)
    code, out = verify("acme", "--timeout", "1")
    assert code == 2, out
    (line,) = out.strip().splitlines()
    assert line.startswith("bridge verify acme: could not verify:"), line
    code, out = verify("acme")
    assert code == 1 and "FAIL         unknown_to_ledger        1" in out, out
    syspro.admin.configure(latency_ms=0)

    # Could not run at all: 2, with a message and no traceback.
    code, out = verify("nobody")
    assert code == 2 and "no tenant 'nobody'" in out
    code, out = verify("acme", "--day", "yesterday")
    assert code == 2 and "yesterday" in out
    syspro.admin.arm_fault("auth_fail", path="*", count=100)
    code, out = verify("acme")
    assert code == 2 and "could not verify" in out
