"""One name for an invoice everywhere, and what can still be read of a refused export."""

from dataclasses import dataclass, field
from typing import Any

from bridge_pipelines.stampli.naming import invoice_name, payload_name, record_name
from bridge_pipelines.stampli.salvage import names_by_label, salvage_invoices


@dataclass
class Rec:
    identity: str
    payload: dict[str, Any] = field(default_factory=dict)
    kind: str = "invoices"


def test_an_invoice_is_named_by_vendor_and_number_then_stampli_id() -> None:
    assert (
        invoice_name("V-0001", "INV-1001", "STI-1001")
        == "vendor V-0001 invoice INV-1001 (Stampli STI-1001)"
    )
    assert invoice_name("V-0001", "CM-7", None, document_type="CreditMemo") == (
        "vendor V-0001 credit memo CM-7"
    )
    assert invoice_name(None, " ", "STI-9") == "vendor ? invoice ? (Stampli STI-9)"


def test_a_record_is_named_from_its_payload_or_its_identity() -> None:
    payload = {"vendor_id": "V-0002", "invoice_number": "A-1", "invoice_id": "STI-5",
               "document_type": "Invoice"}  # fmt: skip
    assert record_name(Rec("V-0002|A-1|Invoice", payload)) == (
        "vendor V-0002 invoice A-1 (Stampli STI-5)"
    )
    assert record_name(Rec("V-0003|B-2|CreditMemo")) == "vendor V-0003 credit memo B-2"
    assert payload_name({}, "garbage") == "vendor ? invoice ?"
    assert record_name(Rec("V-9|2026-01-01", kind="vendors")) == "vendor V-9|2026-01-01"


CSV = (
    "\ufeffInvoiceId,InvoiceNumber,VendorId,VendorName,InvoiceTotal\r\n"
    'STI-1,INV-1,V-0001,"Acme, Inc.",10.00\r\n'
    'STI-1,INV-1,V-0001,"Acme, Inc.",10.00\r\n'
    "STI-2,INV-2,V-0002,Globex,not-a-number\r\n"
)


def test_salvage_reads_invoices_of_a_csv_the_parser_refused() -> None:
    found = salvage_invoices(CSV.encode("utf-8"))
    assert [i.name for i in found] == [
        "vendor V-0001 invoice INV-1 (Stampli STI-1)",
        "vendor V-0002 invoice INV-2 (Stampli STI-2)",
    ]
    assert found[0].vendor_name == "Acme, Inc." and found[0].key == ("V-0001", "INV-1")


def test_salvage_follows_the_tenants_renamed_columns_and_forgiving_encodings() -> None:
    text = "Title line\nRef;Facture;Fournisseur\nSTI-3;F-3;V-é\n"
    found = salvage_invoices(
        text.encode("cp1252"),
        {"Ref": "InvoiceId", "Facture": "InvoiceNumber", "Fournisseur": "VendorId"},
    )
    assert [i.name for i in found] == ["vendor V-é invoice F-3 (Stampli STI-3)"]


def test_salvage_reads_xml_without_parsing_it_and_never_raises() -> None:
    xml = (
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><Invoices>'
        "<Invoice><InvoiceId>STI-4</InvoiceId><VendorId>V-4</VendorId>"
        "<InvoiceNumber>N-4</InvoiceNumber><Broken></Invoice></Invoices>"
    )
    assert [i.name for i in salvage_invoices(xml.encode())] == [
        "vendor V-4 invoice N-4 (Stampli STI-4)"
    ]
    assert salvage_invoices(b"\x00\xff\xfe garbage \x00") == []
    assert salvage_invoices(b"") == []


def test_row_error_labels_are_named_from_the_raw_file() -> None:
    names = names_by_label(CSV.encode("utf-8"))
    assert names["invoice STI-2"] == "vendor V-0002 invoice INV-2 (Stampli STI-2)"
