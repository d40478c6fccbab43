"""Per-tenant ERP postings: the day's approved invoices posted exactly once into the ERP."""

from collections import Counter
from collections.abc import Iterator
from datetime import date
from typing import Any

import dagster as dg

from bridge_pipelines.defs.failures import config_errors_not_retried
from bridge_pipelines.defs.metadata import markdown_table
from bridge_pipelines.defs.resources import BridgeResource
from bridge_pipelines.defs.review_check import needs_review_result, needs_review_spec
from bridge_pipelines.ledger.models import PostingRow
from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.posting.run import post_tenant_day, posting_target
from bridge_pipelines.stampli.naming import record_name
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
        # Safe to retry: the ledger's claims and lookups decide what is sent, not this run.
        retry_policy=dg.RetryPolicy(
            max_retries=2, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
        ),
        tags={"bridge/tenant": tenant.id},
        check_specs=[needs_review_spec(key)],
        description=(
            f"Approved invoices of **{tenant.name}** posted into {tenant.erp.kind} company "
            f"`{tenant.erp.company}`, exactly once. Unmapped vendors, GL accounts or cost "
            "centers are held for review (`bridge review list`), never posted to a guess. "
            "Re-running a partition is safe."
        ),
    )
    def _asset(
        context: dg.AssetExecutionContext, bridge: BridgeResource
    ) -> Iterator[dg.MaterializeResult[None]]:
        ctx = bridge.intake()
        day = date.fromisoformat(context.partition_key)
        with config_errors_not_retried(tenant.id):
            report = post_tenant_day(ctx, tenant, day, owner=f"run-{context.run.run_id[:8]}")
        for problem in report.mapping_problems:
            context.log.warning("mapping: %s", problem)
        postings = ctx.ledger.postings(tenant.id, target=posting_target(tenant), day=day)
        metadata = _metadata(ctx.ledger, postings, report.aborted)
        if report.aborted:
            # The ERP is down or refuses us for now: fail the partition so it shows, with
            # nothing lost; the postings stay open and the next run (or a re-run) resumes them.
            raise dg.Failure(
                description=f"posting stopped early: {report.aborted}", metadata=metadata
            )
        yield dg.MaterializeResult(
            metadata=metadata, check_results=[needs_review_result(ctx, key, tenant.id, day)]
        )

    return _asset


def _metadata(ledger: Ledger, postings: list[PostingRow], aborted: str | None) -> dict[str, Any]:
    """Counts, and each posting's lineage: source file and rows -> record -> ERP document."""
    states = Counter(p.state.value for p in postings)
    rows = []
    for p in postings[:MAX_ROWS_SHOWN]:
        record = ledger.get_record(p.record_id)
        rows.append(
            {
                "source": f"{ledger.get_file(record.file_id).name} rows {list(record.rows)}",
                "invoice": record_name(record),
                "external ref": p.external_ref,
                "state": p.state.value,
                "ERP document": p.erp_doc_id or "",
                "reason": p.reason or "",
            }
        )
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
