"""ERP master data per tenant: synced before postings, both ways (architecture.md F3, F4).

- `[tenant, erp, vendors|gl_accounts|dimensions]`: read from the ERP, written to Stampli's
  `/inbound/` folder (one file per kind, uploaded atomically).
- `[tenant, mapping, tables]`: Stampli codes onto the ERP's, from that master data and the
  tenant's mapping file; its metadata lists what does not map.
- `[tenant, erp, vendor_sync]`: Stampli vendor changes pushed into the ERP's supplier master.
- `[tenant, erp, open_purchase_orders]`: the ERP's open PO lines as Stampli's inbound PO file,
  only for a tenant with `schedules.open_purchase_orders_cron`.

One schedule (`erp_master_data`) serves every tenant: each tick it requests, per tenant, the
master data and/or the open POs whose own cron is due, in one run.
"""

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import dagster as dg
from dagster._utils.schedules import cron_string_iterator

from bridge_pipelines.defs.assets import stampli_asset_key
from bridge_pipelines.defs.metadata import markdown_table
from bridge_pipelines.defs.resources import BridgeResource
from bridge_pipelines.ledger.states import RecordState
from bridge_pipelines.masterdata.inbound import InboundKind
from bridge_pipelines.masterdata.sync import (
    export_erp_master_data,
    export_open_purchase_orders,
    sync_stampli_vendors,
)
from bridge_pipelines.posting.run import load_mapping
from bridge_pipelines.tenants.erp import build_adapter
from bridge_pipelines.tenants.models import TenantConfig

MASTER_KINDS: tuple[InboundKind, ...] = ("vendors", "gl_accounts", "dimensions")
OPEN_POS = "open_purchase_orders"
SCHEDULE_CRON = "*/5 * * * *"
SCHEDULE_WINDOW_S = 5 * 60


def erp_key(tenant_id: str, name: str) -> dg.AssetKey:
    """`[tenant, erp, name]`: what the tenant's ERP holds."""
    return dg.AssetKey([tenant_id, "erp", name])


def mapping_key(tenant_id: str) -> dg.AssetKey:
    """`[tenant, mapping, tables]`."""
    return dg.AssetKey([tenant_id, "mapping", "tables"])


def build_master_data_assets(tenant: TenantConfig) -> list[dg.AssetsDefinition]:
    """The tenant's ERP master data, mapping, vendor sync and, if asked for, open POs.

    None without an ERP.
    """
    if tenant.erp.kind == "none":
        return []
    assets = [_erp_master_data(tenant), _mapping(tenant), _vendor_sync(tenant)]
    if tenant.schedules.open_purchase_orders_cron is not None:
        assets.append(_open_purchase_orders(tenant))
    return assets


def _erp_master_data(tenant: TenantConfig) -> dg.AssetsDefinition:
    @dg.multi_asset(
        name=f"{tenant.id}__erp_master_data",
        specs=[
            dg.AssetSpec(
                erp_key(tenant.id, kind),
                group_name=tenant.id,
                kinds={tenant.erp.kind},
                tags={"bridge/tenant": tenant.id},
                description=(
                    f"{kind.replace('_', ' ').title()} as {tenant.erp.kind} holds them, "
                    f"exported to Stampli's `{tenant.folders.inbound}` folder."
                ),
            )
            for kind in MASTER_KINDS
        ],
    )
    def _assets(bridge: BridgeResource) -> Iterator[dg.MaterializeResult[None]]:
        ctx = bridge.intake()
        with build_adapter(tenant, keyring=ctx.keyring) as erp:
            report = export_erp_master_data(ctx, tenant, erp, now=datetime.now(UTC))
        for kind in MASTER_KINDS:
            files = [f.name for f in report.files if f.kind == kind]
            yield dg.MaterializeResult(
                asset_key=erp_key(tenant.id, kind),
                metadata={
                    "dagster/row_count": dg.MetadataValue.int(report.count(kind)),
                    "inbound_files": dg.MetadataValue.json(files),
                },
            )

    return _assets


def _mapping(tenant: TenantConfig) -> dg.AssetsDefinition:
    @dg.asset(
        key=mapping_key(tenant.id),
        group_name=tenant.id,
        deps=[
            *(erp_key(tenant.id, kind) for kind in MASTER_KINDS),
            stampli_asset_key(tenant.id, "vendors"),
            stampli_asset_key(tenant.id, "gl_accounts"),
        ],
        tags={"bridge/tenant": tenant.id},
        description=(
            "Stampli vendors, GL accounts and cost centers mapped onto the ERP's codes: the "
            "tenant's mapping file, Stampli's ErpVendorCode, or the same code. Postings re-read "
            "it live; this shows what maps and what would be held."
        ),
    )
    def _asset(bridge: BridgeResource) -> dg.MaterializeResult[None]:
        ctx = bridge.intake()
        invoices = ctx.ledger.records(tenant.id, kind="invoices", states=[RecordState.ACCEPTED])
        with build_adapter(tenant, keyring=ctx.keyring) as erp:
            tables = load_mapping(ctx, tenant, erp, invoices)
        rows: list[dict[str, Any]] = [
            {"kind": kind, "stampli": e.stampli, "erp": e.erp, "from": e.origin}
            for kind in ("vendors", "gl_accounts", "cost_centers")
            for e in getattr(tables, kind).values()
        ]
        return dg.MaterializeResult(
            metadata={
                "mapped": dg.MetadataValue.int(len(rows)),
                "problems": dg.MetadataValue.json(list(tables.problems)),
                "table": dg.MetadataValue.md(markdown_table(rows[:200])),
            }
        )

    return _asset


def _vendor_sync(tenant: TenantConfig) -> dg.AssetsDefinition:
    @dg.asset(
        key=erp_key(tenant.id, "vendor_sync"),
        group_name=tenant.id,
        deps=[stampli_asset_key(tenant.id, "vendors")],
        kinds={tenant.erp.kind},
        tags={"bridge/tenant": tenant.id},
        description=(
            "Stampli vendor changes pushed into the ERP's supplier master (create or update). "
            "A vendor without an ERP code is reported, never given an invented one."
        ),
    )
    def _asset(bridge: BridgeResource) -> dg.MaterializeResult[None]:
        ctx = bridge.intake()
        with build_adapter(tenant, keyring=ctx.keyring) as erp:
            report = sync_stampli_vendors(ctx, tenant, erp)
        return dg.MaterializeResult(
            metadata={
                "created": dg.MetadataValue.int(report.created),
                "updated": dg.MetadataValue.int(report.updated),
                "needs_erp_code": dg.MetadataValue.json(
                    [o.vendor_id for o in report.needs_erp_code]
                ),
                "failed": dg.MetadataValue.json(
                    [f"{o.vendor_id}: {o.detail}" for o in report.failed]
                ),
            }
        )

    return _asset


def _open_purchase_orders(tenant: TenantConfig) -> dg.AssetsDefinition:
    @dg.asset(
        key=erp_key(tenant.id, OPEN_POS),
        group_name=tenant.id,
        deps=[stampli_asset_key(tenant.id, "vendors")],
        kinds={tenant.erp.kind},
        tags={"bridge/tenant": tenant.id},
        description=(
            f"Open purchase-order lines as {tenant.erp.kind} holds them, sent to Stampli's "
            f"`{tenant.folders.inbound}` folder for PO matching "
            f"(`{tenant.schedules.open_purchase_orders_cron}`, {tenant.timezone}). An ERP "
            "without purchase orders fails the run: the setting should go."
        ),
    )
    def _asset(bridge: BridgeResource) -> dg.MaterializeResult[None]:
        ctx = bridge.intake()
        with build_adapter(tenant, keyring=ctx.keyring) as erp:
            report = export_open_purchase_orders(ctx, tenant, erp, now=datetime.now(UTC))
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": dg.MetadataValue.int(report.lines),
                "purchase_orders": dg.MetadataValue.int(report.purchase_orders),
                "file_name": dg.MetadataValue.text(report.file.name),
                "folder": dg.MetadataValue.path(report.folder),
                # Decimal text: a JSON float would round money.
                "open_amount": dg.MetadataValue.json(
                    {c: str(a) for c, a in report.open_amount.items()}
                ),
                "line_amount": dg.MetadataValue.json(
                    {c: str(a) for c, a in report.line_amount.items()}
                ),
            }
        )

    return _asset


def master_data_keys(tenant: TenantConfig) -> list[dg.AssetKey]:
    """What the master-data schedule refreshes for a tenant."""
    if tenant.erp.kind == "none":
        return []
    return [*(erp_key(tenant.id, k) for k in MASTER_KINDS), mapping_key(tenant.id)]


def open_purchase_orders_keys(tenant: TenantConfig) -> list[dg.AssetKey]:
    """The tenant's open-PO asset, when it has one."""
    if tenant.erp.kind == "none" or tenant.schedules.open_purchase_orders_cron is None:
        return []
    return [erp_key(tenant.id, OPEN_POS)]


def _due(cron: str, zone: str, tick: datetime) -> datetime | None:
    """The cron's time within the window (tick - 5 min, tick], if any.

    Half-open, so a cron time on the boundary is due at one tick only, and a shared run key
    (master data + POs) never repeats an export that already ran.
    """
    due = next(cron_string_iterator(tick.timestamp() - SCHEDULE_WINDOW_S + 1, cron, zone))
    return due if due.timestamp() <= tick.timestamp() else None


def tenant_run_request(tenant: TenantConfig, tick: datetime) -> dg.RunRequest | None:
    """One run for whatever of the tenant's ERP exports is due at `tick`, or None.

    Master data and open POs due at the same tick share a run: the tenant gets one run at a
    time, and a second one would only queue behind the first.
    """
    keys: list[dg.AssetKey] = []
    run_keys: list[str] = []
    master = master_data_keys(tenant)
    due = _due(tenant.schedules.master_data_cron, tenant.timezone, tick) if master else None
    if due is not None:
        keys += master
        run_keys.append(f"{tenant.id}-master-data-{due.isoformat()}")
    pos = open_purchase_orders_keys(tenant)
    cron = tenant.schedules.open_purchase_orders_cron
    due = _due(cron, tenant.timezone, tick) if pos and cron else None
    if due is not None:
        keys += pos
        run_keys.append(f"{tenant.id}-open-pos-{due.isoformat()}")
    if not keys:
        return None
    what = " and ".join(
        ("master data", "open POs")[k.startswith(f"{tenant.id}-open-pos")] for k in run_keys
    )
    return dg.RunRequest(
        run_key="+".join(run_keys),
        asset_selection=keys,
        tags={"bridge/tenant": tenant.id, "bridge/what": f"export ERP {what} to Stampli"},
    )


def build_master_data_schedule(tenants: Sequence[TenantConfig]) -> dg.ScheduleDefinition | None:
    """One schedule for every tenant, each on its own crons in its own zone.

    A schedule per tenant would mean a job per tenant, and Dagster resolves every job against
    the whole asset graph: loading grows with the square of the tenant count.
    """
    targets = [t for t in tenants if master_data_keys(t) or open_purchase_orders_keys(t)]
    if not targets:
        return None
    selection = [k for t in targets for k in (*master_data_keys(t), *open_purchase_orders_keys(t))]

    @dg.schedule(
        name="erp_master_data",
        cron_schedule=SCHEDULE_CRON,
        target=dg.AssetSelection.assets(*selection),
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Every 5 minutes, each tenant whose `schedules.master_data_cron` is due "
        "gets its ERP master data exported to Stampli and its mapping rebuilt, and each "
        "tenant whose `schedules.open_purchase_orders_cron` is due gets its open POs sent.",
    )
    def _schedule(context: dg.ScheduleEvaluationContext) -> Iterator[dg.RunRequest]:
        tick = context.scheduled_execution_time or datetime.now(UTC)
        for tenant in targets:
            request = tenant_run_request(tenant, tick)
            if request is not None:
                yield request

    return _schedule
