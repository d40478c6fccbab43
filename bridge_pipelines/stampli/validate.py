"""The shared validation pass: fields, row rules, document grouping, located errors.

1. Every field is converted and flagged in one polars pass (`Field.typed` / `Field.bad`), and
   every row rule (a cross-field condition such as due date >= invoice date) adds a flag.
2. Only flagged rows go back to Python, where each failure gets a message quoting its value.
3. The kind's document rules (invoice totals, duplicates...) add located issues and rejected
   documents; every row of a rejected document gets an issue naming it, so a bad line rejects
   its whole invoice while the other documents of the file still flow and nothing is lost.
"""

from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from bridge_pipelines.stampli.fields import Field
from bridge_pipelines.stampli.grouping import RUN
from bridge_pipelines.stampli.limits import MAX_ROW_ERRORS
from bridge_pipelines.stampli.models import RowError
from bridge_pipelines.stampli.source import SourceFrame
from bridge_pipelines.tenants.models import FileTemplate

Row = dict[str, Any]
ROW_BAD = "__row_bad"
# The kind an error is counted under once a file's located errors are capped.
REFUSED_WITH_DOCUMENT = "rows refused with their document"
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
    omitted: Counter[str] = field(default_factory=Counter)


def kind_of(column: str | None) -> str:
    """How a capped error is counted: by the column it names, else as refused with its document."""
    return f"field {column}" if column else REFUSED_WITH_DOCUMENT


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
    too_long = {(c.row, c.field) for c in src.refused}
    if too_long:
        bad_parts.append(pl.col("source_row").is_in(sorted({row for row, _ in too_long})))
    extra: list[pl.Expr] = []
    heads: pl.DataFrame | None = None
    if per_doc:
        # gather, not filter: filtering would first align the chunks of every column.
        starts = frame.select(
            (pl.col(RUN) != pl.col(RUN).shift(1)).fill_null(True).arg_true()
        ).to_series()
        keep = [RUN, "source_row", *([key] if key else []), *(f.name for f in per_doc)]
        # Column by column: a gather from polars' many read chunks copies its column whole
        # first; done all at once (as a lazy query would), every copy is alive together.
        heads = (
            pl.DataFrame([frame.get_column(name).gather(starts) for name in keep])
            .lazy()
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
    issues = [Issue(c.row, c.field, c.message) for c in src.refused]
    omitted: Counter[str] = Counter()
    if checked.height and checked.get_column(ROW_BAD).any():
        described, omitted = _describe(
            checked.filter(pl.col(ROW_BAD)), fields, rules, template, src.display
        )
        # A cut cell is reported once, as too long, not again as the value it was cut to.
        issues.extend(i for i in described if (i.row, i.field) not in too_long)
    out = checked.select(
        pl.col("source_row"), *(f.value() for f in fields), *extra, pl.col(ROW_BAD)
    )
    return Checked(frame=out, issues=issues, heads=heads, omitted=omitted)


def _typed(fields: Sequence[Field], template: FileTemplate) -> list[pl.Expr]:
    return [f.typed(template).alias(f"__t_{f.name}") for f in fields if f.converts]


def _describe(
    bad_rows: pl.DataFrame,
    fields: Sequence[Field],
    rules: Sequence[RowRule],
    template: FileTemplate,
    display: dict[str, str],
) -> tuple[list[Issue], Counter[str]]:
    """Which field or rule failed on each failing row, with a message quoting the value.

    Only the first `MAX_ROW_ERRORS` failing rows are described; the failures of the others are
    counted by column (in polars), so a file of a million bad rows costs no million messages.
    """
    # Convert each failing row's own text again: a shared field was converted on the first
    # row of its document only, and this row's text may differ from it.
    flagged = bad_rows.with_columns(_typed(fields, template)).with_columns(
        *(f.bad().alias(f"__b_{f.name}") for f in fields),
        *(r.bad.fill_null(False).alias(f"__r_{r.name}") for r in rules),
    )
    omitted: Counter[str] = Counter()
    if flagged.height > MAX_ROW_ERRORS:
        counts = flagged.slice(MAX_ROW_ERRORS).select(
            *(pl.col(f"__b_{f.name}").sum().alias(f"__b_{f.name}") for f in fields),
            *(pl.col(f"__r_{r.name}").sum().alias(f"__r_{r.name}") for r in rules),
        )
        for f in fields:
            omitted[kind_of(display.get(f.name, f.name))] += int(counts[f"__b_{f.name}"][0])
        for r in rules:
            omitted[kind_of(display.get(r.field, r.field))] += int(counts[f"__r_{r.name}"][0])
        flagged = flagged.head(MAX_ROW_ERRORS)
    issues: list[Issue] = []
    for row in flagged.iter_rows(named=True):
        for f in fields:
            if row[f"__b_{f.name}"]:
                issues.append(Issue(row["source_row"], f.name, f.describe(row[f.name], template)))
        for rule in rules:
            if row[f"__r_{rule.name}"]:
                issues.append(Issue(row["source_row"], rule.field, rule.message(row, display)))
    return issues, +omitted


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
    omitted: Counter[str] | None = None,
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
        omitted: Where rows refused with their document beyond `MAX_ROW_ERRORS` are counted
            instead of written out; None writes every one.

    Returns:
        The accepted rows (helper columns dropped) and the errors, ordered by row.
    """
    bad_keys = frame.filter(pl.col(ROW_BAD)).get_column(key).unique().to_list() if issues else []
    rejected = set(bad_keys) | verdict.rejected
    all_issues = sorted(issues + verdict.issues, key=lambda i: i.row or 0)
    if not rejected and not all_issues:
        return _without(frame, ROW_BAD), []
    reject_mask = pl.col(key).is_in(list(rejected - {None}), nulls_equal=False)
    if None in rejected:
        reject_mask = reject_mask | pl.col(key).is_null()
    refused = frame.filter(reject_mask).select("source_row", key, ROW_BAD)
    covered = {i.row for i in all_issues if i.row is not None}
    # Rows refused only because their document was: one note each, the first few written out.
    # Once `check_rows` has counted bad rows instead of describing them, a bad row is taken as
    # accounted for (its failures are in the count), not noted again.
    quiet = ~pl.col("source_row").is_in(sorted(covered))
    if omitted:
        quiet = quiet & ~pl.col(ROW_BAD)
    silent = (
        refused.filter(quiet)
        .select("source_row", key)
        .unique("source_row", keep="first")
        .sort("source_row")
    )
    if omitted is not None and silent.height > MAX_ROW_ERRORS:
        omitted[REFUSED_WITH_DOCUMENT] += silent.height - MAX_ROW_ERRORS
        silent = silent.head(MAX_ROW_ERRORS)
    named = covered | set(silent.get_column("source_row").to_list())
    key_of_row: dict[int, Any] = dict(
        refused.filter(pl.col("source_row").is_in(sorted(named)))
        .select("source_row", key)
        .iter_rows()
    )
    first_reason: dict[Any, Issue] = {}
    for issue in all_issues:
        first_reason.setdefault(key_of_row.get(issue.row or 0), issue)
    for row, doc_key in silent.iter_rows():
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


def cap_errors(
    errors: list[RowError], omitted: Counter[str], source: str
) -> tuple[list[RowError], bool]:
    """The first `MAX_ROW_ERRORS` errors (by row) and one summary of the rest, by kind.

    Returns:
        The errors to keep and whether any were left out.
    """
    errors.sort(key=lambda e: e.row or 0)
    rest = Counter(omitted)
    if len(errors) > MAX_ROW_ERRORS:
        rest.update(kind_of(e.field) for e in errors[MAX_ROW_ERRORS:])
        errors = errors[:MAX_ROW_ERRORS]
    rest = +rest
    if not rest:
        return errors, False
    kinds = ", ".join(f"{kind} ({count:,})" for kind, count in rest.most_common())
    summary = RowError(
        source=source,
        row=None,
        field=None,
        message=(
            f"and {sum(rest.values()):,} more row errors of these kinds: {kinds}; only the "
            f"first {MAX_ROW_ERRORS:,} of a file are kept"
        ),
    )
    return [*errors, summary], True
