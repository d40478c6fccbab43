"""Issue 16 on SYSPRO: the vendor's number is the invoice key, tax is expensed with the lines,
credit notes go positive under transaction code C, notations are folded and cut on a word."""

from dataclasses import replace
from decimal import Decimal

from bridge_pipelines.erps.base import DocumentType, PostableInvoiceLine
from bridge_pipelines.erps.syspro import payloads
from bridge_pipelines.erps.syspro.adapter import SysproAdapter
from bridge_pipelines_tests.integration.erps.syspro.helpers import (
    adapter_for,
    invoice,
    settings_for,
)


def _two_lines(inv, first: str, second: str, description: str = "Office supplies"):
    line = inv.lines[0]
    return replace(
        inv,
        lines=(
            PostableInvoiceLine("10-6100", Decimal(first), description, line.dimensions),
            PostableInvoiceLine("10-6200", Decimal(second), "Freight"),
        ),
    )


def test_the_clerk_finds_the_vendor_invoice_number_in_the_invoice_key(syspro_sandbox):
    with adapter_for(syspro_sandbox) as adapter:
        adapter.post_invoice(invoice("VEND-4471", ref="BP0123456789ABCDEFGH"))
    [doc] = syspro_sandbox.admin.documents()
    assert doc["Invoice"] == "VEND-4471" and doc["Reference"] == "BP0123456789ABCDEFGH"


def test_tax_is_spread_over_the_lines_with_no_tax_account_line(syspro_sandbox):
    inv = _two_lines(invoice(total="1100.00", tax="100.00"), "750.00", "250.00")
    with adapter_for(syspro_sandbox) as adapter:
        adapter.post_invoice(inv)
    [doc] = syspro_sandbox.admin.documents()
    assert doc["OrigInvValue"] == "1100.00" and Decimal(doc["TaxValue"]) == 0
    assert [(line["ledger_code"], line["debit"], line["credit"]) for line in doc["lines"]] == [
        ("10-6100", "825.00", "0.00"),
        ("10-6200", "275.00", "0.00"),
        ("10-2000", "0.00", "1100.00"),
    ]


def test_a_credit_memo_is_sent_positive_whatever_its_sign(syspro_sandbox):
    memo = invoice(
        "CM-1",
        ref="BP0123456789ABCDEFGH",
        total="-115.00",
        tax="-15.00",
        document_type=DocumentType.CREDIT_MEMO,
    )
    xml = payloads.ap_invoice(memo)
    assert "<TransactionCode>C</TransactionCode>" in xml
    assert "<TransactionValue>115.00</TransactionValue>" in xml
    assert "<LedgerValue>115.00</LedgerValue>" in xml
    with adapter_for(syspro_sandbox) as adapter:
        adapter.post_invoice(memo)
        [doc] = list(adapter.read_posted_documents())
    assert doc.total == Decimal("-115.00")  # read back signed as the source is, for verify


def test_notations_are_folded_and_cut_on_a_word_boundary(syspro_sandbox):
    text = "Quarterly maintenance\r\nof the loading dock doors"
    inv = _two_lines(invoice(total="1000.00", tax="0.00"), "900.00", "100.00", text)
    xml = payloads.ap_invoice(inv)
    assert "<Notation>Quarterly maintenance of the</Notation>" in xml
    assert "<LedgerNotation>Quarterly maintenance of the</LedgerNotation>" in xml
    with adapter_for(syspro_sandbox) as adapter:
        adapter.post_invoice(inv)
    [doc] = syspro_sandbox.admin.documents()
    assert doc["Notation"] == "Quarterly maintenance of the"


def test_with_a_tax_account_the_tax_is_one_sales_tax_distribution(syspro_sandbox):
    inv = _two_lines(invoice(total="1100.00", tax="100.00"), "750.00", "250.00")
    xml = payloads.ap_invoice(inv, tax_account="10-6300")
    assert "<LedgerNotation>Sales tax</LedgerNotation>" in xml
    settings = settings_for(syspro_sandbox)
    with SysproAdapter(settings, tax_account="10-6200") as adapter:
        adapter.post_invoice(replace(inv, lines=(inv.lines[0],), total=Decimal("850.00")))
    [doc] = syspro_sandbox.admin.documents()
    assert [(line["ledger_code"], line["debit"]) for line in doc["lines"][:2]] == [
        ("10-6100", "750.00"),
        ("10-6200", "100.00"),
    ]
