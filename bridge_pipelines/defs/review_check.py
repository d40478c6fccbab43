"""`needs_review`: a WARN check on the posted invoices while any invoice of the day waits.

Also the summary line (`how many, since when`) the `reconciled` check and the queue use.
"""

from collections.abc import Sequence
from datetime import date

import dagster as dg

from bridge_pipelines.defs.metadata import markdown_table
from bridge_pipelines.intake.runtime import Runtime
from bridge_pipelines.posting.review import QueueRow, queue_rows

NEEDS_REVIEW_CHECK = "needs_review"
MAX_ROWS_SHOWN = 200


def day_rows(ctx: Runtime, tenant_id: str, day: date) -> list[QueueRow]:
    """The waiting postings of one partition day."""
    return [r for r in queue_rows(ctx, tenant_id) if r.partition_day == day.isoformat()]


def readable(rows: Sequence[QueueRow]) -> list[dict[str, str]]:
    """Rows as a person reads them: reason in full, what to do."""
    return [
        {
            "posting": f"#{r.posting}",
            "vendor": r.vendor,
            "invoice": r.invoice_number,
            "amount": f"{r.amount} {r.currency}".strip(),
            "day": r.partition_day,
            "waiting since": r.since.isoformat(timespec="minutes"),
            "state": r.state,
            "reason": r.reason,
            "what to do": r.action,
        }
        for r in rows
    ]


def needs_review_spec(posted: dg.AssetKey) -> dg.AssetCheckSpec:
    """Declared on the posted invoices so it shows before the first run."""
    return dg.AssetCheckSpec(
        NEEDS_REVIEW_CHECK,
        asset=posted,
        description="Invoices of the day held for review or rejected by the ERP, with why and "
        "what to do; WARN while any waits (release or dismiss: jobs `release_posting`, "
        "`dismiss_posting`, or `bridge review`).",
    )


def waiting_summary(rows: Sequence[QueueRow]) -> str:
    """`2 invoices wait for review since 2026-11-23T08:00+00:00`, or `none waits`."""
    if not rows:
        return "no invoice waits for review"
    since = min(r.since for r in rows).isoformat(timespec="minutes")
    noun = "invoice waits" if len(rows) == 1 else "invoices wait"
    return f"{len(rows)} {noun} for review since {since}"


def needs_review_result(
    ctx: Runtime, posted: dg.AssetKey, tenant_id: str, day: date
) -> dg.AssetCheckResult:
    """The check for one partition day."""
    rows = day_rows(ctx, tenant_id, day)
    return dg.AssetCheckResult(
        asset_key=posted,
        check_name=NEEDS_REVIEW_CHECK,
        passed=not rows,
        severity=dg.AssetCheckSeverity.WARN,
        description=waiting_summary(rows),
        metadata={
            "waiting": dg.MetadataValue.int(len(rows)),
            "needs_review": dg.MetadataValue.int(sum(r.state == "needs_review" for r in rows)),
            "rejected": dg.MetadataValue.int(sum(r.state == "rejected" for r in rows)),
            "waiting_since": dg.MetadataValue.text(
                min(r.since for r in rows).isoformat(timespec="minutes") if rows else "-"
            ),
            "queue": dg.MetadataValue.md(markdown_table(readable(rows[:MAX_ROWS_SHOWN]))),
        },
    )
