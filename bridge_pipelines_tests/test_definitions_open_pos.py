"""Open purchase orders in the definitions: an asset only where a tenant asks for it, and no
job or schedule per tenant: the one `erp_master_data` schedule requests them on each tenant's
own cron, in the tenant's zone, sharing a run with master data due at the same tick."""

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg

from bridge_pipelines.defs import build_defs
from bridge_pipelines.defs.masterdata import build_master_data_schedule
from bridge_pipelines.tenants.models import TenantConfig

HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
FAKE = "enc:v1:k1:QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"
CHICAGO = ZoneInfo("America/Chicago")


def tenant(
    tenant_id: str, erp: str, zone: str = "America/Chicago", **schedules: Any
) -> TenantConfig:
    erp_section = {"kind": erp}
    if erp != "none":
        erp_section |= {"base_url": "http://127.0.0.1:1", "company": "C", "username": "u",
                        "password": FAKE}  # fmt: skip
    return TenantConfig.model_validate(
        {
            "id": tenant_id,
            "name": tenant_id.title(),
            "timezone": zone,
            "sftp": {"host": "127.0.0.1", "username": "s", "host_key": HOST_KEY, "password": FAKE},
            "erp": erp_section,
            "schedules": schedules,
        }
    )


TENANTS = [
    tenant("acme", "syspro"),
    tenant("globex", "sap_b1", open_purchase_orders_cron="15 */2 * * *"),
    tenant("hooli", "sap_b1", zone="Asia/Tokyo", open_purchase_orders_cron="45 */2 * * *"),
    tenant("initech", "none"),
]


def po_key(tenant_id: str) -> dg.AssetKey:
    return dg.AssetKey([tenant_id, "erp", "open_purchase_orders"])


def test_only_tenants_that_ask_get_an_open_po_asset_and_no_job_is_added() -> None:
    defs = build_defs(TENANTS)
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    keys = {k for k in graph.get_all_asset_keys() if k.path[-1] == "open_purchase_orders"}
    assert keys == {po_key("globex"), po_key("hooli")}
    assert graph.get(po_key("globex")).group_name == "globex"
    assert [s.name for s in defs.schedules or []] == ["erp_master_data"]
    jobs = {j.name for j in defs.resolve_all_job_defs()}
    # None per tenant: the review jobs serve every tenant (the posting names its tenant).
    assert jobs == {
        "__ASSET_JOB",
        "__anonymous_asset_job_erp_master_data",
        "release_posting",
        "dismiss_posting",
    }, "none per tenant"


def requests_at(local: datetime) -> dict[str, tuple[str, set[dg.AssetKey]]]:
    """Tenant -> (run key, asset selection) of what the schedule asks for at `local`."""
    schedule = build_master_data_schedule(TENANTS)
    assert schedule is not None
    with dg.build_schedule_context(scheduled_execution_time=local) as context:
        data = schedule.evaluate_tick(context)
    return {
        r.tags["bridge/tenant"]: (r.run_key or "", set(r.asset_selection or []))
        for r in data.run_requests or []
    }


def test_open_pos_are_requested_when_the_tenants_own_cron_is_due_in_its_zone() -> None:
    # 14:15 in Chicago: globex's "15 */2" is due.
    at = requests_at(datetime(2026, 11, 20, 14, 15, tzinfo=CHICAGO))
    assert set(at) == {"globex"}
    run_key, selection = at["globex"]
    assert selection == {po_key("globex")}
    assert run_key == "globex-open-pos-2026-11-20T14:15:00-06:00"
    # 15:45 in Chicago is 06:45 in Tokyo: hooli's "45 */2" is due there, not globex's.
    at = requests_at(datetime(2026, 11, 20, 15, 45, tzinfo=CHICAGO))
    assert {t: sel for t, (_, sel) in at.items()} == {"hooli": {po_key("hooli")}}
    assert at["hooli"][0] == "hooli-open-pos-2026-11-21T06:45:00+09:00"


def test_nothing_for_open_pos_between_their_times() -> None:
    for hour, minute in ((15, 15), (14, 10), (14, 20), (14, 45)):
        at = requests_at(datetime(2026, 11, 20, hour, minute, tzinfo=CHICAGO))
        assert all(po_key(t) not in sel for t, (_, sel) in at.items()), (hour, minute)


def test_master_data_and_open_pos_due_together_share_one_run() -> None:
    # 16:00 Chicago: hourly master data for every ERP tenant; 07:00 Tokyo is not hooli's PO time.
    at = requests_at(datetime(2026, 11, 20, 16, 0, tzinfo=CHICAGO))
    assert set(at) == {"acme", "globex", "hooli"}  # initech has no ERP
    assert po_key("globex") not in at["globex"][1]
    crons = {"master_data_cron": "15 * * * *", "open_purchase_orders_cron": "15 */2 * * *"}
    both = build_master_data_schedule([tenant("globex", "sap_b1", **crons)])
    assert both is not None
    with dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 11, 20, 16, 15, tzinfo=CHICAGO)
    ) as context:
        (request,) = both.evaluate_tick(context).run_requests or []
    assert po_key("globex") in set(request.asset_selection or [])
    assert dg.AssetKey(["globex", "erp", "vendors"]) in set(request.asset_selection or [])
    assert request.run_key == (
        "globex-master-data-2026-11-20T16:15:00-06:00+globex-open-pos-2026-11-20T16:15:00-06:00"
    )


def test_a_time_on_the_window_boundary_is_requested_by_one_tick_only() -> None:
    due = datetime(2026, 11, 20, 14, 15, tzinfo=CHICAGO)
    later = datetime(2026, 11, 20, 14, 20, tzinfo=CHICAGO)
    assert "globex" in requests_at(due) and "globex" not in requests_at(later)
