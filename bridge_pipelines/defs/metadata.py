"""Materialization and check metadata: counts, totals, source files, previews, failures."""

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import dagster as dg
import polars as pl

from bridge_pipelines.intake.process import KindReport
from bridge_pipelines.ledger.models import RecordRow
from bridge_pipelines.stampli.naming import record_name
from bridge_pipelines.stampli.parse import RowError

PREVIEW_ROWS = 10
MAX_FAILURES_SHOWN = 50


# Every ASCII punctuation character may be backslash-escaped in CommonMark, and an escaped one
# is plain text: no link, image, emphasis, code span, autolink or HTML can start from it.
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029]+")


def escape_markdown(value: object) -> str:
    """`value` as literal text inside a Markdown table cell.

    Remote file names and cell text are the tenant's (or an attacker's) bytes: `[x](url)`,
    `![x](url)`, `<img src=...>` or `**` must show as typed, never as a link, an image fetched
    by the operator's browser, or markup. Line breaks become spaces (a table row is one line).
    """
    text = _LINE_BREAKS.sub(" ", str(value))
    return _PUNCTUATION.sub(r"\\\1", text)


def markdown_table(rows: Sequence[dict[str, Any]]) -> str:
    """A small Markdown table; headers and cells are escaped (`escape_markdown`)."""
    if not rows:
        return "_nothing_"
    columns = list(rows[0])
    lines = [
        "| " + " | ".join(escape_markdown(c) for c in columns) + " |",
        "|" + "---|" * len(columns),
    ]
    for row in rows:
        cells = [escape_markdown(row.get(c, "")) for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def frame_preview(frame: pl.DataFrame | None) -> str:
    """The first rows accepted in this run, so an operator sees what came in."""
    if frame is None or frame.height == 0:
        return "_no new rows in this run_"
    return markdown_table(frame.head(PREVIEW_ROWS).to_dicts())


def totals_by_currency(records: Sequence[RecordRow]) -> dict[str, str]:
    """Exact sums per currency of the accepted documents of the partition."""
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for record in records:
        if record.amount is not None:
            sums[record.currency or "?"] += record.amount
    return {currency: str(total) for currency, total in sorted(sums.items())}


def held_table(records: Sequence[RecordRow]) -> str:
    """The documents of the partition held for review, named as a person knows them."""
    held = [r for r in records if r.state == "held"]
    shown = [
        {"document": record_name(r), "record": r.id, "reason": r.reason or ""}
        for r in held[:MAX_FAILURES_SHOWN]
    ]
    more = len(held) - len(shown)
    return markdown_table(shown) + (f"\n\n…and {more} more" if more > 0 else "")


def failures_table(
    errors: Sequence[RowError], names: Mapping[tuple[str, str], str] | None = None
) -> str:
    """Located failures (file, row, field), capped so metadata stays small.

    `names` (file, document label) -> the invoice's name, where the raw file said it.
    """
    names = names or {}
    shown = [
        {
            "file": e.source,
            "row": e.row,
            "field": e.field,
            "document": names.get((e.source, e.document or ""), e.document),
            "error": e.message,
        }
        for e in errors[:MAX_FAILURES_SHOWN]
    ]
    more = len(errors) - len(shown)
    return markdown_table(shown) + (f"\n\n…and {more} more" if more > 0 else "")


def materialization_metadata(
    report: KindReport,
    partition_records: Sequence[RecordRow],
    names: Mapping[tuple[str, str], str] | None = None,
) -> dict[str, Any]:
    """Counts, exact totals, source files, refused rows and a preview for one materialization.

    `names`: (file, document label) -> the invoice's name, for the refused rows.
    """
    accepted = [r for r in partition_records if r.state == "accepted"]
    frame = report.frame
    return {
        "dagster/row_count": dg.MetadataValue.int(frame.height if frame is not None else 0),
        "files_this_run": dg.MetadataValue.md(
            markdown_table(
                [
                    {
                        "file": f.name,
                        "state": f.state,
                        "rows": f.rows_total,
                        "rejected rows": f.rows_rejected,
                        "new documents": f.documents,
                        "duplicates": f.duplicates,
                        "held": f.held,
                        "reason": f.reason or "",
                    }
                    for f in report.files
                ]
            )
        ),
        "source_files": dg.MetadataValue.json([f.name for f in report.files]),
        "documents_accepted_in_partition": dg.MetadataValue.int(len(accepted)),
        "documents_held_in_partition": dg.MetadataValue.int(
            sum(1 for r in partition_records if r.state == "held")
        ),
        "held_in_partition": dg.MetadataValue.md(held_table(partition_records)),
        "duplicates_in_partition": dg.MetadataValue.int(
            sum(1 for r in partition_records if r.state == "duplicate")
        ),
        "totals_by_currency": dg.MetadataValue.json(totals_by_currency(accepted)),
        "row_errors_this_run": dg.MetadataValue.int(len(report.row_errors)),
        # Listed, not only counted: file, row, field, the invoice and why.
        "refused_rows": dg.MetadataValue.md(failures_table(report.row_errors, names)),
        "still_pending": dg.MetadataValue.json(report.left_pending),
        "preview": dg.MetadataValue.md(frame_preview(frame)),
    }
