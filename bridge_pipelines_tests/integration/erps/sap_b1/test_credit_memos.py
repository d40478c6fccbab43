"""Credit memos on the SAP B1 sandbox: posted as A/P credit notes, found again, sent once."""

import logging
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from bridge_pipelines.erps.base import DocumentType, PostableInvoice, PostableInvoiceLine
from bridge_pipelines.erps.external_ref import external_ref
from bridge_pipelines.ledger.models import PlannedPosting, RecordRow
from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.ledger.states import PostingState
from bridge_pipelines.posting.engine import post_pending
from bridge_pipelines.posting.payload_hash import payload_hash
from bridge_pipelines_tests.integration.erps.sap_b1.helpers import (
    adapter_for,
    calls,
    invoice,
    posted,
)
from bridge_pipelines_tests.support.fake_erp import seed_records

CREDIT_NOTES = "/b1s/v1/PurchaseCreditNotes"
TENANT = "globex"
TARGET = "sap_b1:SBODEMOUS"


def credit_memo(number: str = "CM-1001", **kwargs) -> PostableInvoice:
    return invoice(number, document_type=DocumentType.CREDIT_MEMO, **kwargs)


def test_credit_memo_is_posted_as_a_credit_note_and_found_by_its_reference(sapb1_sandbox, caplog):
    memo = credit_memo()
    with caplog.at_level(logging.INFO), adapter_for(sapb1_sandbox) as adapter:
        ref = adapter.post_invoice(memo)
        found = adapter.find_by_external_ref(memo.ref)
        # An invoice with the same vendor and number is a different reference: not confused.
        assert adapter.find_by_external_ref(invoice("CM-1001", ref="OTHER").ref) == []
    [note] = posted(sapb1_sandbox, "PurchaseCreditNote")
    assert posted(sapb1_sandbox) == []  # no A/P invoice
    assert ref.doc_id == f"PurchaseCreditNotes({note['DocEntry']})"
    assert note["JournalMemo"] == memo.external_ref and note["DocTotal"] == "1150.00"
    assert note["NumAtCard"] == memo.invoice_number
    assert [d.doc_id for d in found] == [ref.doc_id]
    assert "no PurchaseCreditNotes" not in caplog.text


def _build(record: RecordRow) -> PostableInvoice:
    """The credit memo of a seeded record, coded onto the SAP demo company."""
    p = record.payload
    total, tax = Decimal(p["total"]), Decimal(p["tax"])
    day = date.fromisoformat(p["date"])
    return replace(
        credit_memo(p["number"], total=p["total"], tax=p["tax"]),
        tenant=record.tenant,
        record_id=record.id,
        external_ref=external_ref(
            record.tenant, p["vendor"], p["number"], DocumentType.CREDIT_MEMO, day, "USD", total
        ),
        lines=(PostableInvoiceLine("_SYS00000006100", total - tax, "Returned goods", {}),),
    )


def test_engine_posts_a_credit_memo_once_through_a_lost_answer(sapb1_sandbox, tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    try:
        ledger.migrate()
        [record] = seed_records(ledger, 1, tenant=TENANT)
        memo = _build(record)
        ledger.plan_postings(
            TENANT, TARGET, [PlannedPosting(record.id, memo.external_ref, payload_hash(memo))]
        )
        # SAP commits the credit note, then the answer is lost (a broken node's 502).
        sapb1_sandbox.admin.arm_fault(
            "error_after_commit", path=CREDIT_NOTES, method="POST", count=1, status=502
        )
        for _ in range(2):  # the second run finds nothing left to do
            with adapter_for(sapb1_sandbox) as adapter:
                report = post_pending(
                    ledger, adapter, TENANT, TARGET, _build,
                    owner="test", ttl=timedelta(minutes=1), limit=10,
                )  # fmt: skip
        [posting] = ledger.postings(TENANT)
        [note] = posted(sapb1_sandbox, "PurchaseCreditNote")
        assert posting.state == PostingState.POSTED
        assert posting.erp_doc_id == f"PurchaseCreditNotes({note['DocEntry']})"
        assert report.claimed == 0
        assert len(calls(sapb1_sandbox, CREDIT_NOTES, "POST")) == 1  # never re-sent
        assert posted(sapb1_sandbox) == []
    finally:
        ledger.dispose()
