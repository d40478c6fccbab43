"""The demo's Infor tenant as a new user meets it: posted, one held, `bridge verify` clean."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from bridge_pipelines.cli import main
from bridge_pipelines.demo.environment import UNMAPPED_VENDOR, DemoEnvironment, start_demo
from bridge_pipelines.intake.process import process_pending
from bridge_pipelines.intake.runtime import Runtime
from bridge_pipelines.intake.scan import scan_tenant
from bridge_pipelines.ledger.states import PostingState
from bridge_pipelines.posting.run import post_tenant_day
from bridge_pipelines.tenants.loader import find_tenant

pytestmark = pytest.mark.e2e

TENANT = "initech"


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DemoEnvironment]:
    for name in ("BRIDGE_HOME", "BRIDGE_TENANTS_DIR", "DAGSTER_HOME", "BRIDGE_LEDGER_URL"):
        monkeypatch.delenv(name, raising=False)
    environment = start_demo(tmp_path / "demo", ports={})
    for key, value in environment.env().items():
        monkeypatch.setenv(key, value)
    try:
        yield environment
    finally:
        environment.stop()


def test_the_infor_tenant_posts_holds_the_unmapped_one_and_verifies_clean(
    demo: DemoEnvironment,
) -> None:
    [initech] = [t for t in demo.tenants if t.spec.id == TENANT]
    assert initech.spec.erp == "infor_m3"
    initech.simulator.write_vendors()
    initech.simulator.write_invoices(3, lines=(1, 2))
    initech.simulator.write_invoices(1, vendor_id=UNMAPPED_VENDOR)
    tenant = find_tenant(TENANT)
    ctx = Runtime.from_env()
    now = datetime.now(UTC)
    for later in (0.0, tenant.sftp.settle_seconds + 1):
        with ctx.sftp(tenant) as client:
            scan_tenant(tenant, client, ctx.ledger, now=now + timedelta(seconds=later))
    process_pending(ctx, tenant, "vendors", None)
    for day in {f.partition_day for f in ctx.ledger.pending_files(tenant.id, "invoices")}:
        process_pending(ctx, tenant, "invoices", day)
        post_tenant_day(ctx, tenant, day, owner="e2e")
    states = [p.state for p in ctx.ledger.postings(TENANT)]
    ctx.pool.close_all()
    ctx.ledger.dispose()
    assert states.count(PostingState.POSTED) == 3
    assert states.count(PostingState.NEEDS_REVIEW) == 1

    batches = [d for d in demo.erps["infor_m3"].admin.documents() if d["type"] == "invoice_batch"]
    assert len(batches) == 3 and {b["SUPA"] for b in batches} == {"90"}

    result = CliRunner().invoke(main, ["verify", TENANT, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["counts"]["posted"] == report["counts"]["erp_documents"] == 3
