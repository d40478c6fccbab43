"""Payments (issue 15): what every connector that records payments does, against its sandbox.

Parametrised like the rest of the suite, and skipped for a connector whose
`ErpPlugin.records_payments()` is False (its payments are made in the ERP: reconcile-only).
A connector whose ERP only pays a document's open amount (`ErpPlugin.pays_partial_amounts()`
False) is held to that instead: a partial payment is refused and nothing is applied.
Asserted as a user sees it: the ERP's payments (`SandboxProfile.payments`), the open balance
of each document, and the requests the ERP received.
"""

from datetime import timedelta
from decimal import Decimal

import pytest

from bridge_pipelines.erps.base import ErpDocumentRef, PostableInvoice, PostablePayment
from bridge_pipelines.errors import NeedsLookupError, RejectedByErpError
from bridge_pipelines.ledger.models import PlannedPosting, RecordRow
from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.ledger.states import PostingKind, PostingState
from bridge_pipelines.posting.engine import PAYMENTS, post_pending
from bridge_pipelines.posting.payments import payment_payload_hash
from bridge_pipelines_tests.erps.harness import ENGINE_RETRY, TENANT, ErpUnderTest

pytestmark = pytest.mark.conformance


@pytest.fixture
def payer(erp: ErpUnderTest) -> ErpUnderTest:
    if not erp.plugin.records_payments():
        pytest.skip(f"{erp.kind} does not record payments (reconcile-only)")
    assert erp.profile.payment_match, (
        f"{erp.kind} records payments: its SandboxProfile must set payment_match and payments"
    )
    return erp


def _pays_partial(erp: ErpUnderTest) -> bool:
    """Whether the connector records a payment applying less than a document's open amount."""
    return erp.plugin.pays_partial_amounts() is not False


def _posted(erp: ErpUnderTest, *documents: PostableInvoice) -> list[ErpDocumentRef]:
    with erp.adapter() as adapter:
        return [adapter.post_invoice(d) for d in documents]


def _open(erp: ErpUnderTest, reference: str) -> Decimal | None:
    [document] = erp.documents(reference)
    return document.open_amount


def test_a_payment_settles_invoices_and_a_credit_memo_found_by_its_reference(
    payer: ErpUnderTest,
) -> None:
    full, partial, memo = (
        payer.invoice(),
        payer.invoice(total="230.00", tax="30.00"),
        (payer.credit_memo()),
    )
    posted = _posted(payer, full, partial, memo)
    # An ERP that pays only open amounts settles `partial` in full (its refusal: the next test).
    part, left = ("100.00", "130.00") if _pays_partial(payer) else ("230.00", "0.00")
    payment = payer.payment(
        [(full, posted[0], "115.00"), (partial, posted[1], part), (memo, posted[2], "57.50")]
    )
    total = Decimal("115.00") + Decimal(part) - Decimal("57.50")
    assert payment.total == total
    with payer.adapter() as adapter:
        recorded = adapter.post_payment(payment)
        found = adapter.find_payment(payment.ref)
        balances = {
            b.external_ref: b
            for b in adapter.read_open_balances([d.ref for d in (full, partial, memo)])
        }
        listed = list(adapter.read_posted_payments())
    assert [f.doc_id for f in found] == [recorded.doc_id]
    [held] = payer.payments(payment.external_ref)
    assert held.doc_id == recorded.doc_id and held.total == total
    assert sorted(held.applied.values()) == sorted(
        [Decimal("57.50"), Decimal(part), Decimal("115.00")]
    )
    assert set(held.applied) == {
        d.doc_id for r in (full, partial, memo) for d in payer.documents(r.external_ref)
    }
    assert {
        d.external_ref: d.open_amount
        for d in (balances[r.external_ref] for r in (full, partial, memo))
    } == {
        full.external_ref: Decimal("0.00"),
        partial.external_ref: Decimal(left),
        memo.external_ref: Decimal("0.00"),
    }
    assert balances[full.external_ref].paid
    assert balances[partial.external_ref].paid is (left == "0.00")
    assert _open(payer, partial.external_ref) in (None, Decimal(left))
    assert [p.external_ref for p in listed] == [payment.external_ref]


def test_a_partial_payment_is_refused_where_the_erp_pays_only_open_amounts(
    payer: ErpUnderTest,
) -> None:
    if _pays_partial(payer):
        pytest.skip(f"{payer.kind} records partial payments")
    invoice = payer.invoice()
    [posted] = _posted(payer, invoice)
    payment = payer.payment([(invoice, posted, "100.00")])  # 115.00 is open
    mark = payer.mark()
    with payer.adapter() as adapter:
        with pytest.raises(RejectedByErpError):
            adapter.post_payment(payment)
        [balance] = adapter.read_open_balances([invoice.ref])
    assert balance.open_amount == Decimal("115.00") and not balance.paid
    assert payer.payments(payment.external_ref) == []
    assert payer.payment_writes(mark) == []
    assert _open(payer, invoice.external_ref) in (None, Decimal("115.00"))


def test_an_over_payment_is_refused_and_nothing_is_applied(payer: ErpUnderTest) -> None:
    invoice = payer.invoice()
    [posted] = _posted(payer, invoice)
    # Of 115.00, 15.00 is left open; nothing where the ERP pays only the open amount.
    paid, left = ("100.00", "15.00") if _pays_partial(payer) else ("115.00", "0.00")
    first = payer.payment([(invoice, posted, paid)])
    too_much = payer.payment([(invoice, posted, "20.00")])
    with payer.adapter() as adapter:
        adapter.post_payment(first)
        with pytest.raises(RejectedByErpError):
            adapter.post_payment(too_much)
        [balance] = adapter.read_open_balances([invoice.ref])
    assert balance.open_amount == Decimal(left)
    assert payer.payments(too_much.external_ref) == []


def test_error_after_commit_on_a_payment_needs_a_lookup_which_finds_it(
    payer: ErpUnderTest,
) -> None:
    invoice = payer.invoice()
    [posted] = _posted(payer, invoice)
    payment = payer.payment([(invoice, posted, "115.00")])
    payer.admin.arm_fault("error_after_commit", count=1, **payer.profile.payment_match)
    with payer.adapter() as adapter:
        with pytest.raises(NeedsLookupError):
            adapter.post_payment(payment)
        found = adapter.find_payment(payment.ref)
    [held] = payer.payments(payment.external_ref)
    assert [f.doc_id for f in found] == [held.doc_id]


def _plan_payment(
    payer: ErpUnderTest, ledger: Ledger, record: RecordRow, payment: PostablePayment
) -> None:
    item = PlannedPosting(record.id, payment.external_ref, payment_payload_hash(payment))
    ledger.plan_postings(TENANT, payer.target, [item], kind=PostingKind.PAYMENT)


@pytest.mark.parametrize("fault", ["error_after_commit", "reset_after_commit", "garbage"])
def test_a_payment_that_may_have_landed_is_recorded_once_through_the_engine(
    payer: ErpUnderTest, ledger: Ledger, fault: str
) -> None:
    invoice = payer.invoice()
    [posted] = _posted(payer, invoice)
    payment = payer.payment([(invoice, posted, "115.00")])
    [record] = payer.seed(ledger)
    _plan_payment(payer, ledger, record, payment)
    mark = payer.mark()
    payer.admin.arm_fault(fault, count=1, **payer.profile.payment_match)
    for _ in range(3):
        with payer.adapter() as adapter:
            report = post_pending(
                ledger, adapter, TENANT, payer.target, lambda _record: payment,
                owner="conformance", ttl=timedelta(minutes=5), limit=10,
                retry=ENGINE_RETRY, kind=PAYMENTS,
            )  # fmt: skip
        if report.claimed == 0:
            break
    [row] = ledger.postings(TENANT, kind=PostingKind.PAYMENT)
    assert row.state is PostingState.POSTED, row
    [held] = payer.payments(payment.external_ref)
    assert row.erp_doc_id == held.doc_id
    assert len(payer.payment_writes(mark)) == 1  # looked up, never sent again
    assert payer.documents(invoice.external_ref)[0].open_amount in (None, Decimal("0.00"))


def test_the_invoice_engine_never_claims_a_payment(payer: ErpUnderTest, ledger: Ledger) -> None:
    invoice = payer.invoice()
    [posted] = _posted(payer, invoice)
    payment = payer.payment([(invoice, posted, "115.00")])
    [record] = payer.seed(ledger)
    _plan_payment(payer, ledger, record, payment)
    [report] = payer.post_pending(ledger, runs=1)
    assert report.claimed == 0
    [row] = ledger.postings(TENANT, kind=PostingKind.PAYMENT)
    assert row.state is PostingState.PLANNED
