"""Whole-file refusals: each names the file and, where it applies, the column, row or byte."""

import pytest

from bridge_pipelines.errors import FileRejectedError
from bridge_pipelines.stampli.parse import parse_export
from bridge_pipelines_tests.support.stampli_builders import (
    INVOICES_CSV,
    fixture,
    invoice_rows,
    to_csv,
)

NAME = "approved_invoices_20261121_141500.csv"


def refuse(data: bytes, **kwargs: object) -> str:
    with pytest.raises(FileRejectedError) as caught:
        parse_export("invoices", data, source=NAME, **kwargs)  # type: ignore[arg-type]
    message = str(caught.value)
    assert message.startswith(NAME)
    return message


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"  \r\n\n"])
def test_empty_file(data: bytes) -> None:
    assert "empty file" in refuse(data)


def test_binary_garbage_names_the_byte_offset() -> None:
    message = refuse(b"InvoiceId,Inv\x00oiceNumber\n\x89PNG")
    assert "binary" in message and "byte offset 13" in message


def test_not_utf8_names_the_byte_offset() -> None:
    latin1 = fixture(INVOICES_CSV).replace("Müller".encode(), "Müller".encode("latin-1"))
    offset = latin1.index(b"M\xfcller") + 1
    message = refuse(latin1)
    assert "not UTF-8" in message and f"byte offset {offset}" in message and "0xfc" in message


def test_missing_required_column_is_named() -> None:
    rows = invoice_rows()
    header = [c for c in rows[0] if c not in ("LineAmount", "Currency")]
    message = refuse(to_csv(rows, header))
    assert "missing required column(s) Currency, LineAmount" in message


def test_optional_columns_may_be_absent() -> None:
    rows = invoice_rows()
    header = [c for c in rows[0] if c not in ("PONumber", "CostCenter", "PostingDate")]
    result = parse_export("invoices", to_csv(rows, header), source=NAME)
    assert result.errors == [] and result.rows_accepted == 4


def test_unknown_extra_column_is_listed() -> None:
    rows = [dict(r, Notes="x", Extra2="y") for r in invoice_rows()]
    message = refuse(to_csv(rows))
    assert "unknown column(s) 'Notes', 'Extra2'" in message


def test_duplicate_column_is_refused() -> None:
    data = fixture(INVOICES_CSV).replace(b"ApprovedBy", b"Currency", 1)
    assert "appears twice" in refuse(data)


def test_too_many_rows() -> None:
    message = refuse(fixture(INVOICES_CSV), max_rows=3)
    assert "too many rows" in message and "3" in message


def test_row_with_extra_fields_is_located() -> None:
    lines = fixture(INVOICES_CSV).split(b"\n")
    lines[4] = lines[4] + b",surplus"  # STI-1002 is data record 3 (record 2 spans 2 lines)
    message = refuse(b"\n".join(lines))
    assert "malformed CSV at row 3" in message and "fields" in message


def test_unclosed_quote_is_located() -> None:
    data = fixture(INVOICES_CSV) + b'STI-9,"unterminated,V-1\n'
    assert "malformed CSV" in refuse(data)


def test_xml_for_a_csv_only_kind_is_refused() -> None:
    with pytest.raises(FileRejectedError, match=r"payments_1\.xml: XML is supported for"):
        parse_export("payments", b"<x/>", source="payments_1.xml")


def test_unsupported_format() -> None:
    with pytest.raises(FileRejectedError, match="unsupported format"):
        parse_export("invoices", b"a", source=NAME, fmt="xlsx")  # type: ignore[arg-type]
