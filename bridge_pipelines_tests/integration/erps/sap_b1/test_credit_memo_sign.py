"""A credit memo signed as Stampli exports it (negative) goes to SAP B1 with positive amounts.

Found by the fault matrix: the posting run passes the source's negative amounts through (SYSPRO's
payload expects them), and SAP B1 received credit notes with negative totals.
"""

from decimal import Decimal

from bridge_pipelines.erps.base import DocumentType
from bridge_pipelines.erps.sap_b1 import payloads
from bridge_pipelines_tests.integration.erps.sap_b1.helpers import invoice


def test_a_negative_credit_memo_becomes_a_positive_credit_note() -> None:
    memo = invoice("CM-9", total="-1150.00", tax="-150.00", document_type=DocumentType.CREDIT_MEMO)
    lines = payloads.service_document(memo, tax_account="_SYS9")["DocumentLines"]
    assert [line["LineTotal"] for line in lines] == [Decimal("1000.00"), Decimal("150.00")]


def test_a_positive_credit_memo_is_left_as_it_is() -> None:
    memo = invoice("CM-9", total="1150.00", tax="150.00", document_type=DocumentType.CREDIT_MEMO)
    lines = payloads.service_document(memo, tax_account="_SYS9")["DocumentLines"]
    assert [line["LineTotal"] for line in lines] == [Decimal("1000.00"), Decimal("150.00")]


def test_a_negative_credit_memo_journal_credits_expenses_and_debits_the_supplier() -> None:
    memo = invoice("CM-9", total="-1150.00", tax="-150.00", document_type=DocumentType.CREDIT_MEMO)
    lines = payloads.journal_entry(memo)["JournalEntryLines"]
    assert all(line["Debit"] >= 0 and line["Credit"] >= 0 for line in lines)
    assert lines[-1]["Debit"] == Decimal("1150.00")
    assert sum(line["Credit"] for line in lines) == Decimal("1150.00")
