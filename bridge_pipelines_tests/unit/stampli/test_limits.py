"""The parser's bounds, exactly: column count, cell size, row errors kept per file."""

import pytest

from bridge_pipelines.errors import FileRejectedError
from bridge_pipelines.stampli.limits import MAX_CELL_BYTES, MAX_COLUMNS, MAX_ROW_ERRORS
from bridge_pipelines.stampli.parse import parse_export
from bridge_pipelines_tests.support.stampli_builders import (
    INVOICES_XML,
    PAYMENTS_CSV,
    fixture,
    rows_of,
    to_csv,
)


def test_payment_errors_are_capped_and_every_row_still_accounted_for() -> None:
    good = rows_of(PAYMENTS_CSV)
    bad = [dict(good[0], PaymentId=f"PAY-X{n}", Amount="ten") for n in range(MAX_ROW_ERRORS + 500)]
    result = parse_export("payments", to_csv([*good, *bad]), source=PAYMENTS_CSV)
    assert result.rows_total == len(good) + len(bad)
    assert result.rows_rejected == len(bad)
    assert result.rows_accepted == len(good) == len(result.documents)
    assert len(result.errors) == MAX_ROW_ERRORS + 1
    assert result.errors[0].row == len(good) + 1 and result.errors[0].field == "Amount"
    summary = result.errors[-1]
    assert (summary.row, summary.field, summary.document) == (None, None, None)
    assert summary.message == (
        "and 500 more row errors of these kinds: field Amount (500); only the first 1,000 of "
        "a file are kept"
    )


def test_below_the_cap_nothing_is_summarised() -> None:
    good = rows_of(PAYMENTS_CSV)
    bad = [dict(good[0], PaymentId=f"PAY-X{n}", Amount="ten") for n in range(10)]
    result = parse_export("payments", to_csv([*good, *bad]), source=PAYMENTS_CSV)
    assert len(result.errors) == 10
    assert all(e.row is not None for e in result.errors)


def test_the_column_cap_counts_quoted_commas_as_text() -> None:
    # 150 commas on the line, but inside quotes: two columns, refused as unknown, not as many.
    header = '"a' + "," * (MAX_COLUMNS + 50) + '",PaymentId\n'
    with pytest.raises(FileRejectedError, match="unknown column") as caught:
        parse_export("payments", header.encode() + b"x,y\n", source="p.csv")
    assert "columns; at most" not in str(caught.value)
    wide = ",".join(f"c{n}" for n in range(MAX_COLUMNS + 1)) + "\n"
    with pytest.raises(FileRejectedError, match=r"^p\.csv: the header has 201 columns; at most"):
        parse_export("payments", wide.encode(), source="p.csv")


def test_a_long_cell_in_xml_refuses_its_invoice_only() -> None:
    data = fixture(INVOICES_XML).decode()
    long_text = "y" * (MAX_CELL_BYTES + 1)
    data = data.replace("<Description>", f"<Description>{long_text}", 1)
    result = parse_export("invoices", data.encode(), source=INVOICES_XML)
    (error,) = [e for e in result.errors if e.field == "Line/Description"]
    assert error.row == 1
    assert error.message.startswith(f"is {MAX_CELL_BYTES + 1 + len('Capacitors, 10uF'):,} bytes")
    assert result.documents, "the other invoices of the file still flow"


def test_an_unknown_element_after_the_invoices_still_refuses_the_file() -> None:
    data = fixture(INVOICES_XML).replace(b"</StampliExport>", b"<Note/></StampliExport>")
    with pytest.raises(FileRejectedError, match=r"unknown element\(s\) <Note> under"):
        parse_export("invoices", data, source=INVOICES_XML)
