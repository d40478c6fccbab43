"""Issue 16 on SAP B1: the vendor's number where AP users look, ours out of their way.

`NumAtCard` ("Vendor Ref. No.") carries the vendor's invoice number; our reference sits in
`JournalMemo` ("Journal Remark"). Documents posted before the change (ours in `NumAtCard`)
are still found by lookups and listed for `bridge verify`. Tax is expensed with the lines by
default; free text is folded and cut on a word boundary.
"""

from dataclasses import replace
from decimal import Decimal

from bridge_pipelines.erps.base import (
    DocumentType,
    ErpDocumentRef,
    ExternalRef,
    PostableInvoiceLine,
)
from bridge_pipelines.erps.sap_b1 import payloads
from bridge_pipelines.erps.sap_b1.adapter import SapB1Adapter
from bridge_pipelines_tests.contract.sap_b1 import payloads as raw
from bridge_pipelines_tests.integration.erps.sap_b1.helpers import (
    adapter_for,
    invoice,
    posted,
    settings_for,
)

OURS = "BP0123456789ABCDEFGH"
OLD = "BP9876543210ABCDEFGH"
TAX = "_SYS00000006200"


def test_the_vendor_invoice_number_is_the_vendor_ref_and_ours_the_journal_remark(sapb1_sandbox):
    inv = invoice("INV-7781", ref=OURS)
    with adapter_for(sapb1_sandbox) as adapter:
        ref = adapter.post_invoice(inv)
        found = adapter.find_by_external_ref(inv.ref)
        listed = list(adapter.read_posted_documents())
    [doc] = posted(sapb1_sandbox)
    assert doc["NumAtCard"] == "INV-7781" and doc["JournalMemo"] == OURS
    assert [d.doc_id for d in found] == [ref.doc_id]
    assert [(d.doc_id, d.external_ref) for d in listed] == [(ref.doc_id, OURS)]


def test_a_document_posted_before_the_change_is_still_found_and_listed(sapb1_sandbox):
    session = sapb1_sandbox.login()
    legacy = raw.service_invoice(OLD, Comments="Stampli invoice INV-OLD (ref ...)")
    answer = sapb1_sandbox.request("POST", "PurchaseInvoices", session, json=legacy)
    assert answer.status_code == 201
    with adapter_for(sapb1_sandbox) as adapter:
        found = adapter.find_by_external_ref(ExternalRef(OLD, raw.SUPPLIER, "INV-OLD"))
        listed = list(adapter.read_posted_documents())
    doc_id = f"PurchaseInvoices({answer.json()['DocEntry']})"
    assert [d.doc_id for d in found] == [doc_id]
    assert [(d.doc_id, d.external_ref) for d in listed] == [(doc_id, OLD)]


def test_a_vendor_number_that_looks_like_ours_is_not_taken_for_ours(sapb1_sandbox):
    with adapter_for(sapb1_sandbox) as adapter:
        adapter.post_invoice(invoice("BP-2026-1", ref=OURS))
        listed = list(adapter.read_posted_documents())
    assert [d.external_ref for d in listed] == [OURS]


def test_verify_reads_old_and_new_documents_with_their_totals(sapb1_sandbox):
    session = sapb1_sandbox.login()
    sapb1_sandbox.request("POST", "PurchaseInvoices", session, json=raw.service_invoice(OLD))
    with adapter_for(sapb1_sandbox) as adapter:
        adapter.post_invoice(invoice("CM-5", ref=OURS, document_type=DocumentType.CREDIT_MEMO))
        listed: dict[str | None, ErpDocumentRef] = {
            d.external_ref: d for d in adapter.read_posted_documents()
        }
    assert listed[OLD].total == Decimal("1025.50")
    assert listed[OURS].total == Decimal("-1150.00")  # signed as the source, for verify


def test_tax_is_expensed_with_the_lines_without_an_extra_line(sapb1_sandbox):
    inv = invoice("INV-TAX", ref=OURS)  # 1000.00 + 150.00 tax
    with adapter_for(sapb1_sandbox) as adapter:
        adapter.post_invoice(inv)
    [doc] = posted(sapb1_sandbox)
    assert [(ln["AccountCode"], ln["LineTotal"]) for ln in doc["lines"]] == [
        ("_SYS00000006100", 1150.0)
    ]
    assert doc["DocTotal"] == "1150.00"


def test_with_a_tax_account_the_tax_is_one_sales_tax_line(sapb1_sandbox):
    inv = invoice("INV-TAX2", ref=OURS)
    settings = settings_for(sapb1_sandbox)
    with SapB1Adapter(settings, posting_mode="service_invoice", tax_account=TAX) as adapter:
        adapter.post_invoice(inv)
    [doc] = posted(sapb1_sandbox)
    assert [(ln["AccountCode"], ln["ItemDescription"]) for ln in doc["lines"]] == [
        ("_SYS00000006100", "Office supplies"),
        (TAX, "Sales tax"),
    ]


def test_multi_line_descriptions_are_folded_and_cut_on_a_word(sapb1_sandbox):
    words = "Quarterly maintenance of the\r\nloading dock doors, " * 5
    inv = invoice("INV-TEXT", ref=OURS, tax="0.00", total="1000.00")
    line = inv.lines[0]
    inv = replace(inv, lines=(PostableInvoiceLine(line.ledger_code, line.amount, words),))
    with adapter_for(sapb1_sandbox) as adapter:
        adapter.post_invoice(inv)
    [doc] = posted(sapb1_sandbox)
    text = doc["lines"][0]["ItemDescription"]
    assert len(text) <= payloads.MAX_LINE_TEXT and "\n" not in text and "\r" not in text
    assert text == ("Quarterly maintenance of the loading dock doors, " * 2).strip()


def test_a_journal_entry_expenses_the_tax_with_the_lines(sapb1_sandbox):
    with adapter_for(sapb1_sandbox, posting_mode="journal_entry") as adapter:
        adapter.post_invoice(invoice("INV-JE", ref=OURS))
        [doc] = list(adapter.read_posted_documents())
    body = payloads.journal_entry(invoice("INV-JE", ref=OURS))
    assert [
        (ln.get("AccountCode"), ln["Debit"], ln["Credit"]) for ln in body["JournalEntryLines"]
    ] == [
        ("_SYS00000006100", Decimal("1150.00"), Decimal("0.00")),
        (None, Decimal("0.00"), Decimal("1150.00")),
    ]
    assert body["Reference"] == OURS and body["Reference2"] == "INV-JE"
    assert doc.external_ref == OURS and doc.debit_total == doc.credit_total == Decimal("1150.00")
