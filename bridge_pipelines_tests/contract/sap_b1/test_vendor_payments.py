"""Outgoing payments (`VendorPayments`): applied to A/P invoices and credit notes, as B1 does.

[C] the body public Service Layer clients send (CardCode, DocDate, TransferAccount/TransferSum,
JournalRemarks, PaymentInvoices with DocEntry/InvoiceType/SumApplied) and the documented rule
that the sum applied cannot exceed what is open; [I] the codes and texts (see the module
docstring of `sandbox/sap_b1/payments.py`).
"""

import pytest

from bridge_pipelines.sandbox.sap_b1.seed import BANK_ACCOUNT
from bridge_pipelines_tests.contract.sap_b1 import payloads

pytestmark = pytest.mark.contract


@pytest.fixture
def session(sapb1_sandbox):
    return sapb1_sandbox.login()


def _error(response):
    error = response.json()["error"]
    return error["code"], error["message"]["value"]


def _post(sandbox, session, entity, body):
    response = sandbox.request("POST", entity, session, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def _payment(lines, total, **overrides):
    body = {
        "DocType": "rSupplier",
        "CardCode": payloads.SUPPLIER,
        "DocDate": payloads.TODAY,
        "DocCurrency": "USD",
        "TransferAccount": BANK_ACCOUNT,
        "TransferSum": total,
        "TransferDate": payloads.TODAY,
        "JournalRemarks": "BP0123456789ABCDEFGH",
        "PaymentInvoices": lines,
    }
    body.update(overrides)
    return body


def test_sapb1_payment_closes_a_fully_paid_invoice_and_leaves_a_partial_one_open(
    sapb1_sandbox, session
):
    first = _post(sapb1_sandbox, session, "PurchaseInvoices", payloads.service_invoice("INV-1"))
    second = _post(sapb1_sandbox, session, "PurchaseInvoices", payloads.service_invoice("INV-2"))
    lines = [
        {"DocEntry": first["DocEntry"], "InvoiceType": "it_PurchaseInvoice", "SumApplied": 1025.5},
        {"DocEntry": second["DocEntry"], "InvoiceType": "it_PurchaseInvoice", "SumApplied": 25.5},
    ]
    paid = _post(sapb1_sandbox, session, "VendorPayments", _payment(lines, 1051.0))
    assert paid["DocEntry"] == 1 and paid["DocNum"] == 1
    one = sapb1_sandbox.request("GET", f"PurchaseInvoices({first['DocEntry']})", session).json()
    two = sapb1_sandbox.request("GET", f"PurchaseInvoices({second['DocEntry']})", session).json()
    assert (one["PaidToDate"], one["DocumentStatus"]) == (1025.5, "bost_Close")
    assert (two["PaidToDate"], two["DocumentStatus"]) == (25.5, "bost_Open")
    found = sapb1_sandbox.request(
        "GET",
        "VendorPayments",
        session,
        params={"$filter": "JournalRemarks eq 'BP0123456789ABCDEFGH'", "$select": "DocEntry"},
    )
    assert found.json()["value"] == [{"DocEntry": 1}]


def test_sapb1_payment_over_the_open_amount_is_refused_and_changes_nothing(sapb1_sandbox, session):
    invoice = _post(sapb1_sandbox, session, "PurchaseInvoices", payloads.service_invoice("INV-1"))
    lines = [{"DocEntry": invoice["DocEntry"], "InvoiceType": "it_PurchaseInvoice",
              "SumApplied": 1025.51}]  # fmt: skip
    response = sapb1_sandbox.request(
        "POST", "VendorPayments", session, json=_payment(lines, 1025.51)
    )
    assert response.status_code == 400
    code, message = _error(response)
    assert code == -10 and "exceeds the open balance" in message and "VPM2.SumApplied" in message
    again = sapb1_sandbox.request("GET", f"PurchaseInvoices({invoice['DocEntry']})", session)
    assert again.json()["PaidToDate"] == 0
    assert not [d for d in sapb1_sandbox.admin.documents() if d["kind"] == "VendorPayment"]


def test_sapb1_credit_note_taken_in_a_payment_reduces_what_is_paid_out(sapb1_sandbox, session):
    invoice = _post(sapb1_sandbox, session, "PurchaseInvoices", payloads.service_invoice("INV-1"))
    note = _post(sapb1_sandbox, session, "PurchaseCreditNotes", payloads.service_invoice("CM-1",
                 DocumentLines=[{"AccountCode": payloads.EXPENSE, "LineTotal": 25.5}]))  # fmt: skip
    lines = [
        {
            "DocEntry": invoice["DocEntry"],
            "InvoiceType": "it_PurchaseInvoice",
            "SumApplied": 1025.5,
        },
        {"DocEntry": note["DocEntry"], "InvoiceType": "it_PurchaseCreditNote", "SumApplied": 25.5},
    ]
    wrong = sapb1_sandbox.request("POST", "VendorPayments", session, json=_payment(lines, 1025.5))
    assert wrong.status_code == 400 and _error(wrong)[0] == -5002
    _post(sapb1_sandbox, session, "VendorPayments", _payment(lines, 1000.0))
    taken = sapb1_sandbox.request("GET", f"PurchaseCreditNotes({note['DocEntry']})", session)
    assert (taken.json()["PaidToDate"], taken.json()["DocumentStatus"]) == (25.5, "bost_Close")


def test_sapb1_payment_to_another_suppliers_invoice_or_without_account_is_refused(
    sapb1_sandbox, session
):
    invoice = _post(sapb1_sandbox, session, "PurchaseInvoices", payloads.service_invoice("INV-1"))
    lines = [{"DocEntry": invoice["DocEntry"], "InvoiceType": "it_PurchaseInvoice",
              "SumApplied": 100.0}]  # fmt: skip
    other = sapb1_sandbox.request(
        "POST", "VendorPayments", session, json=_payment(lines, 100.0, CardCode="V10002")
    )
    assert other.status_code == 400 and "is not V10002's" in _error(other)[1]
    no_account = sapb1_sandbox.request(
        "POST", "VendorPayments", session, json=_payment(lines, 100.0, TransferAccount="NOPE")
    )
    assert no_account.status_code == 400 and _error(no_account)[0] == -5002
    long_memo = sapb1_sandbox.request(
        "POST", "VendorPayments", session, json=_payment(lines, 100.0, JournalRemarks="x" * 51)
    )
    assert long_memo.status_code == 400 and _error(long_memo)[0] == -10
