"""The review queue in Dagster: what waits for a person, and releasing or dismissing it.

- `needs_review` (WARN) on each tenant's `[tenant, erp, posted_invoices]`, per partition: how
  many of the day's postings wait (held for review or rejected by the ERP), since when, each
  with its reason in full and what to do. A held invoice is never green.
- `[tenant, review, queue]`: every waiting posting across all days, as a table a person reads
  (vendor, invoice number, amount, reason, since when, what to do); refreshed by the tenant's
  `<tenant>_review_queue` sensor whenever the queue changes.
- Jobs `release_posting` and `dismiss_posting`, launched from the UI with run config
  (`posting_id`, `reason`): the same code path and audit events as `bridge review resolve
  --as planned` and `bridge review dismiss`, the Dagster user as actor. A release then posts
  the posting's day at once (what `bridge replay --partition` does), so a fixed invoice is
  posted once, with no shell.
"""

import hashlib
from collections.abc import Iterator, Sequence
from typing import Any

import dagster as dg

from bridge_pipelines.defs.failures import config_errors_not_retried
from bridge_pipelines.defs.metadata import markdown_table
from bridge_pipelines.defs.postings import posted_invoices_key
from bridge_pipelines.defs.resources import BridgeResource
from bridge_pipelines.defs.review_check import MAX_ROWS_SHOWN, readable, waiting_summary
from bridge_pipelines.intake.runtime import Runtime
from bridge_pipelines.ledger.states import PostingState
from bridge_pipelines.posting.review import QueueRow, dismiss, queue_rows, resolve
from bridge_pipelines.posting.run import post_tenant_day
from bridge_pipelines.tenants.loader import find_tenant
from bridge_pipelines.tenants.models import TenantConfig

QUEUE_REFRESH_S = 60


def review_queue_key(tenant_id: str) -> dg.AssetKey:
    """`[tenant, review, queue]`."""
    return dg.AssetKey([tenant_id, "review", "review_queue"])


QUEUE_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("posting", "string"),
        dg.TableColumn("vendor", "string"),
        dg.TableColumn("invoice", "string", description="The vendor's invoice number."),
        dg.TableColumn("amount", "string", description="Exact, with its currency."),
        dg.TableColumn("day", "string", description="The partition day."),
        dg.TableColumn("waiting since", "string"),
        dg.TableColumn("state", "string"),
        dg.TableColumn("reason", "string", description="In full: the ledger's reason."),
        dg.TableColumn("what to do", "string"),
    ]
)


def build_review_queue_asset(tenant: TenantConfig) -> dg.AssetsDefinition:
    """The tenant's review queue across all days, as a table."""
    key = review_queue_key(tenant.id)

    @dg.asset(
        key=key,
        group_name=tenant.id,
        deps=[posted_invoices_key(tenant.id)],
        kinds={"table"},
        tags={"bridge/tenant": tenant.id},
        description=(
            f"Every invoice of **{tenant.name}** that waits for a person, all days: held for "
            "review (unmapped codes, a closed period, an ambiguous ERP answer) or rejected by "
            "the ERP. Fix the cause, then launch `release_posting` (it posts at once) or "
            "`dismiss_posting` with the posting number and a reason."
        ),
    )
    def _asset(bridge: BridgeResource) -> dg.MaterializeResult[None]:
        rows = queue_rows(bridge.intake(), tenant.id)
        shown = readable(rows[:MAX_ROWS_SHOWN])
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": dg.MetadataValue.int(len(rows)),
                "summary": dg.MetadataValue.text(waiting_summary(rows)),
                "queue": dg.MetadataValue.table(
                    records=[dg.TableRecord(r) for r in shown],
                    schema=QUEUE_SCHEMA,
                ),
                "queue_text": dg.MetadataValue.md(markdown_table(shown)),
            }
        )

    return _asset


def queue_digest(rows: Sequence[QueueRow]) -> str:
    """Changes whenever a posting joins, leaves or changes in the queue."""
    text = "\n".join(f"{r.posting}:{r.state}:{r.since.isoformat()}:{r.reason}" for r in rows)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def build_review_queue_sensor(tenant: TenantConfig) -> dg.SensorDefinition:
    """Re-materializes the queue table when the queue changed (and on the first tick)."""
    key = review_queue_key(tenant.id)

    @dg.sensor(
        name=f"{tenant.id}_review_queue",
        asset_selection=dg.AssetSelection.assets(key),
        minimum_interval_seconds=QUEUE_REFRESH_S,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Refreshes `{key.to_user_string()}` whenever an invoice joins or leaves "
        "the review queue.",
    )
    def _sensor(
        context: dg.SensorEvaluationContext, bridge: BridgeResource
    ) -> Iterator[dg.RunRequest | dg.SkipReason]:
        digest, request, summary = queue_refresh(bridge.intake(), tenant, context.cursor)
        if request is None:
            yield dg.SkipReason(summary)
            return
        context.update_cursor(digest)
        yield request

    return _sensor


def queue_refresh(
    runtime: Runtime, tenant: TenantConfig, last_digest: str | None
) -> tuple[str, dg.RunRequest | None, str]:
    """The queue's digest now, a refresh run when it changed since `last_digest`, a summary."""
    rows = queue_rows(runtime, tenant.id)
    digest = queue_digest(rows)
    if digest == last_digest:
        return digest, None, waiting_summary(rows) + " (unchanged)"
    request = dg.RunRequest(
        run_key=f"{tenant.id}-review-queue-{digest}",
        asset_selection=[review_queue_key(tenant.id)],
        # Not `bridge/tenant`: a queue refresh must never hold up the tenant's intake.
        tags={"bridge/review": tenant.id, "bridge/what": "review queue"},
    )
    return digest, request, waiting_summary(rows)


class ReleaseConfig(dg.Config):
    """Which posting, and why (kept in the audit trail)."""

    posting_id: int
    reason: str
    post_now: bool = True


class DismissConfig(dg.Config):
    """Which posting, and why nothing more is needed (kept in the audit trail)."""

    posting_id: int
    reason: str


def _actor(context: dg.OpExecutionContext) -> str:
    user = context.run.tags.get("dagster/user") or context.run.tags.get("user")
    return f"operator:{user}" if user else f"dagster:{context.run_id[:8]}"


def _tag(context: dg.OpExecutionContext, tenant_id: str, posting_id: int, what: str) -> None:
    context.instance.add_run_tags(
        context.run_id,
        {"bridge/tenant-of": tenant_id, "bridge/posting": str(posting_id), "bridge/what": what},
    )


@dg.op(
    out={}, description="`bridge review resolve <posting> --as planned`, then post its day once."
)
def release_op(
    context: dg.OpExecutionContext, config: ReleaseConfig, bridge: BridgeResource
) -> Iterator[dg.AssetMaterialization]:
    """Release, post the day, and record it on the posted invoices' partition."""
    ctx = bridge.intake()
    posting = ctx.ledger.get_posting(config.posting_id)
    _tag(context, posting.tenant, posting.id, "release posting")
    row = resolve(
        ctx, config.posting_id, PostingState.PLANNED, reason=config.reason, actor=_actor(context)
    )
    context.log.info("posting #%s is now %s", row.id, row.state.value)
    if not config.post_now:
        return
    tenant = find_tenant(row.tenant)
    day = ctx.ledger.get_record(row.record_id).partition_day
    with config_errors_not_retried(tenant.id):
        report = post_tenant_day(ctx, tenant, day, owner=f"release-{context.run_id[:8]}")
    after = ctx.ledger.get_posting(row.id)
    context.log.info("posting #%s after the run: %s", after.id, after.state.value)
    metadata: dict[str, Any] = {
        "released": dg.MetadataValue.text(f"#{row.id}: {config.reason}"),
        "posting_state": dg.MetadataValue.text(after.state.value),
        "erp_document": dg.MetadataValue.text(after.erp_doc_id or "-"),
        "handled": dg.MetadataValue.int(len(report.outcomes)),
    }
    yield dg.AssetMaterialization(
        asset_key=posted_invoices_key(tenant.id),
        partition=day.isoformat() if day else None,
        metadata=metadata,
        description=f"release of posting #{row.id} ({config.reason})",
    )
    if report.aborted:
        raise dg.Failure(description=f"posting stopped early: {report.aborted}")


@dg.op(description="`bridge review dismiss <posting> --reason ...`: off the queue, audited.")
def dismiss_op(
    context: dg.OpExecutionContext, config: DismissConfig, bridge: BridgeResource
) -> None:
    """Dismiss, with the reason and the Dagster user in the audit trail."""
    ctx = bridge.intake()
    posting = ctx.ledger.get_posting(config.posting_id)
    _tag(context, posting.tenant, posting.id, "dismiss posting")
    dismiss(ctx, config.posting_id, reason=config.reason, actor=_actor(context))
    context.log.info("posting #%s dismissed: %s", posting.id, config.reason)


@dg.job(
    name="release_posting",
    description="Release a posting held for review after fixing its cause (run config: "
    "posting_id, reason); it is posted at once, exactly once. Audited like `bridge review "
    "resolve --as planned`.",
    tags={"bridge/what": "release posting"},
)
def release_posting_job() -> None:
    """One op: release, then post."""
    release_op()


@dg.job(
    name="dismiss_posting",
    description="Take a posting off the review queue for good (run config: posting_id, "
    "reason). Audited like `bridge review dismiss`.",
    tags={"bridge/what": "dismiss posting"},
)
def dismiss_posting_job() -> None:
    """One op: dismiss."""
    dismiss_op()


def build_review_defs(
    tenant: TenantConfig,
) -> tuple[list[dg.AssetsDefinition], list[dg.SensorDefinition]]:
    """The queue table and its sensor; nothing for a tenant without an ERP."""
    if tenant.erp.kind == "none":
        return [], []
    return [build_review_queue_asset(tenant)], [build_review_queue_sensor(tenant)]


REVIEW_JOBS = [release_posting_job, dismiss_posting_job]
