"""Per-tenant ERP postings: the day's approved invoices posted exactly once into the ERP."""

from collections import Counter
from collections.abc import Iterator
from datetime import date
from typing import Any

import dagster as dg

from bridge_pipelines.defs.metadata import markdown_table
from bridge_pipelines.defs.resources import BridgeResource
from bridge_pipelines.ledger.models import PostingRow
from bridge_pipelines.posting.run import post_tenant_day, posting_target
from bridge_pipelines.tenants.models import TenantConfig

MAX_ROWS_SHOWN = 50


def posted_invoices_key(tenant_id: str) -> dg.AssetKey:
    """`[tenant, erp, posted_invoices]`, downstream of the tenant's Stampli invoices."""
    return dg.AssetKey([tenant_id, "erp", "posted_invoices"])


def build_posted_invoices_asset(
    tenant: TenantConfig, partitions_def: dg.PartitionsDefinition, upstream: list[dg.AssetKey]
) -> dg.AssetsDefinition:
    """Posting a partition maps, plans and posts every accepted invoice of the day.

    Re-running is always safe: the ledger's claims and a lookup in the ERP before any retry
    decide what is sent, so nothing is ever posted twice.
    """
    key = posted_invoices_key(tenant.id)

    @dg.asset(
        key=key,
        group_name=tenant.id,
        partitions_def=partitions_def,
        deps=upstream,
        kinds={tenant.erp.kind},
        tags={"bridge/tenant": tenant.id},
        description=(
            f"Approved invoices of **{tenant.name}** posted into {tenant.erp.kind} company "
            f"`{tenant.erp.company}`, exactly once. Unmapped vendors, GL accounts or cost "
            "centers are held for review (`bridge review list`), never posted to a guess. "
            "Re-running a partition is safe."
        ),
    )
    def _asset(
        context: dg.AssetExecutionContext, bridge: BridgeResource
    ) -> dg.MaterializeResult[None]:
        ctx = bridge.intake()
        day = date.fromisoformat(context.partition_key)
        report = post_tenant_day(ctx, tenant, day, owner=f"run-{context.run.run_id[:8]}")
        for problem in report.mapping_problems:
            context.log.warning("mapping: %s", problem)
        postings = ctx.ledger.postings(tenant.id, target=posting_target(tenant), day=day)
        if report.aborted:
            context.log.warning("posting stopped early: %s", report.aborted)
        return dg.MaterializeResult(metadata=_metadata(postings, report.aborted))

    return _asset


def _metadata(postings: list[PostingRow], aborted: str | None) -> dict[str, Any]:
    states = Counter(p.state.value for p in postings)
    rows = [
        {
            "external ref": p.external_ref,
            "state": p.state.value,
            "ERP document": p.erp_doc_id or "",
            "record": p.record_id,
            "reason": (p.reason or "")[:160],
        }
        for p in postings[:MAX_ROWS_SHOWN]
    ]
    return {
        "posted": dg.MetadataValue.int(states.get("posted", 0)),
        "needs_review": dg.MetadataValue.int(states.get("needs_review", 0)),
        "rejected": dg.MetadataValue.int(states.get("rejected", 0)),
        "open": dg.MetadataValue.int(
            sum(n for s, n in states.items() if s in ("planned", "sending", "unknown"))
        ),
        "stopped_early": dg.MetadataValue.text(aborted or "no"),
        "postings": dg.MetadataValue.md(markdown_table(rows)),
    }


def posted_invoices_assets(
    tenant: TenantConfig, partitions_def: dg.PartitionsDefinition, upstream: list[dg.AssetKey]
) -> Iterator[dg.AssetsDefinition]:
    """Nothing for a tenant without an ERP yet."""
    if tenant.erp.kind != "none":
        yield build_posted_invoices_asset(tenant, partitions_def, upstream)
