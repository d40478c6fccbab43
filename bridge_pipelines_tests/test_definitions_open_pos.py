"""ERP master-data schedules in the definitions: each tenant has its own, in its own zone and
with its own tick history (`<tenant>__erp_master_data`, and `<tenant>__erp_open_purchase_orders`
where it asks for open POs), all sharing one `erp_master_data` job so no job per tenant is added.
Open POs are an asset only where a tenant asks for them."""

import zlib
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg

from bridge_pipelines.defs import build_defs, masterdata
from bridge_pipelines.tenants.models import TenantConfig

HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
FAKE = "enc:v1:k1:QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"
CHICAGO = ZoneInfo("America/Chicago")
TOKYO = ZoneInfo("Asia/Tokyo")


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
    tenant(
        "hooli",
        "sap_b1",
        zone="Asia/Tokyo",
        master_data_cron="5 6 * * 1-5",
        open_purchase_orders_cron="45 */2 * * *",
    ),
    tenant("initech", "none"),
]


def po_key(tenant_id: str) -> dg.AssetKey:
    return dg.AssetKey([tenant_id, "erp", "erp_open_purchase_orders"])


def master_keys(tenant_id: str) -> set[dg.AssetKey]:
    kinds = ("erp_vendors", "erp_gl_accounts", "erp_dimensions")
    return {dg.AssetKey([tenant_id, "erp", k]) for k in kinds} | {
        dg.AssetKey([tenant_id, "mapping", "mapping_tables"])
    }


def test_only_tenants_that_ask_get_an_open_po_asset_and_no_job_per_tenant() -> None:
    defs = build_defs(TENANTS)
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    keys = {k for k in graph.get_all_asset_keys() if k.path[-1] == "erp_open_purchase_orders"}
    assert keys == {po_key("globex"), po_key("hooli")}
    assert graph.get(po_key("globex")).group_name == "globex"
    jobs = {j.name for j in defs.resolve_all_job_defs()}
    # None per tenant: the schedules share one job, the review jobs serve every tenant.
    assert jobs == {"__ASSET_JOB", "erp_master_data", "release_posting", "dismiss_posting"}


def test_each_tenant_with_an_erp_has_its_own_schedules_in_its_own_zone() -> None:
    defs = build_defs(TENANTS)
    schedules = {
        s.name: (s.cron_schedule, s.execution_timezone, s.job_name) for s in defs.schedules or []
    }
    acme_minute = zlib.crc32(b"acme") % 60
    globex_minute = zlib.crc32(b"globex") % 60
    assert schedules == {
        "acme__erp_master_data": (f"{acme_minute} * * * *", "America/Chicago", "erp_master_data"),
        "globex__erp_master_data": (
            f"{globex_minute} * * * *",
            "America/Chicago",
            "erp_master_data",
        ),
        "globex__erp_open_purchase_orders": ("15 */2 * * *", "America/Chicago", "erp_master_data"),
        "hooli__erp_master_data": ("5 6 * * 1-5", "Asia/Tokyo", "erp_master_data"),
        "hooli__erp_open_purchase_orders": ("45 */2 * * *", "Asia/Tokyo", "erp_master_data"),
    }, "initech has no ERP, so no schedule"


def request(schedule_name: str, local: datetime) -> dg.RunRequest:
    schedule = build_defs(TENANTS).resolve_schedule_def(schedule_name)
    with dg.build_schedule_context(scheduled_execution_time=local) as context:
        (run_request,) = schedule.evaluate_tick(context).run_requests or []
    return run_request


def test_a_tick_asks_for_its_tenants_assets_only() -> None:
    run = request("hooli__erp_master_data", datetime(2026, 11, 20, 6, 5, tzinfo=TOKYO))
    assert set(run.asset_selection or []) == master_keys("hooli")
    assert run.run_key == "hooli-master-data-2026-11-20T06:05:00+09:00"
    assert run.tags["bridge/tenant"] == "hooli"
    run = request(
        "globex__erp_open_purchase_orders", datetime(2026, 11, 20, 14, 15, tzinfo=CHICAGO)
    )
    assert set(run.asset_selection or []) == {po_key("globex")}
    assert run.run_key == "globex-open-purchase-orders-2026-11-20T14:15:00-06:00"
    assert run.tags["bridge/what"] == "export ERP open purchase orders to Stampli"


def test_default_master_data_minute_is_staggered_per_tenant_and_stable() -> None:
    ids = [f"tenant_{n:04d}" for n in range(600)]
    minutes = Counter(tenant(i, "syspro").master_data_cron.split()[0] for i in ids)
    assert len(minutes) == 60, "every minute of the hour is used"
    assert max(minutes.values()) <= 20, "no minute carries much more than its share (10)"
    # The same id gets the same minute on every load (no per-process hash seed).
    assert tenant("acme", "syspro").master_data_cron == tenant("acme", "sap_b1").master_data_cron
    explicit = tenant("acme", "syspro", master_data_cron="0 * * * *")
    assert explicit.master_data_cron == "0 * * * *"


def test_no_private_dagster_api() -> None:
    assert "dagster._" not in Path(masterdata.__file__).read_text()
