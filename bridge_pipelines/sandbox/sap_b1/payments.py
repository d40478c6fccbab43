"""Outgoing payments (`VendorPayments`, B1 object 46, OVPM/VPM2) and what they do to A/P documents.

Registered on the Service Layer's entity sets by `register()` (called from `app.py`). Rules
(marked as in `documents.py`: [C] in erp-facts or public clients, [I] the likeliest answer):

- [C] Body (public Service Layer clients): `CardCode`, `DocDate`, `DocCurrency`,
  `TransferAccount` / `TransferSum` / `TransferDate` / `TransferReference` for a bank transfer or
  `CashAccount` / `CashSum` for cash, `Remarks`, `JournalRemarks`, `CounterReference`, and
  `PaymentInvoices` lines `{DocEntry, InvoiceType, SumApplied}`, `InvoiceType`
  `it_PurchaseInvoice` or `it_PurchaseCreditNote`. The answer is 201 with `DocEntry`/`DocNum`.
- [I] The supplier must be an existing, unfrozen `cSupplier`; every document applied must be
  that supplier's, not cancelled, in the payment's currency.
- [C] The applied sum cannot exceed what is open on the document (`DocTotal - PaidToDate`): B1
  refuses it ([I] code -10 and text); [I] a credit memo is applied the same way and reduces the
  amount paid out.
- [I] Invoices applied less credit memos taken must equal the means of payment (`TransferSum +
  CashSum`); B1 would book a difference "on account", which the bridge never asks for.
- [I] The means' account must exist and be active; the posting period of `DocDate` must be open
  (-4013, as for documents).
- [C] After the payment the document's `PaidToDate` grows by the sum applied; fully paid, its
  `DocumentStatus` is `bost_Close`.
- `JournalRemarks` holds 50 characters ([I], OVPM.JrnlMemo like the documents' JournalMemo).
Cancelling a payment (`VendorPayments(n)/Cancel`) is not modelled: the bridge never cancels.
"""

import json
from dataclasses import replace
from decimal import Decimal
from typing import Any

from bridge_pipelines.sandbox.erp_base.store import StateStore
from bridge_pipelines.sandbox.sap_b1 import documents
from bridge_pipelines.sandbox.sap_b1.documents import (
    B1Error,
    EntitySet,
    _account,
    _money,
    _period_open,
    _supplier,
    _unknown_properties,
)
from bridge_pipelines.sandbox.sap_b1.store import (
    get_record,
    insert_record,
    next_number,
    query_records,
    replace_record,
)

ENTITY = "VendorPayments"
INVOICE_TYPES = {
    "it_PurchaseInvoice": "PurchaseInvoices",
    "it_PurchaseCreditNote": "PurchaseCreditNotes",
}
KINDS = {"PurchaseInvoices": "PurchaseInvoice", "PurchaseCreditNotes": "PurchaseCreditNote"}
MAX_JOURNAL_REMARKS = 50

_PAYMENT = frozenset(
    [
        "DocEntry",
        "DocNum",
        "DocType",
        "DocDate",
        "DocDueDate",
        "TaxDate",
        "CardCode",
        "CardName",
        "DocCurrency",
        "CashAccount",
        "CashSum",
        "TransferAccount",
        "TransferSum",
        "TransferDate",
        "TransferReference",
        "CounterReference",
        "Remarks",
        "JournalRemarks",
        "Reference1",
        "Reference2",
        "Cancelled",
        "Series",
        "PaymentInvoices",
    ]
)
_PAYMENT_LINE = frozenset(["LineNum", "DocEntry", "InvoiceType", "SumApplied", "DocLine"])
VENDOR_PAYMENTS = EntitySet(
    ENTITY,
    "DocEntry",
    "Payment",
    _PAYMENT,
    "PaymentInvoices",
    "PaymentInvoice",
    _PAYMENT_LINE,
    int_key=True,
    writable=True,
)


def create_vendor_payment(
    store: StateStore, body: dict[str, Any], config: dict[str, Any]
) -> dict[str, Any]:
    """An outgoing payment to a supplier, applied to its open A/P documents."""
    _unknown_properties(body, VENDOR_PAYMENTS)
    for assigned in ("DocEntry", "DocNum"):
        if assigned in body:
            raise B1Error(400, -1000, f"Property '{assigned}' of 'Payment' is read-only")
    doc_type = body.get("DocType", "rCustomer")
    if doc_type != "rSupplier":
        raise B1Error(400, -5002, "Only supplier payments are held by this sandbox [OVPM.DocType]")
    bp = _supplier(store, body.get("CardCode"), "OVPM")
    memo = body.get("JournalRemarks")
    if memo is not None and (not isinstance(memo, str) or len(memo) > MAX_JOURNAL_REMARKS):
        raise B1Error(400, -10, "Value too long in property 'JournalRemarks' of 'Payment'")
    currency = body.get("DocCurrency") or bp.get("Currency") or "USD"
    lines = body.get("PaymentInvoices") or []
    if not lines:
        raise B1Error(400, -5002, "Select at least one document to pay [VPM2.DocEntry]")  # [I]
    applied_total = Decimal(0)
    paid: dict[tuple[str, int], Decimal] = {}
    clean = []
    for n, line in enumerate(lines, 1):
        where = f"[VPM2.DocEntry][line: {n}]"
        entity = INVOICE_TYPES.get(str(line.get("InvoiceType", "it_PurchaseInvoice")))
        if entity is None:
            raise B1Error(
                400, -1000, f"Enum value '{line.get('InvoiceType')}' is invalid for 'InvoiceType'"
            )
        doc = get_record(store, entity, line.get("DocEntry"))
        if doc is None or doc.get("Cancelled") == "tYES":
            raise B1Error(400, -10, f"Document {line.get('DocEntry')} not found {where}")  # [I]
        if doc["CardCode"] != bp["CardCode"]:
            raise B1Error(400, -10, f"Document {doc['DocEntry']} is not {bp['CardCode']}'s {where}")
        if (doc.get("DocCurrency") or "USD") != currency:
            raise B1Error(400, -10, f"Document currency differs from payment currency {where}")
        amount = _money(line.get("SumApplied"), "SumApplied")
        key = (entity, int(doc["DocEntry"]))
        open_amount = (
            Decimal(str(doc["DocTotal"]))
            - Decimal(str(doc.get("PaidToDate") or 0))
            - paid.get(key, Decimal(0))
        )
        if amount <= 0 or amount > open_amount:
            # [C] the rule; [I] the code and text.
            raise B1Error(
                400,
                -10,
                f"Amount applied ({amount}) exceeds the open balance ({open_amount}) "
                f"[VPM2.SumApplied][line: {n}]",
            )
        paid[key] = paid.get(key, Decimal(0)) + amount
        applied_total += amount if entity == "PurchaseInvoices" else -amount
        clean.append({**line, "LineNum": n - 1, "SumApplied": amount})
    means = Decimal(0)
    for sum_field, account_field in (
        ("TransferSum", "TransferAccount"),
        ("CashSum", "CashAccount"),
    ):
        if body.get(sum_field) is None:
            continue
        amount = _money(body[sum_field], sum_field)
        if amount:
            _account(store, body.get(account_field), f"[OVPM.{account_field}]")
        means += amount
    if means <= 0 or means != applied_total:
        raise B1Error(
            400,
            -5002,
            f"Payment amount {means} differs from the total applied {applied_total}",  # [I]
        )
    date = _period_open(body.get("DocDate") or config["today"], config, "[OVPM.DocDate]")
    with store.transaction() as conn:
        entry = next_number(conn, f"DocEntry:{ENTITY}")
        record = {
            "DocEntry": entry,
            "DocNum": next_number(conn, f"DocNum:{ENTITY}", start=1),
            "DocType": doc_type,
            "DocDate": date,
            "CardCode": bp["CardCode"],
            "CardName": bp["CardName"],
            "DocCurrency": currency,
            "Cancelled": "tNO",
            **{
                k: v for k, v in body.items() if k not in ("DocDate", "CardName", "PaymentInvoices")
            },
            "PaymentInvoices": clean,
        }
        insert_record(conn, ENTITY, entry, record)
        for (entity, doc_entry), amount in paid.items():
            row = conn.execute(
                "SELECT body FROM records WHERE entity_set = ? AND key = ?",
                (entity, str(doc_entry)),
            ).fetchone()
            doc = json.loads(row[0])
            doc["PaidToDate"] = Decimal(str(doc.get("PaidToDate") or 0)) + amount
            if Decimal(str(doc["PaidToDate"])) >= Decimal(str(doc["DocTotal"])):
                doc["DocumentStatus"] = "bost_Close"
            replace_record(conn, entity, doc_entry, doc)
    return record


def sandbox_documents(store: StateStore) -> list[dict[str, Any]]:
    """Payments as `/_sandbox/documents` lists them (`kind` `VendorPayment`)."""
    rows = []
    for payment in query_records(store, ENTITY, "1", [], limit=None, offset=0):
        total = Decimal(str(payment.get("TransferSum") or 0)) + Decimal(
            str(payment.get("CashSum") or 0)
        )
        rows.append(
            {
                "kind": "VendorPayment",
                "DocEntry": payment["DocEntry"],
                "DocNum": payment["DocNum"],
                "CardCode": payment["CardCode"],
                "JournalRemarks": payment.get("JournalRemarks"),
                "DocDate": payment["DocDate"],
                "Cancelled": payment.get("Cancelled", "tNO"),
                "total": f"{total:.2f}",
                "applied": [
                    {
                        "doc_id": f"{INVOICE_TYPES[line['InvoiceType']]}({line['DocEntry']})",
                        "SumApplied": f"{Decimal(str(line['SumApplied'])):.2f}",
                    }
                    for line in payment["PaymentInvoices"]
                ],
            }
        )
    return rows


def register() -> None:
    """`VendorPayments` among the entity sets, and `PaidToDate` readable on A/P documents."""
    documents.ENTITY_SETS[ENTITY] = VENDOR_PAYMENTS
    documents.CREATORS[ENTITY] = create_vendor_payment
    for name in INVOICE_TYPES.values():
        entity = documents.ENTITY_SETS[name]
        if "PaidToDate" not in entity.properties:
            documents.ENTITY_SETS[name] = replace(
                entity, properties=entity.properties | {"PaidToDate"}
            )
