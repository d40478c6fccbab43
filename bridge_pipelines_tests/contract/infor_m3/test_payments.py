"""Payments in M3 through APS130MI, balances through APS200MI GetInvTotInfo."""

from decimal import Decimal

import pytest

from bridge_pipelines.erps.base import (
    DocumentType,
    ErpDocumentRef,
    PaymentApplication,
    PostableInvoice,
    PostablePayment,
    SourceLineage,
)
from bridge_pipelines.erps.external_ref import payment_external_ref
from bridge_pipelines.errors import NeedsLookupError, RejectedByErpError
from bridge_pipelines_tests.erps.harness import TENANT, TODAY, ErpUnderTest

pytestmark = pytest.mark.contract


def _payment(invoice: PostableInvoice, posted: ErpDocumentRef, amount: Decimal) -> PostablePayment:
    return PostablePayment(
        tenant=TENANT,
        external_ref=payment_external_ref(
            TENANT, invoice.vendor_code, f"PAY-{invoice.invoice_number}", TODAY, "USD", amount
        ),
        record_ids=(1,),
        payment_id=f"PAY-{invoice.invoice_number}",
        vendor_code=invoice.vendor_code,
        payment_date=TODAY,
        currency="USD",
        method="Check",
        reference="CHK-1001",
        applications=(
            PaymentApplication(invoice.ref, DocumentType.INVOICE, amount, posted.doc_id),
        ),
        lineage=SourceLineage("payments.csv", (2,)),
    )


def test_a_payment_is_recorded_once_against_its_invoice(infor: ErpUnderTest) -> None:
    invoice = infor.invoice()
    with infor.adapter() as adapter:
        posted = adapter.post_invoice(invoice)
        [before] = adapter.read_open_balances([invoice.ref])
        payment = _payment(invoice, posted, invoice.total)
        recorded = adapter.post_payment(payment)
        again = adapter.post_payment(payment)
        [after] = adapter.read_open_balances([invoice.ref])
        found = adapter.find_payment(payment.ref)
        listed = list(adapter.read_posted_payments())
    assert (before.open_amount, after.open_amount, after.paid) == (invoice.total, 0, True)
    assert again.doc_id == recorded.doc_id and [f.doc_id for f in found] == [recorded.doc_id]
    assert [p.external_ref for p in listed] == [payment.external_ref]
    payments = [d for d in infor.admin.documents() if d["type"] == "payment"]
    assert len(payments) == 1 and payments[0]["ckno"] == "CHK-1001"


def test_a_partial_payment_is_refused_and_nothing_is_paid(infor: ErpUnderTest) -> None:
    invoice = infor.invoice()
    with infor.adapter() as adapter:
        posted = adapter.post_invoice(invoice)
        with pytest.raises(RejectedByErpError):
            adapter.post_payment(_payment(invoice, posted, Decimal("10.00")))
        [balance] = adapter.read_open_balances([invoice.ref])
    assert balance.open_amount == invoice.total


def test_a_payment_for_an_invoice_m3_does_not_hold_is_refused(infor: ErpUnderTest) -> None:
    invoice = infor.invoice()
    ghost = ErpDocumentRef(doc_id="AAA/0")
    with infor.adapter() as adapter, pytest.raises(RejectedByErpError):
        adapter.post_payment(_payment(invoice, ghost, invoice.total))
    assert not [d for d in infor.admin.documents() if d["type"] == "payment"]


def test_a_proposal_left_unconfirmed_is_confirmed_by_the_next_attempt(
    infor: ErpUnderTest,
) -> None:
    invoice = infor.invoice()
    infor.admin.arm_fault(
        "error_before_commit", count=1, status=503, method="GET", path="*/CreateConfChk*"
    )
    with infor.adapter() as adapter:
        posted = adapter.post_invoice(invoice)
        payment = _payment(invoice, posted, invoice.total)
        with pytest.raises(NeedsLookupError):
            adapter.post_payment(payment)
        recorded = adapter.post_payment(payment)
    payments = [d for d in infor.admin.documents() if d["type"] == "payment"]
    assert len(payments) == 1 and payments[0]["stat"] == "90"
    assert recorded.doc_id.endswith(f"/{payments[0]['prpn']}/1")
