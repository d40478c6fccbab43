"""Approved invoices: fields, rules and documents (one document = one invoice with its lines).

Rules (stampli-files.md): lines + tax add up to the total exactly; one currency and the same
header on every line of an invoice; real dates, due date not before the invoice date; credit
memos negative, invoices positive; line numbers unique and >= 1; InvoiceNumber 1-30 characters;
ApprovedAt ISO 8601 with offset. A bad line refuses its whole invoice; other invoices flow.
"""

import gc
import hashlib
from decimal import Decimal
from itertools import islice
from typing import Any

import polars as pl

from bridge_pipelines.stampli.content import json_object
from bridge_pipelines.stampli.fields import Field
from bridge_pipelines.stampli.grouping import RUN, with_runs
from bridge_pipelines.stampli.models import ParsedDocument
from bridge_pipelines.stampli.validate import CHANGED, ROW_BAD, Issue, Row, RowRule, Verdict, typed

KIND = "invoices"
CURRENCY_RE = r"^[A-Z]{3}$"

FIELDS: tuple[Field, ...] = (
    Field("invoice_id", "InvoiceId"),
    Field("invoice_number", "InvoiceNumber", max_len=30),
    Field("vendor_id", "VendorId"),
    Field("vendor_name", "VendorName", required=False),
    Field("invoice_date", "InvoiceDate", "date"),
    Field("due_date", "DueDate", "date"),
    Field("posting_date", "PostingDate", "date", required=False, optional_column=True),
    Field("currency", "Currency", "pattern", pattern=CURRENCY_RE, hint="an ISO 4217 code (USD)"),
    Field("invoice_total", "InvoiceTotal", "money"),
    Field("tax_amount", "TaxAmount", "money"),
    Field("po_number", "PONumber", required=False, optional_column=True),
    Field("line_number", "LineNumber", "int"),
    Field("line_description", "LineDescription", required=False),
    Field("gl_account", "GLAccount"),
    Field("cost_center", "CostCenter", required=False, optional_column=True),
    Field("line_amount", "LineAmount", "money"),
    Field("approved_by", "ApprovedBy"),
    Field("approved_at", "ApprovedAt", "timestamp"),
    Field("document_type", "DocumentType", "enum", choices=("Invoice", "CreditMemo")),
)

HEADER = (
    "invoice_number",
    "vendor_id",
    "vendor_name",
    "invoice_date",
    "due_date",
    "posting_date",
    "currency",
    "invoice_total",
    "tax_amount",
    "po_number",
    "approved_by",
    "approved_at",
    "document_type",
)
LINE = ("line_number", "line_description", "gl_account", "cost_center", "line_amount")
COLUMNS = (
    "invoice_id",
    "invoice_number",
    "vendor_id",
    "vendor_name",
    "invoice_date",
    "due_date",
    "posting_date",
    "currency",
    "invoice_total",
    "tax_amount",
    "po_number",
    "line_number",
    "line_description",
    "gl_account",
    "cost_center",
    "line_amount",
    "approved_by",
    "approved_at",
    "document_type",
    "source_file",
    "source_row",
)

_credit = pl.col("document_type") == "CreditMemo"
_invoice = pl.col("document_type") == "Invoice"
# Invoices serialized per polars pass when building documents (see `build_documents`).
DOCUMENT_BATCH = 20_000


def _sign_message(column: str) -> Any:
    def message(row: Row, display: dict[str, str]) -> str:
        kind = row["document_type"]
        if column == "invoice_total":
            want = "negative" if kind == "CreditMemo" else "positive"
            return f"{row[column]!r}: the total of a {kind} must be {want}"
        wrong = "positive" if kind == "CreditMemo" else "negative"
        return f"{row[column]!r} must not be {wrong} on a {kind}"

    return message


ROW_RULES: tuple[RowRule, ...] = (
    RowRule(
        "due_after_invoice",
        "due_date",
        typed("due_date") < typed("invoice_date"),
        lambda row, d: f"{row['due_date']!r} is before {d['invoice_date']} {row['invoice_date']!r}",
        shared=True,
    ),
    RowRule(
        "line_number_positive",
        "line_number",
        typed("line_number") < 1,
        lambda row, d: f"{row['line_number']!r}: line numbers start at 1",
    ),
    RowRule(
        "total_sign",
        "invoice_total",
        (_invoice & (typed("invoice_total") <= 0)) | (_credit & (typed("invoice_total") >= 0)),
        _sign_message("invoice_total"),
        shared=True,
    ),
    RowRule(
        "tax_sign",
        "tax_amount",
        (_invoice & (typed("tax_amount") < 0)) | (_credit & (typed("tax_amount") > 0)),
        _sign_message("tax_amount"),
        shared=True,
    ),
    RowRule(
        "line_sign",
        "line_amount",
        (_invoice & (typed("line_amount") < 0)) | (_credit & (typed("line_amount") > 0)),
        _sign_message("line_amount"),
    ),
)


def label(invoice_id: Any) -> str | None:
    """How errors name an invoice."""
    return f"invoice {invoice_id}" if invoice_id is not None else None


def document_rules(frame: pl.DataFrame, heads: pl.DataFrame, display: dict[str, str]) -> Verdict:
    """Invoice-level rules over the lines of each invoice.

    Args:
        frame: Checked rows, grouped by invoice (run id `RUN`, flag `CHANGED`).
        heads: First row of each invoice, in run order, with its converted header.
        display: Canonical name -> the file's column name.

    Header consistency compares each line's raw text with the previous line of the same
    invoice, so it is reported even for invoices already refused for a bad cell; line numbers
    are checked in detail only where they do not simply increase; the sum is checked on clean
    invoices only.
    """
    verdict = Verdict()
    if frame.height == 0:
        return verdict
    same = pl.col(RUN) == pl.col(RUN).shift(1)
    rising = pl.col("line_number") > pl.col("line_number").shift(1)
    per_run = (
        frame.lazy()
        .with_columns((same & ~rising.fill_null(False)).fill_null(False).alias("__unsorted"))
        .group_by(RUN, maintain_order=True)
        .agg(
            pl.col(CHANGED).any().alias("mixed"),
            pl.col("__unsorted").any().alias("unsorted"),
            pl.col(ROW_BAD).any().alias("bad"),
            pl.col("line_amount").sum().alias("lines"),
        )
        .collect()
    )
    groups = (
        pl.concat(
            [
                heads.select(
                    RUN,
                    "invoice_id",
                    "vendor_id",
                    "invoice_number",
                    "document_type",
                    pl.col("source_row").alias("first_row"),
                    pl.col("__t_tax_amount").alias("tax"),
                    pl.col("__t_invoice_total").alias("total"),
                ),
                per_run.drop(RUN),
            ],
            how="horizontal",
        )
        .lazy()
        .with_columns(
            (~pl.col("bad") & (pl.col("lines") + pl.col("tax") != pl.col("total")))
            .fill_null(False)
            .alias("sum_off"),
            (
                pl.struct("vendor_id", "invoice_number", "document_type").is_duplicated()
                & pl.col("vendor_id").is_not_null()
                & pl.col("invoice_number").is_not_null()
                & pl.col("document_type").is_not_null()
            ).alias("twin"),
        )
        .collect()
    )
    flagged = groups.filter(
        pl.col("mixed") | pl.col("unsorted") | pl.col("sum_off") | pl.col("twin")
    )
    if flagged.height == 0:
        return verdict
    runs = flagged.get_column(RUN)
    by_run: dict[int, list[Row]] = {}
    for row in _rows_to_explain(frame, runs).iter_rows(named=True):
        by_run.setdefault(row[RUN], []).append(row)
    twins = _identity_twins(groups)
    for group in flagged.iter_rows(named=True):
        rows = by_run[group[RUN]]
        issues: list[Issue] = []
        if group["mixed"]:
            issues.extend(_inconsistent_header(rows, display))
        if group["unsorted"]:
            issues.extend(_duplicate_lines(rows))
        if group["sum_off"]:
            issues.append(_sum_issue(group, display))
        if group["twin"]:
            listed = _others(twins[_identity(group)], group["invoice_id"])
            issues.append(
                Issue(
                    group["first_row"],
                    "invoice_number",
                    f"invoice number {group['invoice_number']!r} of vendor "
                    f"{group['vendor_id']!r} ({group['document_type']}) appears under more "
                    f"than one InvoiceId in this file: also {listed}",
                )
            )
        if issues:
            verdict.rejected.add(group["invoice_id"])
            verdict.issues.extend(issues)
    return verdict


def _rows_to_explain(frame: pl.DataFrame, runs: pl.Series) -> pl.DataFrame:
    """The rows of flagged invoices that their messages need, and no more.

    Each invoice's first row, the rows whose header differs from it and the rows of a repeated
    line number. Only those go to Python: one invoice of 500,000 lines must not become 500,000
    dicts.
    """
    first = (pl.col(RUN) != pl.col(RUN).shift(1)).fill_null(True)
    differs = pl.any_horizontal(
        pl.col(f"__raw_{c}").ne_missing(pl.col(f"__raw_{c}").first().over(RUN)) for c in HEADER
    )
    repeated = pl.col("line_number").is_not_null() & pl.struct(RUN, "line_number").is_duplicated()
    return frame.filter(pl.col(RUN).is_in(runs.implode())).filter(first | differs | repeated)


def _identity(group: Row) -> tuple[Any, Any, Any]:
    return (group["vendor_id"], group["invoice_number"], group["document_type"])


def _identity_twins(groups: pl.DataFrame) -> dict[tuple[Any, Any, Any], list[tuple[Any, int]]]:
    twins: dict[tuple[Any, Any, Any], list[tuple[Any, int]]] = {}
    for group in groups.filter(pl.col("twin")).iter_rows(named=True):
        twins.setdefault(_identity(group), []).append((group["invoice_id"], group["first_row"]))
    return twins


def _others(twins: list[tuple[Any, int]], invoice_id: Any, shown: int = 5) -> str:
    """The other invoices of one identity, the first few by name (a file may hold 100,000)."""
    others = list(islice((t for t in twins if t[0] != invoice_id), shown))
    listed = ", ".join(f"InvoiceId {i} (row {r})" for i, r in others)
    if len(twins) > len(others) + 1:
        listed += f" and {len(twins) - len(others) - 1:,} more"
    return listed


def _inconsistent_header(rows: list[Row], display: dict[str, str]) -> list[Issue]:
    first = rows[0]
    issues: list[Issue] = []
    for column in HEADER:
        expected = first[f"__raw_{column}"]
        for row in rows[1:]:
            value = row[f"__raw_{column}"]
            if value == expected:
                continue
            what = (
                "mixed currencies in one invoice"
                if column == "currency"
                else f"{display[column]} differs between the lines of one invoice"
            )
            issues.append(
                Issue(
                    row["source_row"],
                    column,
                    f"{what}: {value!r} here, {expected!r} on row {first['source_row']}",
                )
            )
    return issues


def _duplicate_lines(rows: list[Row]) -> list[Issue]:
    seen: dict[Any, int] = {}
    issues: list[Issue] = []
    for row in rows:
        number = row["line_number"]
        if number is None:
            continue
        if number in seen:
            issues.append(
                Issue(
                    row["source_row"],
                    "line_number",
                    f"line number {number} appears twice in this invoice (also row {seen[number]})",
                )
            )
        else:
            seen[number] = row["source_row"]
    return issues


def _sum_issue(group: Row, display: dict[str, str]) -> Issue:
    lines: Decimal = group["lines"]
    tax: Decimal = group["tax"]
    total: Decimal = group["total"]
    return Issue(
        group["first_row"],
        "invoice_total",
        f"lines ({lines}) + {display['tax_amount']} ({tax}) = {lines + tax}, but "
        f"{display['invoice_total']} is {total} (off by {total - lines - tax})",
    )


def canonical_frame(accepted: pl.DataFrame, source: str) -> pl.DataFrame:
    """The typed invoice rows, posting_date defaulted to invoice_date, in one chunk per column.

    Columns computed along the way are chunked differently from the ones polars read; aligning
    them once here spares every later filter or check an implicit copy. `accepted` is consumed
    (emptied): helper columns go first, then each column is taken out as it is copied, so the
    copy never holds more than one column twice.
    """
    height = accepted.height
    for name in [c for c in accepted.columns if c not in COLUMNS]:
        accepted.drop_in_place(name)
    columns: dict[str, pl.Series] = {}
    for name in COLUMNS:
        if name in accepted.columns:
            columns[name] = accepted.drop_in_place(name).rechunk()
    columns["posting_date"] = columns["posting_date"].fill_null(columns["invoice_date"])
    columns["source_file"] = pl.repeat(source, height, dtype=pl.String, eager=True)
    return pl.DataFrame([columns[name].alias(name) for name in COLUMNS])


def build_documents(frame: pl.DataFrame) -> list[ParsedDocument]:
    """One document per invoice, in order of first appearance, lines by line number.

    Each invoice's canonical JSON text is written in polars (a JSON object per line, joined per
    invoice, wrapped in the header's object), so Python only hashes one string and makes one
    `ParsedDocument` per invoice; the payload dict is parsed from that text when it is read.
    Invoices are serialized `DOCUMENT_BATCH` at a time, so polars' intermediate copies stay
    small next to the documents themselves.
    """
    if frame.height == 0:
        return []
    ordered = _lines_in_order(frame)
    schema = ordered.schema
    runs = ordered.get_column(RUN)
    documents: list[ParsedDocument] = []
    first_run = 0
    last_run = int(runs[-1])
    # Hundreds of thousands of new tuples would trigger the cyclic collector again and again,
    # each pass walking every document made so far; none of them can be part of a cycle.
    collecting = gc.isenabled()
    gc.disable()
    try:
        while first_run <= last_run:
            upto = first_run + DOCUMENT_BATCH
            begin = runs.search_sorted(first_run, side="left")
            end = runs.search_sorted(upto, side="left")
            documents.extend(_documents(ordered.slice(begin, end - begin), schema))
            first_run = upto
    finally:
        if collecting:
            gc.enable()
    return documents


def _documents(ordered: pl.DataFrame, schema: pl.Schema) -> list[ParsedDocument]:
    per_invoice = (
        ordered.lazy()
        .group_by(RUN, maintain_order=True)
        .agg(
            pl.col("invoice_id", *HEADER).first(),
            json_object(schema, dict.fromkeys(LINE)).alias("__lines"),
            pl.len().alias("__count"),
        )
        .select(
            # Binary: Python gets bytes to hash as they are, no decoding to str and back.
            json_object(
                schema,
                {
                    "invoice_id": None,
                    **dict.fromkeys(HEADER),
                    "lines": pl.concat_str(
                        pl.lit("["), pl.col("__lines").list.join(","), pl.lit("]")
                    ),
                },
            ).cast(pl.Binary),
            pl.concat_str("vendor_id", "invoice_number", "document_type", separator="|"),
            pl.col("__count"),
            pl.col("posting_date"),
            pl.col("invoice_total").cast(pl.String),
            pl.col("currency"),
        )
        .collect()
    )
    rows = ordered.get_column("source_row").to_list()  # flat, sliced per invoice below
    documents: list[ParsedDocument] = []
    begin = 0
    for text, identity, count, day, total, currency in zip(
        *(column.to_list() for column in per_invoice.get_columns()), strict=True
    ):
        documents.append(
            ParsedDocument(
                kind=KIND,
                identity=identity,
                content_hash=hashlib.sha256(text).hexdigest(),
                # An XML invoice's lines all carry its own row.
                rows=tuple(sorted(set(rows[begin : begin + count]))),
                payload_json=text,
                document_day=day,
                amount=Decimal(total),
                currency=currency,
            )
        )
        begin += count
    return documents


def _lines_in_order(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with run ids (`RUN`), each invoice's rows adjacent and by line number.

    The parser's frame is already so ordered (Stampli writes lines in order): then the sort,
    a full copy of every column, is skipped.
    """
    grouped = with_runs(frame, "invoice_id")
    same = pl.col(RUN) == pl.col(RUN).shift(1)
    out_of_order = same & (pl.col("line_number") <= pl.col("line_number").shift(1))
    if grouped.select(out_of_order.fill_null(False).any()).item():
        grouped = grouped.sort(RUN, "line_number", maintain_order=True).with_columns(
            pl.col(RUN).set_sorted()
        )
    return grouped
