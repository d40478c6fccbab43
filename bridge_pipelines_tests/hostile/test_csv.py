"""Hostile CSV: arbitrary bytes and mutated Stampli exports, parsed as a tenant's file would be.

Properties, for every input: the parser either refuses the whole file with a message naming it,
or accounts for every record (accepted, or refused with an error naming file, row and field);
it never raises anything else, never reports its own safety net firing ("internal check
failed"), accepted amounts are exact Decimals that add up, and valid invoices are accepted
whatever the invoices around them look like.
"""

import csv
import io
from collections import defaultdict
from decimal import Decimal

import polars as pl
import pytest
from hypothesis import example, given, note
from hypothesis import strategies as st

from bridge_pipelines.errors import FileRejectedError
from bridge_pipelines.stampli.gl_accounts import GL_ACCOUNTS
from bridge_pipelines.stampli.invoices import FIELDS
from bridge_pipelines.stampli.parse import ParseResult, parse_export
from bridge_pipelines.stampli.payments import PAYMENTS
from bridge_pipelines.stampli.vendors import VENDORS
from bridge_pipelines.tenants.models import FILE_KINDS, FileKind
from bridge_pipelines_tests.hostile.strategies import (
    HEADER,
    HOSTILE_BY_TYPE,
    NAME,
    Export,
    byte_mutations,
    exports,
    legal_text,
    render,
)
from bridge_pipelines_tests.support.stampli_builders import (
    GL_CSV,
    INVOICES_CSV,
    PAYMENTS_CSV,
    VENDORS_CSV,
    fixture,
    rows_of,
)

COLUMNS: dict[str, list[str]] = {
    "invoices": [f.column for f in FIELDS],
    "payments": [f.column for f in PAYMENTS.fields],
    "vendors": [f.column for f in VENDORS.fields],
    "gl_accounts": [f.column for f in GL_ACCOUNTS.fields],
}
RECORD_FIXTURES = {"payments": PAYMENTS_CSV, "vendors": VENDORS_CSV, "gl_accounts": GL_CSV}
MONEY_COLUMNS = ("invoice_total", "tax_amount", "line_amount")


def lines_in(data: bytes) -> int:
    return data.count(b"\n") + data.count(b"\r") + 1


def parse(kind: FileKind, data: bytes) -> ParseResult | None:
    """The parse result, or None when the whole file is refused (with a message naming it)."""
    try:
        return parse_export(kind, data, source=NAME)
    except FileRejectedError as exc:
        assert str(exc).startswith(f"{NAME}: "), exc
        return None
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # a Rust panic in polars is a BaseException
        raise AssertionError(f"parser raised {type(exc).__name__}: {exc}") from exc


def check_accounted(result: ParseResult, columns: list[str], max_row: int) -> None:
    """Every record is accepted or refused with located errors; no safety-net failures.

    `max_row` bounds the row numbers: blank lines keep their record number without being rows,
    so a row number may exceed `rows_total`, never the records in the file.
    """
    assert result.rows_total == result.rows_accepted + result.rows_rejected
    accepted = (
        set(result.frame.get_column("source_row").to_list()) if result.frame.height else set()
    )
    errors_by_document: dict[str | None, list[str | None]] = defaultdict(list)
    for error in result.errors:
        assert error.source == NAME
        assert error.row is not None and 1 <= error.row <= max_row, error
        assert error.row not in accepted, f"row {error.row} both accepted and refused"
        assert error.field is None or error.field in columns, error
        assert str(error).startswith(f"{NAME} row {error.row}"), error
        assert "internal check failed" not in error.message, str(error)
        errors_by_document[error.document].append(error.field)
    for document, fields in errors_by_document.items():
        assert any(fields), f"{document}: refused, but no error names a field"


def check_money(result: ParseResult) -> None:
    """Accepted amounts are exact Decimals and every accepted invoice adds up to the cent."""
    for column in MONEY_COLUMNS:
        assert result.frame.schema[column] == pl.Decimal(18, 2)
    for document in result.documents:
        payload = document.payload
        total = Decimal(payload["invoice_total"])
        lines = sum((Decimal(line["line_amount"]) for line in payload["lines"]), Decimal(0))
        assert isinstance(document.amount, Decimal)
        assert document.amount == total
        assert lines + Decimal(payload["tax_amount"]) == total, payload


def check_export(export: Export, result: ParseResult | None) -> None:
    note(f"encoding={export.encoding} bom={export.bom} quoting={export.quoting}")
    if result is None:
        assert not export.utf8_text, "a UTF-8 text file written by csv.writer was refused whole"
        return
    check_accounted(result, export.columns, len(export.rows))
    check_money(result)
    rows_of_invoice: dict[str, set[int]] = defaultdict(set)
    first_row: dict[str, dict[str, str]] = {}
    for number, (invoice_id, cells) in enumerate(export.rows, start=1):
        rows_of_invoice[invoice_id].add(number)
        first_row.setdefault(cells["InvoiceId"], cells)
    documents = {d.payload["invoice_id"]: d for d in result.documents}
    for invoice in export.invoices:
        if not invoice.good:
            continue
        errors = [str(e) for e in result.errors if e.row in rows_of_invoice[invoice.invoice_id]]
        assert invoice.invoice_id in documents, f"good {invoice.invoice_id} refused: {errors}"
        document = documents[invoice.invoice_id]
        assert set(document.rows) == rows_of_invoice[invoice.invoice_id]
        assert document.amount == Decimal(invoice.total_cents) / 100
        assert Decimal(document.payload["tax_amount"]) == Decimal(invoice.tax_cents) / 100
        by_number = {int(line["line_number"]): line for line in document.payload["lines"]}
        for cells, cents in zip(invoice.lines, invoice.line_cents, strict=True):
            line = by_number[int(cells["LineNumber"])]
            assert Decimal(line["line_amount"]) == Decimal(cents) / 100
        posting = invoice.header["PostingDate"] or invoice.header["InvoiceDate"]
        assert document.payload["posting_date"] == posting
    for invoice_id, document in documents.items():
        # What was accepted is what was written, to the cent, never a reinterpretation.
        written = first_row[invoice_id]
        assert document.amount == Decimal(written["InvoiceTotal"])


@given(st.binary(max_size=2000), st.sampled_from(FILE_KINDS))
@example(b'"\n', "invoices")
@example(b"\xef\xbb\xbf", "invoices")
@example(b"\r\r\r", "vendors")
@example(b'a\n"', "gl_accounts")
def test_arbitrary_bytes_are_refused_or_accounted(data: bytes, kind: FileKind) -> None:
    result = parse(kind, data)
    if result is not None:
        check_accounted(result, COLUMNS[kind], lines_in(data))


@given(st.sampled_from(FILE_KINDS), st.binary(max_size=600))
def test_arbitrary_bytes_after_a_valid_header(kind: FileKind, tail: bytes) -> None:
    result = parse(kind, ",".join(COLUMNS[kind]).encode() + b"\n" + tail)
    if result is not None:
        check_accounted(result, COLUMNS[kind], lines_in(tail))


@given(exports())
def test_mutated_exports_good_invoices_flow_and_totals_are_exact(export: Export) -> None:
    check_export(export, parse("invoices", export.data))


@given(st.data())
def test_byte_mutated_exports_never_crash(data: st.DataObject) -> None:
    export = data.draw(exports(max_good=2, max_bad=1))
    mutated = data.draw(byte_mutations(export.data))
    result = parse("invoices", mutated)
    if result is not None:
        check_accounted(result, HEADER, lines_in(mutated))
        check_money(result)


@given(
    st.sampled_from(sorted(RECORD_FIXTURES)),
    st.lists(st.tuples(st.integers(0, 10), st.integers(0, 20), st.data()), max_size=4),
    st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]),
)
def test_record_exports_with_hostile_cells(
    kind: FileKind, edits: list[tuple[int, int, st.DataObject]], quoting: int
) -> None:
    rows = rows_of(RECORD_FIXTURES[kind])
    columns = COLUMNS[kind]
    types = {
        f.column: f.type
        for f in {"payments": PAYMENTS, "vendors": VENDORS}.get(kind, GL_ACCOUNTS).fields
    }
    for row_index, column_index, data in edits:
        column = columns[column_index % len(columns)]
        pool = HOSTILE_BY_TYPE.get(types[column], [])
        value = data.draw(st.one_of(legal_text, st.sampled_from(pool or [""])))
        rows[row_index % len(rows)][column] = value
    data_bytes = render(rows, columns, quoting=quoting, newline="\n").encode()
    result = parse(kind, data_bytes)
    assert result is not None, "a UTF-8 file written by csv.writer was refused whole"
    check_accounted(result, columns, len(rows))
    for document in result.documents:
        if document.amount is not None:
            assert isinstance(document.amount, Decimal)
            assert document.amount == Decimal(document.payload["amount"])


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        ("invoices", INVOICES_CSV),
        ("payments", PAYMENTS_CSV),
        ("vendors", VENDORS_CSV),
        ("gl_accounts", GL_CSV),
    ],
)
def test_every_field_quoted_reads_like_the_minimal_quoting(kind: FileKind, name: str) -> None:
    """Writers that quote every field ("" for empty) must not turn empty cells into errors."""
    rows = rows_of(name)
    out = io.StringIO(newline="")
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(list(rows[0]))
    writer.writerows([list(r.values()) for r in rows])
    quoted = parse_export(kind, out.getvalue().encode(), source=NAME)
    plain = parse_export(kind, fixture(name), source=NAME)
    assert [str(e) for e in quoted.errors] == [str(e) for e in plain.errors]
    assert quoted.frame.drop("source_file").equals(plain.frame.drop("source_file"))


def test_required_cell_quoted_empty_is_refused_as_empty() -> None:
    rows = rows_of(INVOICES_CSV)
    rows[0]["ApprovedBy"] = ""
    out = io.StringIO(newline="")
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(list(rows[0]))
    writer.writerows([list(r.values()) for r in rows])
    result = parse_export("invoices", out.getvalue().encode(), source=NAME)
    [error] = [e for e in result.errors if e.row == 1]
    assert (error.field, error.message) == ("ApprovedBy", "is required but empty")
