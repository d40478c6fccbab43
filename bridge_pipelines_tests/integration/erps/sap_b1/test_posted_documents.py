"""`read_posted_documents`: invoices, credit notes and journal entries carrying our reference."""

from datetime import date
from decimal import Decimal

from bridge_pipelines.erps.base import DocumentType
from bridge_pipelines_tests.integration.erps.sap_b1.helpers import adapter_for, invoice

REFS = ("BP0000000000000000A1", "BP0000000000000000A2", "BP0000000000000000A3")


def test_lists_every_kind_of_document_of_ours_paged_with_journal_sides(sapb1_sandbox):
    with adapter_for(sapb1_sandbox) as adapter:
        adapter.post_invoice(invoice("INV-1", ref=REFS[0]))
        adapter.post_invoice(invoice("INV-X", ref="PO-4711"))  # not ours
        adapter.post_invoice(
            invoice("CM-1", ref=REFS[1], total="115.00", tax="15.00",
                    document_type=DocumentType.CREDIT_MEMO)
        )  # fmt: skip
    with adapter_for(sapb1_sandbox, posting_mode="journal_entry") as adapter:
        adapter.post_invoice(invoice("INV-3", ref=REFS[2]))
    with adapter_for(sapb1_sandbox, page_size=1) as adapter:
        docs = {d.external_ref: d for d in adapter.read_posted_documents()}
        assert list(adapter.read_posted_documents(since=date(2999, 1, 1))) == []
    assert set(docs) == set(REFS)
    sent = docs[REFS[0]]
    assert sent.doc_id.startswith("PurchaseInvoices(") and sent.total == Decimal("1150.00")
    assert sent.debit_total == sent.credit_total == Decimal("1150.00")
    credit = docs[REFS[1]]
    assert credit.doc_id.startswith("PurchaseCreditNotes(") and credit.total == Decimal("-115")
    journal = docs[REFS[2]]
    assert journal.doc_id.startswith("JournalEntries(") and journal.total is None
    assert journal.debit_total == journal.credit_total == Decimal("1150.00")
    assert journal.vendor_code == "V10001"
