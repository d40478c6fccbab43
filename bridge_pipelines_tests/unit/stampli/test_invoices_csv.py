"""Approved invoices CSV: encodings, quoting, and every invoice rule, with located errors."""

import hashlib
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import polars as pl
import pytest

from bridge_pipelines.stampli.parse import ParseResult, parse_export
from bridge_pipelines.tenants.models import FileTemplate
from bridge_pipelines_tests.support.stampli_builders import (
    INVOICES_CSV,
    fixture,
    invoice_rows,
    to_csv,
    with_changes,
)

NAME = "approved_invoices_20261121_141500.csv"


def parse(data: bytes, **kwargs: object) -> ParseResult:
    return parse_export("invoices", data, source=NAME, **kwargs)  # type: ignore[arg-type]


def accepted_ids(result: ParseResult) -> set[str]:
    return set(result.frame.get_column("invoice_id").to_list())


def assert_accounted(result: ParseResult) -> None:
    assert result.rows_total == result.rows_accepted + result.rows_rejected


def test_good_file_yields_typed_rows_and_documents() -> None:
    result = parse(fixture(INVOICES_CSV))
    assert result.errors == []
    assert result.rows_total == result.rows_accepted == 4
    frame = result.frame
    assert frame.schema["invoice_total"] == pl.Decimal(18, 2)
    assert frame.schema["line_amount"] == pl.Decimal(18, 2)
    assert frame.schema["invoice_date"] == pl.Date
    assert frame.schema["approved_at"] == pl.Datetime("us", "UTC")
    assert frame.schema["line_number"] == pl.Int32
    first = frame.row(0, named=True)
    assert first["invoice_total"] == Decimal("1140.00")
    assert first["approved_at"] == datetime(2026, 11, 21, 18, 2, 11, tzinfo=UTC)
    assert first["source_file"] == NAME and first["source_row"] == 1
    # Empty PostingDate means InvoiceDate.
    sti_1002 = frame.filter(pl.col("invoice_id") == "STI-1002").row(0, named=True)
    assert sti_1002["posting_date"] == date(2026, 11, 18)
    docs = {d.identity: d for d in result.documents}
    assert set(docs) == {
        "V-0042|A-4411|Invoice",
        "V-0107|RE-2026/118|Invoice",
        "V-0042|CM-77|CreditMemo",
    }
    invoice = docs["V-0042|A-4411|Invoice"]
    assert invoice.rows == (1, 2)
    assert invoice.amount == Decimal("1140.00") and invoice.currency == "USD"
    assert invoice.document_day == date(2026, 11, 21)
    assert [line["line_amount"] for line in invoice.payload["lines"]] == ["1000.00", "50.00"]
    assert docs["V-0042|CM-77|CreditMemo"].amount == Decimal("-109.00")


def test_bom_and_crlf_parse_like_the_plain_file() -> None:
    plain = parse(fixture(INVOICES_CSV))
    messy = parse(to_csv(invoice_rows(), bom=True, crlf=True))
    assert messy.errors == []
    assert messy.frame.columns[0] == "invoice_id"
    assert messy.frame.drop("source_file").equals(plain.frame.drop("source_file"))
    assert [d.content_hash for d in messy.documents] == [d.content_hash for d in plain.documents]


def test_quoted_commas_quotes_newlines_and_unicode_survive() -> None:
    result = parse(fixture(INVOICES_CSV))
    descriptions = result.frame.get_column("line_description").to_list()
    assert descriptions[1] == 'Cable "Cat6", 2m\nsecond line of the description'
    assert descriptions[2] == "Ersatzteile für Förderband — 東京精密"
    assert result.frame.get_column("vendor_name")[2] == 'Müller & Söhne "Präzision" GmbH'
    # A quoted newline does not start a record: STI-1002 is data record 3.
    assert result.frame.get_column("source_row").to_list() == [1, 2, 3, 4]


def test_header_only_file_yields_nothing_and_no_error() -> None:
    result = parse(fixture(INVOICES_CSV).split(b"\n")[0] + b"\n")
    assert result.errors == [] and result.documents == []
    assert result.rows_total == 0 and result.frame.height == 0
    assert "invoice_total" in result.frame.columns


def test_blank_lines_are_not_rows() -> None:
    data = fixture(INVOICES_CSV).replace(b"Invoice\nSTI-1003", b"Invoice\n\nSTI-1003")
    result = parse(data + b"\n\n")
    assert result.errors == []
    assert result.rows_total == 4


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12.345", "'12.345' has 3 decimals"),
        ("1,000.00", "thousands separator"),
        ("1e3", "exponent"),
        ("NaN", "is not a decimal amount"),
        ("", "is required"),
    ],
)
def test_bad_money_is_located_and_rejects_the_invoice(value: str, expected: str) -> None:
    rows = with_changes(invoice_rows(), 1, LineAmount=value)
    result = parse(to_csv(rows))
    assert_accounted(result)
    assert accepted_ids(result) == {"STI-1002", "STI-1003"}
    located = [e for e in result.errors if e.field == "LineAmount"]
    assert len(located) == 1
    error = located[0]
    assert error.row == 2 and expected in error.message
    assert error.document == "invoice STI-1001"
    assert str(error).startswith(f"{NAME} row 2, field LineAmount: ")
    assert str(error).endswith("(invoice STI-1001)")
    # The good line of the bad invoice is refused too, naming its invoice.
    sibling = [e for e in result.errors if e.row == 1]
    assert sibling and sibling[0].document == "invoice STI-1001"
    assert (
        sibling[0].message
    ) == "refused with its invoice, which has an error at row 2 (field LineAmount)"


def test_lines_not_adding_up_reject_the_invoice() -> None:
    rows = with_changes(invoice_rows(), 0, LineAmount="999.99")
    result = parse(to_csv(rows))
    assert_accounted(result)
    assert accepted_ids(result) == {"STI-1002", "STI-1003"}
    total_error = next(e for e in result.errors if e.field == "InvoiceTotal")
    assert total_error.row == 1
    assert "1049.99" in total_error.message and "1140.00" in total_error.message
    assert {e.row for e in result.errors} == {1, 2}


def test_mixed_currency_in_one_invoice() -> None:
    rows = with_changes(invoice_rows(), 1, Currency="EUR")
    result = parse(to_csv(rows))
    assert_accounted(result)
    error = next(e for e in result.errors if e.field == "Currency")
    assert error.row == 2 and "mixed currencies" in error.message
    assert "'EUR'" in error.message and "'USD'" in error.message
    assert "STI-1001" not in accepted_ids(result)


def test_header_fields_must_agree_across_lines() -> None:
    rows = with_changes(invoice_rows(), 1, InvoiceDate="2026-11-19")
    result = parse(to_csv(rows))
    error = next(e for e in result.errors if e.field == "InvoiceDate")
    assert error.row == 2 and "differs between the lines" in error.message


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("InvoiceDate", "2026-02-30", "not a real calendar date"),
        ("DueDate", "2026-13-01", "not a real calendar date"),
        ("PostingDate", "21/11/2026", "not a date in the format"),
        ("DueDate", "2026-11-01", "is before InvoiceDate"),
        ("ApprovedAt", "2026-11-21T13:02:11", "ISO 8601 timestamp with offset"),
        ("ApprovedAt", "2026-11-31T13:02:11Z", "not a real date and time"),
    ],
)
def test_impossible_dates_are_located(column: str, value: str, expected: str) -> None:
    rows = [dict(r) for r in invoice_rows()]
    rows[3][column] = value  # STI-1003, a one-line credit memo
    result = parse(to_csv(rows))
    assert_accounted(result)
    error = next(e for e in result.errors if e.field == column)
    assert error.row == 4 and expected in error.message
    assert accepted_ids(result) == {"STI-1001", "STI-1002"}


def test_duplicate_line_numbers() -> None:
    rows = with_changes(invoice_rows(), 1, LineNumber="1")
    result = parse(to_csv(rows))
    error = next(e for e in result.errors if e.field == "LineNumber")
    assert error.row == 2 and "appears twice" in error.message and "row 1" in error.message
    assert "STI-1001" not in accepted_ids(result)


def test_line_numbers_start_at_one() -> None:
    result = parse(to_csv(with_changes(invoice_rows(), 2, LineNumber="0")))
    error = next(e for e in result.errors if e.field == "LineNumber")
    assert error.row == 3 and "start at 1" in error.message


def test_credit_memo_must_be_negative_and_invoice_positive() -> None:
    rows = [dict(r) for r in invoice_rows()]
    rows[3].update(InvoiceTotal="109.00", TaxAmount="9.00", LineAmount="100.00")
    rows[2].update(DocumentType="CreditMemo")
    result = parse(to_csv(rows))
    assert_accounted(result)
    assert accepted_ids(result) == {"STI-1001"}
    messages = {(e.row, e.field): e.message for e in result.errors}
    assert "must be negative" in messages[(4, "InvoiceTotal")]
    assert "must not be positive" in messages[(4, "LineAmount")]
    assert "must be negative" in messages[(3, "InvoiceTotal")]


def test_invoice_number_length_and_document_type() -> None:
    rows = with_changes(invoice_rows(), 3, InvoiceNumber="X" * 31)
    rows[2]["DocumentType"] = "Bill"
    result = parse(to_csv(rows))
    messages = {(e.row, e.field): e.message for e in result.errors}
    assert "longer than 30" in messages[(4, "InvoiceNumber")]
    assert "not one of Invoice, CreditMemo" in messages[(3, "DocumentType")]


def test_one_bad_invoice_does_not_stop_the_good_ones() -> None:
    rows = with_changes(invoice_rows(), 2, TaxAmount="47.6O")  # letter O
    result = parse(to_csv(rows))
    assert_accounted(result)
    assert result.rows_accepted == 3 and result.rows_rejected == 1
    assert {d.identity for d in result.documents} == {
        "V-0042|A-4411|Invoice",
        "V-0042|CM-77|CreditMemo",
    }
    (error,) = result.errors
    assert (error.row, error.field, error.document) == (3, "TaxAmount", "invoice STI-1002")


def test_same_invoice_number_under_two_invoice_ids_is_refused() -> None:
    rows = with_changes(invoice_rows(), 2, VendorId="V-0042", InvoiceNumber="A-4411")
    result = parse(to_csv(rows))
    assert accepted_ids(result) == {"STI-1003"}
    assert any("more than one InvoiceId" in e.message for e in result.errors)


def test_interleaved_lines_still_group_by_invoice() -> None:
    rows = invoice_rows()
    shuffled = [rows[0], rows[2], rows[1], rows[3]]
    result = parse(to_csv(shuffled))
    assert result.errors == []
    plain = parse(fixture(INVOICES_CSV))
    assert {d.identity: d.content_hash for d in result.documents} == {
        d.identity: d.content_hash for d in plain.documents
    }
    sti_1001 = next(d for d in result.documents if d.payload["invoice_id"] == "STI-1001")
    assert sti_1001.rows == (1, 3)


def test_content_hash_ignores_file_name_and_sees_every_change() -> None:
    base = parse(fixture(INVOICES_CSV)).documents[0]
    renamed = parse_export("invoices", fixture(INVOICES_CSV), source="other_name.csv")
    assert renamed.documents[0].content_hash == base.content_hash
    changed = parse(to_csv(with_changes(invoice_rows(), 1, LineDescription="Cable")))
    assert changed.documents[0].identity == base.identity
    assert changed.documents[0].content_hash != base.content_hash


def test_content_hash_is_pinned() -> None:
    """A change here would make every re-exported invoice look changed: keep it stable."""
    docs = parse(fixture(INVOICES_CSV)).documents
    assert docs[0].payload == GOLDEN_PAYLOAD
    canonical = json.dumps(
        GOLDEN_PAYLOAD, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    assert docs[0].content_hash == hashlib.sha256(canonical.encode()).hexdigest() == GOLDEN_HASH


GOLDEN_HASH = "33fd0a578edb66b9434f1ee4f2e6d1854e82c48d4b6c300ef5935b3da72b9ec6"
GOLDEN_PAYLOAD = {
    "invoice_id": "STI-1001",
    "invoice_number": "A-4411",
    "vendor_id": "V-0042",
    "vendor_name": "Acme Components",
    "invoice_date": "2026-11-20",
    "due_date": "2026-12-20",
    "posting_date": "2026-11-21",
    "currency": "USD",
    "invoice_total": "1140.00",
    "tax_amount": "90.00",
    "po_number": "PO-7781",
    "approved_by": "j.doe",
    "approved_at": "2026-11-21T18:02:11+00:00",
    "document_type": "Invoice",
    "lines": [
        {
            "line_number": 1,
            "line_description": "Capacitors, 10uF",
            "gl_account": "6100",
            "cost_center": "CC-EAST",
            "line_amount": "1000.00",
        },
        {
            "line_number": 2,
            "line_description": 'Cable "Cat6", 2m\nsecond line of the description',
            "gl_account": "6100",
            "cost_center": None,
            "line_amount": "50.00",
        },
    ],
}


def test_template_renames_columns_and_messages_use_tenant_names() -> None:
    renames = {"Inv Id": "InvoiceId", "Amount": "LineAmount", "Posting": "PostingDate"}
    reverse = {v: k for k, v in renames.items()}
    rows = [{reverse.get(k, k): v for k, v in row.items()} for row in invoice_rows()]
    rows[0]["Amount"] = "1000.001"
    for row in rows:
        for column in ("InvoiceDate", "DueDate", "Posting"):
            if row[column]:
                year, month, day = row[column].split("-")
                row[column] = f"{day}.{month}.{year}"
        for column in ("InvoiceTotal", "TaxAmount", "Amount"):
            row[column] = row[column].replace(".", ",")
    template = FileTemplate(columns=renames, date_format="%d.%m.%Y", decimal_separator=",")
    result = parse(to_csv(rows), template=template)
    assert_accounted(result)
    assert accepted_ids(result) == {"STI-1002", "STI-1003"}
    error = next(e for e in result.errors if e.row == 1)
    assert error.field == "Amount" and "3 decimals" in error.message
    frame = result.frame.filter(pl.col("invoice_id") == "STI-1002")
    assert frame.get_column("invoice_total")[0] == Decimal("298.10")
    assert frame.get_column("invoice_date")[0] == date(2026, 11, 18)


def test_thousands_separator_with_comma_decimals() -> None:
    rows = [dict(r) for r in invoice_rows()]
    for row in rows:
        for column in ("InvoiceTotal", "TaxAmount", "LineAmount"):
            row[column] = row[column].replace(".", ",")
    rows[0]["InvoiceTotal"] = rows[1]["InvoiceTotal"] = "1.140,00"
    result = parse(to_csv(rows), template=FileTemplate(decimal_separator=","))
    error = next(e for e in result.errors if e.field == "InvoiceTotal")
    assert "thousands separator" in error.message
    assert accepted_ids(result) == {"STI-1002", "STI-1003"}
