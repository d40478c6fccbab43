"""Payments through the SYSPRO adapter, against the sandbox over real sockets (issue 15).

A payment is recorded once (APSTPM), its reference found again (`ApInvoicePay`), the invoice's
open balance read back (`ApInvoice.MthInvBal1`); answers that may mean it landed are looked up,
never re-sent blindly.
"""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from bridge_pipelines.erps.base import (
    DocumentType,
    PaymentApplication,
    PostableInvoice,
    PostablePayment,
    SourceLineage,
)
from bridge_pipelines.erps.external_ref import external_ref, is_external_ref, payment_external_ref
from bridge_pipelines.erps.syspro.plugin import PLUGIN
from bridge_pipelines.errors import BadInputError, NeedsLookupError, RejectedByErpError
from bridge_pipelines.tenants.erp import build_adapter
from bridge_pipelines_tests.integration.erps.syspro.helpers import adapter_for, calls, invoice
from bridge_pipelines_tests.integration.erps.syspro.test_registry_factory import _tenant

APSTPM_MATCH = {"method": "GET", "path": "*/Transaction/Post", "query_contains": "APSTPM"}


def posted(number: str, total: str = "1150.00", **kwargs) -> PostableInvoice:
    """An invoice with a reference of our shape (credit memos: pass a negative total)."""
    kind = kwargs.get("document_type", DocumentType.INVOICE)
    ref = external_ref("demo", "V-0001", number, kind, date.today(), "USD", Decimal(total))
    tax = "-150.00" if total.startswith("-") else "150.00"
    return invoice(number, ref=ref, total=total, tax=tax, **kwargs)


def applied(doc: PostableInvoice, amount: str) -> PaymentApplication:
    return PaymentApplication(
        invoice=doc.ref,
        document_type=doc.document_type,
        amount=Decimal(amount),
        erp_doc_id=f"{doc.vendor_code}/{doc.invoice_number}",
    )


def payment(
    *applications: PaymentApplication,
    payment_id: str = "PAY-1",
    reference: str | None = "CHK-1001",
    vendor: str = "SUP00001",
    currency: str = "USD",
) -> PostablePayment:
    signs = {DocumentType.INVOICE: 1, DocumentType.CREDIT_MEMO: -1}
    total = sum((a.amount * signs[a.document_type] for a in applications), Decimal(0))
    return PostablePayment(
        tenant="demo",
        external_ref=payment_external_ref(
            "demo", "V-0001", payment_id, date.today(), currency, total
        ),
        record_ids=(1,),
        payment_id=payment_id,
        vendor_code=vendor,
        payment_date=date.today(),
        currency=currency,
        method="Check",
        reference=reference,
        applications=applications,
        lineage=SourceLineage("payments_20261206.csv", (2,)),
    )


def payments_in(sandbox) -> list[dict]:
    return [d for d in sandbox.admin.documents() if d["type"] == "ap_payment"]


def test_partial_payment_leaves_the_rest_open(syspro_sandbox):
    inv = posted("INV-1001")
    pay = payment(applied(inv, "400.00"))
    with adapter_for(syspro_sandbox) as adapter:
        adapter.post_invoice(inv)
        doc = adapter.post_payment(pay)
        [balance] = adapter.read_open_balances([inv.ref])
        found = adapter.find_payment(pay.ref)
    assert doc.doc_id == "MANLOC/SUP00001/CHK-1001" and doc.complete
    assert doc.total == Decimal("400.00") and doc.external_ref == pay.external_ref
    assert (balance.total, balance.open_amount, balance.paid) == (
        Decimal("1150.00"),
        Decimal("750.00"),
        False,
    )
    assert balance.external_ref == inv.external_ref and balance.currency == "USD"
    assert [(f.doc_id, f.total) for f in found] == [(doc.doc_id, Decimal("400.00"))]
    [check] = payments_in(syspro_sandbox)
    assert check["PaymentReference"] == pay.external_ref and check["ChequeValue"] == "400.00"


def test_one_payment_settles_two_invoices(syspro_sandbox):
    first, second = posted("INV-1001"), posted("INV-1002", "2000.00")
    pay = payment(applied(first, "1150.00"), applied(second, "2000.00"))
    with adapter_for(syspro_sandbox) as adapter:
        adapter.post_invoice(first)
        adapter.post_invoice(second)
        doc = adapter.post_payment(pay)
        balances = {
            b.document_number: b for b in adapter.read_open_balances([first.ref, second.ref])
        }
    assert doc.total == Decimal("3150.00")
    assert {n: (b.open_amount, b.paid) for n, b in balances.items()} == {
        "INV-1001": (Decimal("0.00"), True),
        "INV-1002": (Decimal("0.00"), True),
    }
    [check] = payments_in(syspro_sandbox)
    assert [i["Invoice"] for i in check["invoices"]] == ["INV-1001", "INV-1002"]


def test_credit_memo_taken_on_the_payment(syspro_sandbox):
    inv = posted("INV-1001")
    memo = posted("CM-1", "-230.00", document_type=DocumentType.CREDIT_MEMO)
    pay = payment(applied(inv, "1150.00"), applied(memo, "230.00"))
    assert pay.total == Decimal("920.00")
    with adapter_for(syspro_sandbox) as adapter:
        adapter.post_invoice(inv)
        adapter.post_invoice(memo)
        doc = adapter.post_payment(pay)
        balances = list(adapter.read_open_balances([inv.ref, memo.ref]))
    assert doc.total == Decimal("920.00")
    assert sorted((b.document_number, b.total, b.paid) for b in balances) == [
        ("CM-1", Decimal("230.00"), True),
        ("INV-1001", Decimal("1150.00"), True),
    ]
    [check] = payments_in(syspro_sandbox)
    assert [i["TrnValue"] for i in check["invoices"]] == ["1150.00", "-230.00"]


def test_over_payment_is_rejected_with_syspros_message(syspro_sandbox):
    inv = posted("INV-1001")
    with adapter_for(syspro_sandbox) as adapter:
        adapter.post_invoice(inv)
        with pytest.raises(RejectedByErpError) as caught:
            adapter.post_payment(payment(applied(inv, "1150.01")))
        [balance] = adapter.read_open_balances([inv.ref])
    message = "Gross pay value 1150.01 exceeds the balance 1150.00 of invoice 'INV-1001'"
    assert message in str(caught.value) and "<ErrorDescription>" in caught.value.response
    assert balance.open_amount == Decimal("1150.00") and payments_in(syspro_sandbox) == []


def test_error_after_commit_then_lookup_finds_the_committed_payment(syspro_sandbox):
    inv = posted("INV-1001")
    pay = payment(applied(inv, "400.00"))
    with adapter_for(syspro_sandbox) as adapter:
        adapter.post_invoice(inv)
        syspro_sandbox.admin.arm_fault("error_after_commit", **APSTPM_MATCH)
        with pytest.raises(NeedsLookupError):
            adapter.post_payment(pay)
        found = adapter.find_payment(pay.ref)
    assert [f.doc_id for f in found] == ["MANLOC/SUP00001/CHK-1001"]
    assert len(calls(syspro_sandbox, "/Transaction/Post")) == 2  # the invoice, one payment
    assert len(payments_in(syspro_sandbox)) == 1


def test_expired_session_mid_payment_looks_up_then_sends_once(syspro_sandbox):
    inv = posted("INV-1001")
    pay = payment(applied(inv, "400.00"))
    with adapter_for(syspro_sandbox) as adapter:
        adapter.post_invoice(inv)
        since = syspro_sandbox.admin.requests()[-1]["id"]
        syspro_sandbox.admin.arm_fault("expire_session", **APSTPM_MATCH)
        doc = adapter.post_payment(pay)
    assert doc.doc_id == "MANLOC/SUP00001/CHK-1001"
    steps = [r["path"].rsplit("/", 1)[-1] for r in syspro_sandbox.admin.requests(since=since)]
    assert steps[:5] == ["Post", "Logoff", "Logon", "Query", "Post"]  # lookup before resend
    assert len(payments_in(syspro_sandbox)) == 1


def test_expired_session_after_an_earlier_commit_finds_it_and_sends_nothing(syspro_sandbox):
    inv = posted("INV-1001")
    pay = payment(applied(inv, "400.00"))
    with adapter_for(syspro_sandbox) as adapter:
        adapter.post_invoice(inv)
        first_doc = adapter.post_payment(pay)
        syspro_sandbox.admin.arm_fault("expire_session", **APSTPM_MATCH)
        again = adapter.post_payment(pay)  # e.g. a worker that died before the ledger write
    assert again.doc_id == first_doc.doc_id
    [check] = payments_in(syspro_sandbox)
    assert check["invoices"] == [{"Invoice": "INV-1001", "TrnValue": "400.00", "DiscValue": "0.00"}]


def test_read_posted_payments_lists_ours_with_totals(syspro_sandbox):
    first, second = posted("INV-1001"), posted("INV-1002")
    with adapter_for(syspro_sandbox) as adapter:
        adapter.post_invoice(first)
        adapter.post_invoice(second)
        adapter.post_payment(payment(applied(first, "100.00"), payment_id="PAY-1", reference="A1"))
        adapter.post_payment(payment(applied(second, "200.00"), payment_id="PAY-2", reference="A2"))
        listed = list(adapter.read_posted_payments(date.today()))
        later = list(adapter.read_posted_payments(date.today() + timedelta(days=1)))
    assert sorted((d.document_number, d.total) for d in listed) == [
        ("A1", Decimal("100.00")),
        ("A2", Decimal("200.00")),
    ]
    assert all(is_external_ref(d.external_ref or "") for d in listed) and later == []


def test_currency_without_a_payment_run_is_bad_input_and_nothing_is_sent(syspro_sandbox):
    eur_invoice = invoice("INV-E1", vendor="SUP00002", ref="BPEURINVOICE00000001")
    pay = payment(applied(eur_invoice, "100.00"), vendor="SUP00002", currency="EUR")
    adapter = adapter_for(syspro_sandbox)
    adapter.payment_runs = {"USD": "MANLOC"}
    with adapter, pytest.raises(BadInputError, match=r"no SYSPRO payment run .* EUR"):
        adapter.post_payment(pay)
    assert calls(syspro_sandbox, "/Transaction/Post") == []


def test_long_stampli_ids_take_a_check_number_from_our_reference(syspro_sandbox):
    inv = posted("INV-1001")
    pay = payment(
        applied(inv, "1.00"), payment_id="STAMPLI-PAYMENT-77", reference="WIRE-2026-12-06"
    )
    with adapter_for(syspro_sandbox) as adapter:
        adapter.post_invoice(inv)
        adapter.post_payment(pay)
        again = adapter.find_payment(pay.ref)
    assert len(again) == 1
    assert [check["Cheque"] for check in payments_in(syspro_sandbox)] == [pay.external_ref[-10:]]


def test_syspro_records_payments():
    assert PLUGIN.records_payments() is True


def test_tenant_payment_runs_choose_the_run_by_currency(syspro_sandbox, tenant_keyring):
    runs = {"USD": "MANLOC", "EUR": "MANEUR"}
    tenant = _tenant(syspro_sandbox, tenant_keyring, syspro_payment_runs=runs)
    eur_invoice = invoice("INV-E1", vendor="SUP00002", ref="BPEURINVOICE00000001")
    with build_adapter(tenant, keyring=tenant_keyring, read_timeout=2.0) as adapter:
        adapter.post_invoice(eur_invoice)
        doc = adapter.post_payment(
            payment(applied(eur_invoice, "100.00"), vendor="SUP00002", currency="EUR")
        )
    assert doc.doc_id == "MANEUR/SUP00002/CHK-1001"
