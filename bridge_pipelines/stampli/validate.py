"""The shared validation pass: fields, row rules, document grouping, located errors.

1. Every field is converted and flagged in one polars pass (`Field.typed` / `Field.bad`), and
   every row rule (a cross-field condition such as due date >= invoice date) adds a flag.
2. Only flagged rows go back to Python, where each failure gets a message quoting its value.
3. The kind's document rules (invoice totals, duplicates...) add located issues and rejected
   documents; every row of a rejected document gets an issue naming it, so a bad line rejects
   its whole invoice while the other documents of the file still flow and nothing is lost.
"""

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from bridge_pipelines.stampli.fields import Field
from bridge_pipelines.stampli.grouping import RUN
from bridge_pipelines.stampli.models import RowError
from bridge_pipelines.stampli.source import SourceFrame
from bridge_pipelines.tenants.models import FileTemplate

Row = dict[str, Any]
ROW_BAD = "__row_bad"
CHANGED = "__changed"
HEAD_BAD = "__head_bad"


def typed(name: str) -> pl.Expr:
    """The converted value of field `name` inside the validation pass."""
    return pl.col(f"__t_{name}")


@dataclass(frozen=True)
class RowRule:
    """A condition over converted fields of one row; `bad` is True where it fails.

    `shared` rules read only fields shared by all rows of a document (see `check_rows`).
    `message(row, display)` receives the raw cells and the converted values (`__t_<name>`)
    of the failing row and the column display names.
    """

    name: str
    field: str
    bad: pl.Expr
    message: Callable[[Row, dict[str, str]], str]
    shared: bool = False


@dataclass(frozen=True)
class Issue:
    """A located problem before it is labelled with its document."""

    row: int | None
    field: str | None
    message: str


@dataclass
class Checked:
    """Outcome of the field pass: converted rows (with `ROW_BAD`) and the row issues."""

    frame: pl.DataFrame
    issues: list[Issue] = field(default_factory=list)
    heads: pl.DataFrame | None = None


def check_rows(
    src: SourceFrame,
    fields: Sequence[Field],
    rules: Sequence[RowRule],
    template: FileTemplate,
    *,
    shared: Collection[str] = (),
    key: str | None = None,
) -> Checked:
    """Convert and check every cell; returns canonical columns and `ROW_BAD`.

    Only converting fields (money, dates, numbers) get new columns; a text field's canonical
    value is its text, which is valid wherever the row is accepted. Per-field failure flags
    are not kept: `ROW_BAD` is their OR, and the few failing rows are checked again to say
    which field failed and why.

    Args:
        src: The string cells. With `shared`, rows must be grouped (column `RUN`).
        fields: The kind's fields.
        rules: Cross-field row rules.
        template: The tenant's template (date format, decimal separator).
        shared: Fields repeated on every row of a document (an invoice's header). They are
            converted once per document, on its first row, and each later row is only
            compared with the row before it (`CHANGED`): equal text converts equally, and a
            document whose rows disagree is refused by the document rules anyway. Their raw
            text is kept as `__raw_<name>` for those rules' messages.
        key: With `shared`, the document key column, kept in `Checked.heads`.
    """
    frame = src.frame
    own = [f for f in fields if f.name not in shared]
    per_doc = [f for f in fields if f.name in shared]
    own_rules = [r for r in rules if not r.shared]
    doc_rules = [r for r in rules if r.shared]
    bad_parts = [f.bad() for f in own] + [r.bad.fill_null(False) for r in own_rules]
    extra: list[pl.Expr] = []
    heads: pl.DataFrame | None = None
    if per_doc:
        # gather, not filter: filtering would first align the chunks of every column.
        starts = frame.select(
            (pl.col(RUN) != pl.col(RUN).shift(1)).fill_null(True).arg_true()
        ).to_series()
        keep = [RUN, "source_row", *([key] if key else []), *(f.name for f in per_doc)]
        heads = (
            frame.lazy()
            .select(pl.col(keep).gather(starts))
            .with_columns(_typed(per_doc, template))
            .with_columns(
                pl.any_horizontal(
                    [f.bad() for f in per_doc] + [r.bad.fill_null(False) for r in doc_rules]
                ).alias(HEAD_BAD)
            )
            .collect()
        )
        spread = [f"__t_{f.name}" for f in per_doc if f.converts] + [HEAD_BAD]
        frame = pl.concat(
            [frame, heads.select(pl.col(spread).gather(frame.get_column(RUN)))],
            how="horizontal",
        )
        same = pl.col(RUN) == pl.col(RUN).shift(1)
        differs = pl.any_horizontal(
            pl.col(f.name).ne_missing(pl.col(f.name).shift(1)) for f in per_doc
        )
        bad_parts.append(pl.col(HEAD_BAD))
        extra = [
            (same & differs).fill_null(False).alias(CHANGED),
            pl.col(RUN),
            *(pl.col(f.name).alias(f"__raw_{f.name}") for f in per_doc),
        ]
    checked = (
        frame.lazy()
        .with_columns(_typed(own, template))
        .with_columns(pl.any_horizontal(bad_parts).alias(ROW_BAD))
        .collect()
    )
    issues: list[Issue] = []
    if checked.height and checked.get_column(ROW_BAD).any():
        issues = _describe(checked.filter(pl.col(ROW_BAD)), fields, rules, template, src.display)
    out = checked.select(
        pl.col("source_row"), *(f.value() for f in fields), *extra, pl.col(ROW_BAD)
    )
    return Checked(frame=out, issues=issues, heads=heads)


def _typed(fields: Sequence[Field], template: FileTemplate) -> list[pl.Expr]:
    return [f.typed(template).alias(f"__t_{f.name}") for f in fields if f.converts]


def _describe(
    bad_rows: pl.DataFrame,
    fields: Sequence[Field],
    rules: Sequence[RowRule],
    template: FileTemplate,
    display: dict[str, str],
) -> list[Issue]:
    """Which field or rule failed on each failing row, with a message quoting the value."""
    # Convert each failing row's own text again: a shared field was converted on the first
    # row of its document only, and this row's text may differ from it.
    flagged = bad_rows.with_columns(_typed(fields, template)).with_columns(
        *(f.bad().alias(f"__b_{f.name}") for f in fields),
        *(r.bad.fill_null(False).alias(f"__r_{r.name}") for r in rules),
    )
    issues: list[Issue] = []
    for row in flagged.iter_rows(named=True):
        for f in fields:
            if row[f"__b_{f.name}"]:
                issues.append(Issue(row["source_row"], f.name, f.describe(row[f.name], template)))
        for rule in rules:
            if row[f"__r_{rule.name}"]:
                issues.append(Issue(row["source_row"], rule.field, rule.message(row, display)))
    return issues


@dataclass
class Verdict:
    """Which documents are refused and why, keyed by the document key column."""

    rejected: set[Any] = field(default_factory=set)
    issues: list[Issue] = field(default_factory=list)


def finish(
    *,
    source: str,
    frame: pl.DataFrame,
    key: str,
    label: Callable[[Any], str | None],
    issues: list[Issue],
    verdict: Verdict,
    display: dict[str, str],
    noun: str,
) -> tuple[pl.DataFrame, list[RowError]]:
    """Split rows into accepted and refused; every refused row gets a located RowError.

    Args:
        source: File name for the errors.
        frame: Converted rows with `source_row`, `ROW_BAD` and the `key` column.
        key: Column that groups rows into documents.
        label: Key value -> document label for messages ("invoice STI-1001").
        issues: Row issues from `check_rows`.
        verdict: Document-level refusals and their issues.
        display: Canonical name -> the file's column name.
        noun: What a document is called ("invoice").

    Returns:
        The accepted rows (helper columns dropped) and the errors, ordered by row.
    """
    bad_keys = frame.filter(pl.col(ROW_BAD)).get_column(key).unique().to_list() if issues else []
    rejected = set(bad_keys) | verdict.rejected
    all_issues = issues + verdict.issues
    if not rejected and not all_issues:
        return _without(frame, ROW_BAD), []
    reject_mask = pl.col(key).is_in(list(rejected - {None}), nulls_equal=False)
    if None in rejected:
        reject_mask = reject_mask | pl.col(key).is_null()
    refused = frame.filter(reject_mask).select("source_row", key)
    key_of_row: dict[int, Any] = dict(refused.iter_rows())
    first_reason: dict[Any, Issue] = {}
    covered: set[int | None] = set()
    for issue in sorted(all_issues, key=lambda i: i.row or 0):
        covered.add(issue.row)
        first_reason.setdefault(key_of_row.get(issue.row or 0), issue)
    for row, doc_key in key_of_row.items():
        if row not in covered:
            reason = first_reason.get(doc_key)
            why = ""
            if reason is not None and reason.row is not None:
                column = display.get(reason.field or "", reason.field)
                why = f", which has an error at row {reason.row}"
                why += f" (field {column})" if column else ""
            all_issues.append(Issue(row, None, f"refused with its {noun}{why}"))
    errors = [
        RowError(
            source=source,
            row=i.row,
            field=display.get(i.field, i.field) if i.field else None,
            message=i.message,
            document=label(key_of_row.get(i.row or 0)),
        )
        for i in sorted(all_issues, key=lambda i: i.row or 0)
    ]
    accepted = frame.filter(~reject_mask).drop(ROW_BAD)
    return accepted, errors


def _without(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """`frame` minus one column, without the chunk alignment (a full copy) `drop` may do."""
    return pl.DataFrame([frame.get_column(c) for c in frame.columns if c != column])
