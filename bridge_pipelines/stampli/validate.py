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


def check_rows(
    src: SourceFrame,
    fields: Sequence[Field],
    rules: Sequence[RowRule],
    template: FileTemplate,
    *,
    shared: Collection[str] = (),
) -> Checked:
    """Convert and check every cell; returns typed columns under canonical names.

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
    """
    frame = src.frame
    own = [f for f in fields if f.name not in shared]
    per_doc = [f for f in fields if f.name in shared]
    own_rules = [r for r in rules if not r.shared]
    doc_rules = [r for r in rules if r.shared]
    names = _flag_names(fields, rules)
    extra: list[pl.Expr] = []
    if per_doc:
        first = (pl.col(RUN) != pl.col(RUN).shift(1)).fill_null(True)
        heads = frame.select(RUN, *(f.name for f in per_doc)).filter(first)
        per_run = (
            _convert(heads.lazy(), per_doc, doc_rules, template)
            .select(pl.exclude(RUN, *(f.name for f in per_doc)))
            .collect()
        )
        frame = pl.concat(
            [frame, per_run.select(pl.all().gather(frame.get_column(RUN)))], how="horizontal"
        )
        same = pl.col(RUN) == pl.col(RUN).shift(1)
        differs = pl.any_horizontal(
            pl.col(f.name).ne_missing(pl.col(f.name).shift(1)) for f in per_doc
        )
        extra = [
            (same & differs).fill_null(False).alias(CHANGED),
            pl.col(RUN),
            *(pl.col(f.name).alias(f"__raw_{f.name}") for f in per_doc),
        ]
    checked = (
        _convert(frame.lazy(), own, own_rules, template)
        .with_columns(pl.any_horizontal(names).alias(ROW_BAD))
        .collect()
    )
    issues: list[Issue] = []
    if checked.height and checked.get_column(ROW_BAD).any():
        for row in checked.filter(pl.col(ROW_BAD)).iter_rows(named=True):
            for f in fields:
                if row[f"__b_{f.name}"]:
                    issues.append(
                        Issue(row["source_row"], f.name, f.describe(row[f.name], template))
                    )
            for rule in rules:
                if row[f"__r_{rule.name}"]:
                    issues.append(
                        Issue(row["source_row"], rule.field, rule.message(row, src.display))
                    )
    out = checked.select(
        pl.col("source_row"),
        *(typed(f.name).alias(f.name) for f in fields),
        *extra,
        pl.col(ROW_BAD),
    )
    return Checked(frame=out, issues=issues)


def _flag_names(fields: Sequence[Field], rules: Sequence[RowRule]) -> list[str]:
    return [f"__b_{f.name}" for f in fields] + [f"__r_{r.name}" for r in rules]


def _convert(
    lf: pl.LazyFrame, fields: Sequence[Field], rules: Sequence[RowRule], template: FileTemplate
) -> pl.LazyFrame:
    """Add `__t_<field>` (converted), `__b_<field>` and `__r_<rule>` (failure flags)."""
    return lf.with_columns(f.typed(template).alias(f"__t_{f.name}") for f in fields).with_columns(
        *(f.bad().alias(f"__b_{f.name}") for f in fields),
        *(r.bad.fill_null(False).alias(f"__r_{r.name}") for r in rules),
    )


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
        return frame.drop(ROW_BAD), []
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
            if reason is not None:
                where = f"row {reason.row}" if reason.row is not None else "the file"
                column = display.get(reason.field or "", reason.field)
                why = f": {where}" + (f", field {column}" if column else "")
                why += f": {reason.message}"
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
