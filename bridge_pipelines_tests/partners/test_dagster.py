"""The partner assets in Dagster: per partner file, monthly, on the close calendar, with lineage."""

from datetime import UTC, datetime

import dagster as dg
import pytest

from bridge_pipelines.defs import build_defs
from bridge_pipelines.defs.partners import partner_run_requests
from bridge_pipelines.demo import partners as demo_partners
from bridge_pipelines.demo.partners import write_partners_file
from bridge_pipelines.partners.config import partners_path
from bridge_pipelines_tests.partners.conftest import PASSWORD, PartnerWorld

pytestmark = pytest.mark.e2e


def _write(world: PartnerWorld) -> None:
    document = demo_partners.partner_document(
        port=world.server.port,
        host_key=world.server.host_key_line,
        password=PASSWORD,
        encrypt=lambda field, plain: world.keyring.encrypt("acme", field, plain),
    )
    write_partners_file(partners_path("acme", world.tenants_dir), document)


def test_partner_files_are_monthly_assets_with_syspro_lineage(
    partner_world: PartnerWorld,
) -> None:
    _write(partner_world)
    defs = build_defs([partner_world.tenant])
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    key = dg.AssetKey(["acme", "partners", "parent_erp", "ap_invoices_x12_810"])
    assert graph.get(key).parent_keys == {dg.AssetKey(["acme", "syspro", "ap_invoices"])}
    partitions = graph.get(key).partitions_def
    assert isinstance(partitions, dg.MonthlyPartitionsDefinition)
    assert partitions.timezone == "America/Chicago"
    assert "partner_close_calendar" in {s.name for s in defs.schedules or []}


def test_the_close_calendar_asks_for_the_month_on_business_day_three(
    partner_world: PartnerWorld,
) -> None:
    partner = partner_world.partners().partners[0]
    tenant = partner_world.tenant
    # November 2026 ends on a Monday: business day 3 is Thursday 3 December, 06:00 Chicago.
    (due,) = partner_run_requests(tenant, partner, datetime(2026, 12, 3, 12, 15, tzinfo=UTC))
    assert due.partition_key == "2026-11-01"
    assert partner_run_requests(tenant, partner, datetime(2026, 12, 2, 12, 15, tzinfo=UTC)) == []
    early = datetime(2026, 12, 3, 11, 0, tzinfo=UTC)  # 05:00 in Chicago
    assert partner_run_requests(tenant, partner, early) == []


def test_materializing_a_month_delivers_it_with_metadata(
    partner_world: PartnerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(partner_world)
    monkeypatch.setenv("BRIDGE_LEDGER_URL", str(partner_world.ledger.url.render_as_string(False)))
    monkeypatch.setenv("BRIDGE_HOME", str(partner_world.tenants_dir.parent / "home"))
    defs = build_defs([partner_world.tenant])
    keys = [
        dg.AssetKey(["acme", "partners", "parent_erp", n])
        for n in ("gl_journal_fixed_width", "ap_invoices_x12_810", "purchase_orders_csv")
    ]
    job = defs.resolve_implicit_global_asset_job_def()
    with dg.DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(
            partition_key=f"{partner_world.period}-01", asset_selection=keys, instance=instance
        )
    assert result.success
    materialized = {
        m.asset_key: m.metadata
        for m in result.asset_materializations_for_node("acme__partner_parent_erp")
    }
    assert set(materialized) == set(keys)
    gl = materialized[keys[0]]
    assert gl["status"].value == "delivered" and gl["rows"].value == 800
    assert len(partner_world.received()) == 3
