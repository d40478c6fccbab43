"""Approved invoices XML: the same invoices as the CSV, and a hardened parser."""

import pytest
from lxml import etree

from bridge_pipelines.errors import FileRejectedError
from bridge_pipelines.stampli.parse import parse_export
from bridge_pipelines.stampli.xml_safety import parse_safely, safe_parser
from bridge_pipelines_tests.support.stampli_builders import INVOICES_CSV, INVOICES_XML, fixture

NAME = "approved_invoices_20261121_141500.xml"


def refuse(data: bytes) -> str:
    with pytest.raises(FileRejectedError) as caught:
        parse_export("invoices", data, source=NAME)
    assert str(caught.value).startswith(NAME)
    return str(caught.value)


def test_xml_equals_csv_identities_hashes_and_rows() -> None:
    xml = parse_export("invoices", fixture(INVOICES_XML), source=NAME)
    csv = parse_export("invoices", fixture(INVOICES_CSV), source="x.csv")
    assert xml.errors == []
    assert xml.rows_total == xml.rows_accepted == 3  # three <Invoice> elements
    assert [(d.identity, d.content_hash) for d in xml.documents] == [
        (d.identity, d.content_hash) for d in csv.documents
    ]
    assert [d.payload for d in xml.documents] == [d.payload for d in csv.documents]
    assert xml.documents[1].rows == (2,)
    columns = [c for c in csv.frame.columns if c not in ("source_file", "source_row")]
    assert xml.frame.select(columns).equals(csv.frame.select(columns))


def test_format_is_sniffed_without_a_suffix() -> None:
    result = parse_export("invoices", fixture(INVOICES_XML), source="export_without_suffix")
    assert result.rows_accepted == 3


def test_bad_invoice_in_xml_is_located_by_invoice_index() -> None:
    data = fixture(INVOICES_XML).replace(b"<Amount>250.50</Amount>", b"<Amount>250.505</Amount>")
    result = parse_export("invoices", data, source=NAME)
    assert result.rows_accepted == 2 and result.rows_rejected == 1
    (error,) = result.errors
    assert (error.row, error.field, error.document) == (2, "Line/Amount", "invoice STI-1002")
    assert "3 decimals" in error.message


def test_invoice_without_lines_is_refused_not_dropped() -> None:
    start = fixture(INVOICES_XML).index(b"<Lines>", fixture(INVOICES_XML).index(b"STI-1003"))
    end = fixture(INVOICES_XML).index(b"</Lines>", start) + len(b"</Lines>")
    data = fixture(INVOICES_XML)[:start] + b"<Lines/>" + fixture(INVOICES_XML)[end:]
    result = parse_export("invoices", data, source=NAME)
    assert result.rows_accepted == 2
    fields = {e.field for e in result.errors if e.row == 3}
    assert "Line/@number" in fields and "Line/Amount" in fields


def test_doctype_is_refused() -> None:
    data = fixture(INVOICES_XML).replace(
        b"?>\n", b"?>\n<!DOCTYPE StampliExport [<!ELEMENT StampliExport ANY>]>\n", 1
    )
    assert "DOCTYPE" in refuse(data)


def test_external_entity_is_refused() -> None:
    data = (
        b'<?xml version="1.0"?>\n<!-- c -->\n<!DOCTYPE x [<!ENTITY xxe SYSTEM '
        b'"file:///etc/passwd">]>\n<StampliExport><Invoice id="&xxe;"/></StampliExport>'
    )
    message = refuse(data)
    assert "DOCTYPE" in message and "root:" not in message


def test_billion_laughs_is_refused() -> None:
    entities = b"".join(
        b'<!ENTITY l%d "&l%d;&l%d;&l%d;&l%d;&l%d;&l%d;&l%d;&l%d;&l%d;&l%d;">' % (i, *([i - 1] * 10))
        for i in range(1, 10)
    )
    data = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY l0 "lol">' + entities + b"]>"
        b'<StampliExport><Invoice id="&l9;"/></StampliExport>'
    )
    assert "DOCTYPE" in refuse(data)


def test_undeclared_entity_is_malformed() -> None:
    data = b'<StampliExport><Invoice id="&xxe;"/></StampliExport>'
    assert "malformed XML" in refuse(data)


def test_safe_parser_never_expands_entities_even_past_the_prolog_scan() -> None:
    data = b'<!DOCTYPE x [<!ENTITY e "boom"><!ENTITY f SYSTEM "file:///etc/passwd">]><x>&e;&f;</x>'
    root = etree.fromstring(data, parser=safe_parser())
    assert b"boom" not in etree.tostring(root) and b"root:" not in etree.tostring(root)
    with pytest.raises(FileRejectedError, match="DOCTYPE"):
        parse_safely(data, NAME)


@pytest.mark.parametrize(
    "data",
    [
        b"<StampliExport><Invoice></StampliExport>",
        b"<StampliExport>",
        b"<?xml version='1.0'?>\n<StampliExport><Invoice id='a'></Invoice>junk</Stampli>",
    ],
)
def test_malformed_xml_names_the_line(data: bytes) -> None:
    message = refuse(data)
    assert "malformed XML" in message and "line" in message


def test_unknown_element_is_refused() -> None:
    data = fixture(INVOICES_XML).replace(b"<Currency>EUR", b"<Note>x</Note><Currency>EUR")
    assert "unknown element <Note>" in refuse(data)


def test_wrong_root_is_refused() -> None:
    assert "expected <StampliExport>" in refuse(b"<Payments/>")


def test_too_many_invoices() -> None:
    with pytest.raises(FileRejectedError, match="too many invoices"):
        parse_export("invoices", fixture(INVOICES_XML), source=NAME, max_rows=2)
