"""How the ledger judges a Stampli payment before anything is sent (issue 15).

A payment waits (with its reason) until every invoice it settles is posted; what the bridge
will not decide for a person is a problem that holds it for review; otherwise it is built with
the posted invoices' references and ERP documents from the ledger.
"""

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from bridge_pipelines.erps.base import DocumentType
from bridge_pipelines.errors import BadInputError
from bridge_pipelines.ledger.models import PlannedPosting
from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.ledger.states import PostingKind, PostingState
from bridge_pipelines.mapping.tables import MappingEntry, MappingTables
from bridge_pipelines.posting.payments import PaymentBook, build_payment
from bridge_pipelines_tests.support.payment_builders import (
    TARGET,
    TENANT,
    invoice,
    payment,
    post_invoice,
    record,
)

TABLES = MappingTables(
    vendors={"V-1": MappingEntry("V-1", "SUP-1", "override")}, gl_accounts={}, cost_centers={}
)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    opened = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    opened.migrate()
    try:
        yield opened
    finally:
        opened.dispose()


def _judged(ledger: Ledger) -> list:
    return PaymentBook.load(ledger, TENANT, TARGET).assess_all()


def test_a_payment_file_before_its_invoice_file_waits_then_is_built_once_posted(
    ledger: Ledger,
) -> None:
    record(ledger, "payments", [payment("PAY-1", "STI-1", "100.00", number="INV-STI-1")])
    [early] = _judged(ledger)
    assert not early.ready and not early.problems
    assert "invoice INV-STI-1 (Stampli STI-1) of vendor V-1 is not in the ledger" in (
        early.waiting_reason or ""
    )
    [inv] = record(ledger, "invoices", [invoice("STI-1")])
    [planned] = _judged(ledger)
    assert "is not planned for posting yet" in (planned.waiting_reason or "")
    post_invoice(ledger, inv, doc="PurchaseInvoices(7)")
    [ready] = _judged(ledger)
    assert ready.ready and ready.waiting_reason is None
    built = build_payment(ready, TABLES, "payments_0001.csv")
    assert built.vendor_code == "SUP-1" and built.total == Decimal("100.00")
    [application] = built.applications
    assert application.erp_doc_id == "PurchaseInvoices(7)"
    assert application.invoice.document_number == "INV-STI-1"


def test_one_payment_settles_several_invoices_and_takes_a_credit_memo(ledger: Ledger) -> None:
    invoices = record(
        ledger,
        "invoices",
        [invoice("STI-1"), invoice("STI-2", "50.00"), invoice("STI-3", "-20.00", credit=True)],
    )
    for inv in invoices:
        post_invoice(ledger, inv)
    record(
        ledger,
        "payments",
        [
            payment("PAY-1", "STI-1", "40.00"),  # partial
            payment("PAY-1", "STI-2", "50.00"),
            payment("PAY-1", "STI-3", "-20.00"),  # the credit memo taken
        ],
    )
    [judged] = _judged(ledger)
    assert judged.ready
    built = build_payment(judged, TABLES, "payments.csv")
    assert built.total == Decimal("70.00")
    assert [(a.document_type, a.amount) for a in built.applications] == [
        (DocumentType.INVOICE, Decimal("40.00")),
        (DocumentType.INVOICE, Decimal("50.00")),
        (DocumentType.CREDIT_MEMO, Decimal("20.00")),
    ]


def test_a_second_payment_over_the_invoice_total_is_held_with_the_figures(
    ledger: Ledger,
) -> None:
    [inv] = record(ledger, "invoices", [invoice("STI-1")])
    post_invoice(ledger, inv)
    record(ledger, "payments", [payment("PAY-1", "STI-1", "60.00")])
    record(ledger, "payments", [payment("PAY-2", "STI-1", "50.00")])
    first, second = _judged(ledger)
    assert first.ready
    [problem] = second.problems
    assert "over-payment of vendor V-1 invoice INV-STI-1" in problem
    assert "totals 100.00 USD, payments recorded earlier apply 60.00, this one 50.00" in problem
    with pytest.raises(BadInputError, match="over-payment"):
        build_payment(second, TABLES, "payments.csv")


def test_a_payment_in_another_currency_is_held_never_converted(ledger: Ledger) -> None:
    [inv] = record(ledger, "invoices", [invoice("STI-1")])
    post_invoice(ledger, inv)
    record(ledger, "payments", [payment("PAY-1", "STI-1", "100.00", currency="EUR")])
    [judged] = _judged(ledger)
    [problem] = judged.problems
    assert "is in USD, the payment in EUR: the bridge converts no currency" in problem


def test_a_reversal_names_the_payment_it_undoes_and_is_held(ledger: Ledger) -> None:
    [inv] = record(ledger, "invoices", [invoice("STI-1")])
    post_invoice(ledger, inv)
    [original] = record(ledger, "payments", [payment("PAY-1", "STI-1", "100.00")])
    item = PlannedPosting(original.id, "BPPAYMENT00000000001", "h")
    ledger.plan_postings(TENANT, TARGET, [item], kind=PostingKind.PAYMENT)
    [claimed] = ledger.claim_postings(
        TENANT, TARGET, owner="t", ttl=timedelta(minutes=1), limit=5, kind=PostingKind.PAYMENT
    )
    ledger.mark_posted(claimed.id, "t", "VendorPayments(3)")
    record(ledger, "payments", [payment("PAY-1-VOID", "STI-1", "-100.00")])
    _, reversal = _judged(ledger)
    [problem] = reversal.problems
    assert "reverses (voids) earlier payments of 1 invoice(s): PAY-1 (ERP VendorPayments(3))" in (
        problem
    )
    assert "never cancels an ERP payment on its own" in problem


def test_a_payment_for_a_rejected_invoice_waits_with_the_erps_reason(ledger: Ledger) -> None:
    [inv] = record(ledger, "invoices", [invoice("STI-1")])
    [row] = ledger.plan_postings(TENANT, TARGET, [PlannedPosting(inv.id, "BP" + "1" * 18, "h")])
    [claimed] = ledger.claim_postings(TENANT, TARGET, owner="t", ttl=timedelta(minutes=1), limit=1)
    ledger.mark_rejected(claimed.id, "t", "CardCode: Code undefined", "SAP B1 refused it")
    record(ledger, "payments", [payment("PAY-1", "STI-1", "100.00")])
    [judged] = _judged(ledger)
    assert f"was rejected by the ERP (posting #{row.id}: SAP B1 refused it)" in (
        judged.waiting_reason or ""
    )


def test_a_waiting_posting_keeps_its_reason_then_is_planned_once_ready(ledger: Ledger) -> None:
    [rec] = record(ledger, "payments", [payment("PAY-1", "STI-1", "100.00")])
    ref = "BP" + "2" * 18

    def plan(waiting: str | None, digest: str = "w") -> PostingState:
        item = PlannedPosting(rec.id, ref, digest, waiting)
        [row] = ledger.plan_postings(TENANT, TARGET, [item], kind=PostingKind.PAYMENT)
        return row.state

    assert plan("waits for STI-1") is PostingState.WAITING
    assert plan("waits for STI-1 (posting #4)") is PostingState.WAITING
    claimed = ledger.claim_postings(
        TENANT, TARGET, owner="t", ttl=timedelta(minutes=1), limit=5, kind=PostingKind.PAYMENT
    )
    assert claimed == []  # a waiting payment is never claimed
    [row] = ledger.postings(TENANT, kind=PostingKind.PAYMENT)
    assert row.reason == "waits for STI-1 (posting #4)"
    assert plan(None, "ready-hash") is PostingState.PLANNED
    [row] = ledger.postings(TENANT, kind=PostingKind.PAYMENT)
    assert (row.reason, row.payload_hash, row.kind) == (None, "ready-hash", PostingKind.PAYMENT)
    events = [e.event for e in ledger.audit(TENANT, entity="posting", entity_id=row.id)]
    assert events == ["waiting", "waiting", "planned"]
