"""Per-tenant Stampli assets: one per export kind.

Transactional exports (invoices, payments) are partitioned by tenant-day; master data (vendors,
GL accounts) is not: a run takes whatever is pending.
"""

from collections.abc import Iterator
from datetime import date

import dagster as dg

from bridge_pipelines.defs.checks import check_results, check_specs
from bridge_pipelines.defs.metadata import materialization_metadata
from bridge_pipelines.defs.resources import BridgeResource
from bridge_pipelines.intake.process import KindReport, process_pending
from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.stampli.salvage import archived_names
from bridge_pipelines.tenants.models import FileKind, TenantConfig

DESCRIPTIONS: dict[FileKind, str] = {
    "invoices": "Approved invoices exported by Stampli (CSV or XML), parsed and validated.",
    "payments": "Payments made in Stampli, parsed and validated.",
    "vendors": "Vendor master changes exported by Stampli.",
    "gl_accounts": "GL accounts known to Stampli.",
}


def stampli_asset_key(tenant_id: str, kind: FileKind) -> dg.AssetKey:
    """`[tenant, stampli, stampli_<kind>]`: each tenant's graph stands on its own in the UI.

    The asset graph labels a node with the last part of its key, so the name says the side:
    `stampli_vendors` next to `erp_vendors`, never two nodes both called `vendors`.
    """
    return dg.AssetKey([tenant_id, "stampli", f"stampli_{kind}"])


def build_stampli_asset(
    tenant: TenantConfig, kind: FileKind, partitions_def: dg.PartitionsDefinition | None
) -> dg.AssetsDefinition:
    """Materializing downloads, archives, parses and records whatever is pending for it.

    Re-materializing a partition is always safe: the ledger skips what is already done.
    """
    key = stampli_asset_key(tenant.id, kind)
    folder = tenant.folders.for_kind(kind)

    @dg.asset(
        key=key,
        group_name=tenant.id,
        partitions_def=partitions_def,
        check_specs=check_specs(key),
        kinds={"sftp", "polars"},
        description=(
            f"{DESCRIPTIONS[kind]}\n\nTenant **{tenant.name}**, folder `{folder}` on "
            f"`{tenant.sftp.host}:{tenant.sftp.port}`. A run takes every pending file"
            + (" of the partition's day" if partitions_def else "")
            + "; re-running is safe (the ledger decides what is done)."
        ),
        tags={"bridge/tenant": tenant.id},
    )
    def _asset(
        context: dg.AssetExecutionContext, bridge: BridgeResource
    ) -> Iterator[dg.MaterializeResult[None]]:
        ctx = bridge.intake()
        day = date.fromisoformat(context.partition_key) if partitions_def else None
        report = process_pending(ctx, tenant, kind, day)
        records = ctx.ledger.records(tenant.id, kind=kind, partition_day=day)
        for outcome in report.files:
            context.log.info(
                "%s: %s%s",
                outcome.name,
                outcome.state,
                f" ({outcome.reason})" if outcome.reason else "",
            )
        names = _row_error_names(ctx.ledger, report)
        yield dg.MaterializeResult(
            metadata=materialization_metadata(report, records, names),
            check_results=check_results(key, report, names),
        )

    return _asset


def _row_error_names(ledger: Ledger, report: KindReport) -> dict[tuple[str, str], str]:
    """(file name, document label) -> the invoice's name, read from the files' raw copies."""
    if report.kind != "invoices" or not report.row_errors:
        return {}
    names: dict[tuple[str, str], str] = {}
    for outcome in report.files:
        if outcome.rows_rejected:
            archived = ledger.get_file(outcome.file_id).archive_path
            for document, name in archived_names(archived).items():
                names[(outcome.name, document)] = name
    return names
