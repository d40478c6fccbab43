"""ERP master data per tenant: synced before postings, both ways (architecture.md F3, F4).

- `[tenant, erp, erp_vendors|erp_gl_accounts|erp_dimensions]`: read from the ERP, written to
  Stampli's `/inbound/` folder (one file per kind, uploaded atomically).
- `[tenant, mapping, tables]`: Stampli codes onto the ERP's, from that master data and the
  tenant's mapping file; its metadata lists what does not map.
- `[tenant, erp, erp_vendor_sync]`: Stampli vendor changes pushed into the ERP's supplier master.
- `[tenant, erp, erp_open_purchase_orders]`: the ERP's open PO lines as Stampli's inbound PO file,
  only for a tenant with `schedules.open_purchase_orders_cron`.

Each tenant has its own schedules, in its own zone (`<tenant>__erp_master_data`,
`<tenant>__erp_open_purchase_orders`), all targeting the one `erp_master_data` job.
"""

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import dagster as dg

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


def erp_key(tenant_id: str, name: str) -> dg.AssetKey:
    """`[tenant, erp, erp_<name>]`: what the tenant's ERP holds (`erp_vendors`, ...).

    The prefix is for the asset graph, which labels a node with the last part of its key:
    `erp_vendors` and `stampli_vendors` say which side they are.
    """
    return dg.AssetKey([tenant_id, "erp", f"erp_{name}"])


def mapping_key(tenant_id: str) -> dg.AssetKey:
    """`[tenant, mapping, tables]`."""
    return dg.AssetKey([tenant_id, "mapping", "mapping_tables"])


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


JOB_NAME = "erp_master_data"


def _tenant_schedule(
    tenant: TenantConfig,
    *,
    what: str,
    cron: str,
    keys: Sequence[dg.AssetKey],
    description: str,
) -> dg.ScheduleDefinition:
    selection = list(keys)

    @dg.schedule(
        name=f"{tenant.id}__erp_{what.replace('-', '_')}",
        cron_schedule=cron,
        execution_timezone=tenant.timezone,
        job_name=JOB_NAME,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=description,
    )
    def _schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        tick = context.scheduled_execution_time or datetime.now(tenant.zone)
        return dg.RunRequest(
            run_key=f"{tenant.id}-{what.replace('_', '-')}-{tick.isoformat()}",
            asset_selection=selection,
            tags={
                "bridge/tenant": tenant.id,
                "bridge/what": f"export ERP {what.replace('_', ' ')} to Stampli",
            },
        )

    return _schedule


def build_master_data_defs(tenants: Sequence[TenantConfig]) -> dg.Definitions:
    """Schedules per tenant with an ERP, in its own zone and with its own tick history.

    `<tenant>__erp_master_data` on `master_data_cron` (default hourly at the tenant's own
    minute: see `TenantConfig.master_data_cron`), and `<tenant>__erp_open_purchase_orders` on
    `schedules.open_purchase_orders_cron` where the tenant asks for open POs. They all target
    one job, `erp_master_data`, over every tenant's master data, each asking for its tenant's
    part (`asset_selection`): a job per tenant is resolved against the whole asset graph,
    which made loading quadratic in the number of tenants (`python -m bench.defs_load`).
    """
    keys = [k for t in tenants for k in (*master_data_keys(t), *open_purchase_orders_keys(t))]
    if not keys:
        return dg.Definitions()
    job = dg.define_asset_job(
        JOB_NAME,
        selection=dg.AssetSelection.assets(*keys),
        description="ERP master data (and open POs) to Stampli's inbound folder, and the "
        "mapping rebuilt. Each run is one tenant's (tag `bridge/tenant`), asked for by that "
        "tenant's `<tenant>__erp_master_data` or `<tenant>__erp_open_purchase_orders` schedule.",
    )
    schedules: list[dg.ScheduleDefinition] = []
    for tenant in tenants:
        master = master_data_keys(tenant)
        if master:
            schedules.append(
                _tenant_schedule(
                    tenant,
                    what="master_data",
                    cron=tenant.master_data_cron,
                    keys=master,
                    description=f"`{tenant.master_data_cron}` in {tenant.timezone}: "
                    f"{tenant.erp.kind}'s vendors, GL accounts and dimensions to Stampli's "
                    f"`{tenant.folders.inbound}` folder, and the mapping rebuilt "
                    "(`schedules.master_data_cron` in the tenant file).",
                )
            )
        pos = open_purchase_orders_keys(tenant)
        cron = tenant.schedules.open_purchase_orders_cron
        if pos and cron is not None:
            schedules.append(
                _tenant_schedule(
                    tenant,
                    what="open_purchase_orders",
                    cron=cron,
                    keys=pos,
                    description=f"`{cron}` in {tenant.timezone}: open purchase-order lines "
                    f"to Stampli's `{tenant.folders.inbound}` folder for PO matching "
                    "(`schedules.open_purchase_orders_cron` in the tenant file).",
                )
            )
    return dg.Definitions(jobs=[job], schedules=schedules)
