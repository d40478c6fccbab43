"""Per-tenant ERP payments: Stampli's payments recorded once against the posted invoices.

`[tenant, erp, posted_payments]` is downstream of the tenant's Stampli payments and of its
posted invoices, partitioned like them. A run judges every payment of the tenant (one waiting
for an invoice posted by this run moves on), then posts the ready ones exactly once; its
metadata shows the partition's payments from source rows to ERP payment, and each waiting
or held one with its reason.
"""

from collections import Counter
from collections.abc import Iterator
from datetime import date
from typing import Any

import dagster as dg

from bridge_pipelines.defs.assets import stampli_asset_key
from bridge_pipelines.defs.metadata import markdown_table
from bridge_pipelines.defs.postings import posted_invoices_key
from bridge_pipelines.defs.resources import BridgeResource
from bridge_pipelines.ledger.models import PostingRow
from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.ledger.states import PostingKind, PostingState
from bridge_pipelines.posting.payment_run import (
    RECONCILE_ONLY,
    PaymentsReport,
    post_tenant_payments,
)
from bridge_pipelines.posting.run import posting_target
from bridge_pipelines.tenants.models import TenantConfig

MAX_ROWS_SHOWN = 50


def posted_payments_key(tenant_id: str) -> dg.AssetKey:
    """`[tenant, erp, posted_payments]`."""
    return dg.AssetKey([tenant_id, "erp", "posted_payments"])


def build_posted_payments_asset(
    tenant: TenantConfig, partitions_def: dg.PartitionsDefinition
) -> dg.AssetsDefinition:
    """Recording a partition plans every payment of the tenant and posts the ready ones."""
    key = posted_payments_key(tenant.id)
    how = (
        "recorded exactly once as ERP payments applied to the posted invoices. A payment "
        "waits (with its reason) until every invoice it settles is posted; what the bridge "
        "will not decide (a reversal, another currency, an over-payment) is held for review "
        "(`bridge review list`). Where the ERP makes payments itself (its connector records "
        "none) nothing is sent: `bridge verify` compares them with Stampli's"
    )

    @dg.asset(
        key=key,
        group_name=tenant.id,
        partitions_def=partitions_def,
        deps=[stampli_asset_key(tenant.id, "payments"), posted_invoices_key(tenant.id)],
        kinds={tenant.erp.kind},
        retry_policy=dg.RetryPolicy(
            max_retries=2, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
        ),
        tags={"bridge/tenant": tenant.id},
        description=(
            f"Stampli payments of **{tenant.name}** in {tenant.erp.kind} company "
            f"`{tenant.erp.company}`: {how}. Re-running a partition is safe."
        ),
    )
    def _asset(
        context: dg.AssetExecutionContext, bridge: BridgeResource
    ) -> dg.MaterializeResult[None]:
        ctx = bridge.intake()
        day = date.fromisoformat(context.partition_key)
        report = post_tenant_payments(ctx, tenant, day, owner=f"run-{context.run.run_id[:8]}")
        postings = ctx.ledger.postings(
            tenant.id, target=posting_target(tenant), day=day, kind=PostingKind.PAYMENT
        )
        waiting = ctx.ledger.postings(
            tenant.id, kind=PostingKind.PAYMENT, states=[PostingState.WAITING]
        )
        metadata = payments_metadata(ctx.ledger, report, postings, waiting)
        if report.aborted:
            raise dg.Failure(
                description=f"payments stopped early: {report.aborted}", metadata=metadata
            )
        return dg.MaterializeResult(metadata=metadata)

    return _asset


def payments_metadata(
    ledger: Ledger,
    report: PaymentsReport,
    postings: list[PostingRow],
    waiting: list[PostingRow],
) -> dict[str, Any]:
    """Counts, each payment's lineage (rows -> payment -> ERP payment), and why any waits."""
    states = Counter(p.state.value for p in postings)
    rows = []
    for p in postings[:MAX_ROWS_SHOWN]:
        record = ledger.get_record(p.record_id)
        rows.append(
            {
                "source": f"{ledger.get_file(record.file_id).name} rows {list(record.rows)}",
                "payment": str(record.payload.get("payment_id")),
                "vendor": str(record.payload.get("vendor_id")),
                "external ref": p.external_ref,
                "state": p.state.value,
                "ERP payment": p.erp_doc_id or "",
                "reason": (p.reason or "")[:200],
            }
        )
    waits = [
        {
            "payment": str(ledger.get_record(p.record_id).payload.get("payment_id")),
            "posting": p.id,
            "waits for": (p.reason or "")[:300],
        }
        for p in waiting[:MAX_ROWS_SHOWN]
    ]
    return {
        "mode": dg.MetadataValue.text(
            "reconcile-only (the ERP makes payments)"
            if report.mode == RECONCILE_ONLY
            else report.mode
        ),
        "posted": dg.MetadataValue.int(states.get("posted", 0)),
        "waiting": dg.MetadataValue.int(states.get("waiting", 0)),
        "needs_review": dg.MetadataValue.int(states.get("needs_review", 0)),
        "rejected": dg.MetadataValue.int(states.get("rejected", 0)),
        "open": dg.MetadataValue.int(
            sum(n for s, n in states.items() if s in ("planned", "sending", "unknown"))
        ),
        "waiting_tenant_wide": dg.MetadataValue.int(len(waiting)),
        "stopped_early": dg.MetadataValue.text(report.aborted or "no"),
        "payments": dg.MetadataValue.md(markdown_table(rows) if rows else "_none this day_"),
        "waiting_payments": dg.MetadataValue.md(markdown_table(waits) if waits else "_none_"),
    }


def posted_payments_assets(
    tenant: TenantConfig, partitions_def: dg.PartitionsDefinition
) -> Iterator[dg.AssetsDefinition]:
    """Nothing for a tenant without an ERP."""
    if tenant.erp.kind != "none":
        yield build_posted_payments_asset(tenant, partitions_def)
