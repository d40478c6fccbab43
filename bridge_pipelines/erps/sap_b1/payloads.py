"""SAP B1 Service Layer JSON: the documents we POST and the OData filters we search with.

Amounts are `Decimal`s written into the JSON as number literals from their exact text
(`1000.00`, never a float's `999.9999999`); SAP reads JSON numbers as decimals. An amount with
more than two decimals is refused, never rounded.

Posting modes (per tenant, `erp.sap_b1_posting_mode`):

- `service_invoice` (default): an A/P service invoice, `PurchaseInvoices` with
  `DocType=dDocument_Service`, one `DocumentLines` entry per expense line (`AccountCode`,
  `LineTotal`, `CostingCode`, `ProjectCode`). A credit memo is the same document on
  `PurchaseCreditNotes` (positive amounts: the object carries the sign, as in SAP's own UI).
- `journal_entry`: `JournalEntries`, expense lines debited, the supplier credited with the
  gross amount (`ShortName` = CardCode, so SAP uses the partner's control account); a credit
  memo swaps the sides. Balanced by construction.

References (issue 16): the vendor's invoice number goes where AP users search for it, our
reference into a searchable field out of the clerk's way:

- documents: `NumAtCard` ("Vendor Ref. No.", 100 characters) = the vendor's invoice number;
  `JournalMemo` ("Journal Remark" on the Accounting tab, 50 characters, copied by B1 to the
  document's journal entry) = our `BP...` reference alone, so `$filter=JournalMemo eq '...'`
  finds it. Documents posted before the change carry our reference in `NumAtCard`; lookups
  search both fields (`document_filter`).
- journal entries: `Reference` (Ref. 1) = ours, `Reference2` (Ref. 2, 100) = the vendor's
  invoice number.

Tax: `PostableInvoice.expense_lines` (one rule for every ERP): spread over the expense lines
in proportion, or one "Sales tax" line on `tax_account` when the tenant names one. We send no
SAP tax code. Sign: amounts are positive (`PostableInvoice`); the object (credit note) or the
swapped journal sides carry a credit memo's direction. Free text goes through `fit_text`.
"""

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Literal

from bridge_pipelines.erps.base import (
    DimensionType,
    DocumentType,
    PostableInvoice,
    PostablePayment,
    VendorChange,
)
from bridge_pipelines.erps.values import cents, exact_json, fit_text
from bridge_pipelines.errors import BadInputError

PostingMode = Literal["service_invoice", "journal_entry"]
PaymentMeans = Literal["bank_transfer", "cash"]
SERVICE_DOCUMENT = "dDocument_Service"
SUPPLIER = "cSupplier"
INVOICES = "PurchaseInvoices"
CREDIT_NOTES = "PurchaseCreditNotes"
JOURNAL_ENTRIES = "JournalEntries"
VENDOR_PAYMENTS = "VendorPayments"
INVOICE_TYPES = {INVOICES: "it_PurchaseInvoice", CREDIT_NOTES: "it_PurchaseCreditNote"}
MAX_JOURNAL_REMARKS = 50
MAX_NUM_AT_CARD = 100
MAX_JOURNAL_MEMO = 50
MAX_JE_MEMO = 50
MAX_REFERENCE = 100
MAX_CARD_CODE = 15
MAX_CARD_NAME = 100
MAX_TEXT = 254
MAX_LINE_TEXT = 100


def dumps(value: Any) -> str:
    """JSON text with every `Decimal` as an exact number literal and dates as ISO strings."""
    return exact_json(value, "SAP")


def literal(value: str) -> str:
    """An OData string literal: quoted, with single quotes doubled."""
    return "'" + value.replace("'", "''") + "'"


def money(amount: Decimal, what: str) -> Decimal:
    """`amount` in cents; more precision is refused, never rounded."""
    return cents(amount, what)


def _text(value: str, limit: int, what: str) -> str:
    if len(value) > limit:
        raise BadInputError(f"{what} {value!r} is longer than SAP's {limit} characters")
    return value


def _dims(dimensions: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    if dimensions.get(DimensionType.COST_CENTER):
        out["CostingCode"] = dimensions[DimensionType.COST_CENTER]
    if dimensions.get(DimensionType.PROJECT):
        out["ProjectCode"] = dimensions[DimensionType.PROJECT]
    return out


def _check_refs(invoice: PostableInvoice) -> None:
    _text(invoice.external_ref, MAX_JOURNAL_MEMO, "external reference")
    _text(invoice.vendor_code, MAX_CARD_CODE, "supplier code (CardCode)")
    _text(invoice.invoice_number, MAX_NUM_AT_CARD, "vendor invoice number (NumAtCard)")


def _expense_lines(
    invoice: PostableInvoice, tax_account: str | None
) -> list[tuple[str, Decimal, str, dict[str, str]]]:
    """(account, amount, text, dimension fields) per line, tax as `expense_lines` books it."""
    return [
        (
            line.ledger_code,
            money(line.amount, f"invoice {invoice.invoice_number} line amount"),
            fit_text(line.description, MAX_LINE_TEXT),
            _dims(line.dimensions),
        )
        for line in invoice.expense_lines(tax_account)
    ]


def entity_set_for(invoice: PostableInvoice, mode: PostingMode) -> str:
    """Where the document is posted: invoices, credit notes or journal entries."""
    if mode == "journal_entry":
        return JOURNAL_ENTRIES
    return CREDIT_NOTES if invoice.document_type == DocumentType.CREDIT_MEMO else INVOICES


def service_document(invoice: PostableInvoice, tax_account: str | None = None) -> dict[str, Any]:
    """The `PurchaseInvoices` / `PurchaseCreditNotes` body of a service document."""
    _check_refs(invoice)
    kind = "credit memo" if invoice.document_type == DocumentType.CREDIT_MEMO else "invoice"
    return {
        "CardCode": invoice.vendor_code,
        "DocType": SERVICE_DOCUMENT,
        "DocDate": invoice.posting_date,
        "DocDueDate": invoice.due_date or invoice.invoice_date,
        "TaxDate": invoice.invoice_date,
        "NumAtCard": invoice.invoice_number,
        "JournalMemo": invoice.external_ref,
        "DocCurrency": invoice.currency,
        "Comments": fit_text(f"From Stampli: {kind} {invoice.invoice_number}", MAX_TEXT),
        "DocumentLines": [
            {"ItemDescription": text, "AccountCode": account, "LineTotal": amount, **dims}
            for account, amount, text, dims in _expense_lines(invoice, tax_account)
        ],
    }


def journal_entry(invoice: PostableInvoice, tax_account: str | None = None) -> dict[str, Any]:
    """The `JournalEntries` body: expenses debited, the supplier credited (a credit memo swaps)."""
    _check_refs(invoice)
    credit_memo = invoice.document_type == DocumentType.CREDIT_MEMO
    zero = Decimal("0.00")

    def sides(amount: Decimal, debit: bool) -> dict[str, Decimal]:
        return {"Debit": amount, "Credit": zero} if debit else {"Debit": zero, "Credit": amount}

    lines: list[dict[str, Any]] = [
        {"AccountCode": account, **sides(amount, not credit_memo), "LineMemo": text, **dims}
        for account, amount, text, dims in _expense_lines(invoice, tax_account)
    ]
    total = money(invoice.total, "invoice total")
    lines.append(
        {
            "ShortName": invoice.vendor_code,
            **sides(total, credit_memo),
            "LineMemo": fit_text(f"{invoice.vendor_code} {invoice.invoice_number}", MAX_LINE_TEXT),
        }
    )
    kind = "credit memo" if credit_memo else "invoice"
    return {
        "ReferenceDate": invoice.posting_date,
        "TaxDate": invoice.invoice_date,
        "DueDate": invoice.due_date or invoice.invoice_date,
        "Reference": invoice.external_ref,
        "Reference2": _text(invoice.invoice_number, MAX_REFERENCE, "vendor invoice number"),
        "Memo": fit_text(f"Stampli {kind} {invoice.invoice_number}", MAX_JE_MEMO),
        "JournalEntryLines": lines,
    }


def document_filter(vendor_code: str, reference: str) -> str:
    """`$filter` for our document: supplier, our reference, not cancelled.

    Our reference is in `JournalMemo` since issue 16 and in `NumAtCard` on documents posted
    before it: both are searched, so a document is found whenever it was posted.
    """
    ref = literal(reference)
    return (
        f"CardCode eq {literal(vendor_code)} and (JournalMemo eq {ref} or NumAtCard eq {ref})"
        " and Cancelled eq 'tNO'"
    )


def posted_filter(prefix: str) -> str:
    """`$filter` for every document that may be ours: our prefix in either reference field."""
    return (
        f"(startswith(JournalMemo,{literal(prefix)}) or startswith(NumAtCard,{literal(prefix)}))"
        " and Cancelled eq 'tNO'"
    )


def reference_of(row: Mapping[str, Any], is_ours: Callable[[str], bool]) -> str | None:
    """Our reference on a document row: `JournalMemo`, else `NumAtCard` (posted before)."""
    for field in ("JournalMemo", "NumAtCard"):
        value = str(row.get(field) or "")
        if is_ours(value):
            return value
    return None


def journal_filter(reference: str) -> str:
    """`$filter` for our journal entry: our reference in `Reference`."""
    return f"Reference eq {literal(reference)}"


def _applied_document(erp_doc_id: str | None, what: str) -> tuple[str, int]:
    """`PurchaseInvoices(12)` -> (`PurchaseInvoices`, 12): the document a payment settles."""
    text = erp_doc_id or ""
    entity_set, _, rest = text.partition("(")
    key = rest.rstrip(")")
    if entity_set not in INVOICE_TYPES or not key.isdigit():
        raise BadInputError(
            f"{what}: the ledger's ERP document {text or '(none)'} is no A/P invoice or credit "
            "note (a journal entry takes no payment): record the payment by hand"
        )
    return entity_set, int(key)


def vendor_payment(
    payment: PostablePayment, account: str, means: PaymentMeans = "bank_transfer"
) -> dict[str, Any]:
    """The `VendorPayments` body: the posted documents it settles, paid from `account`.

    Our reference goes into `JournalRemarks` alone (as `JournalMemo` on documents); Stampli's
    payment id, method and reference into `Remarks`, where an AP clerk reads them.
    """
    _text(payment.external_ref, MAX_JOURNAL_REMARKS, "external reference")
    _text(payment.vendor_code, MAX_CARD_CODE, "supplier code (CardCode)")
    lines = []
    for application in payment.applications:
        what = f"payment {payment.payment_id} on {application.invoice.document_number}"
        entity_set, key = _applied_document(application.erp_doc_id, what)
        lines.append(
            {
                "DocEntry": key,
                "InvoiceType": INVOICE_TYPES[entity_set],
                "SumApplied": money(application.amount, f"{what}: amount applied"),
            }
        )
    total = money(payment.total, f"payment {payment.payment_id} total")
    body: dict[str, Any] = {
        "DocType": "rSupplier",
        "CardCode": payment.vendor_code,
        "DocDate": payment.payment_date,
        "DocCurrency": payment.currency,
        "JournalRemarks": payment.external_ref,
        "Remarks": fit_text(
            f"Stampli payment {payment.payment_id} ({payment.method})"
            + (f": {payment.reference}" if payment.reference else ""),
            MAX_TEXT,
        ),
        "PaymentInvoices": lines,
    }
    if means == "cash":
        body |= {"CashAccount": account, "CashSum": total}
    else:
        body |= {
            "TransferAccount": account,
            "TransferSum": total,
            "TransferDate": payment.payment_date,
        }
    return body


def payment_filter(vendor_code: str, reference: str) -> str:
    """`$filter` for our payment: supplier, our reference in `JournalRemarks`, not cancelled."""
    return (
        f"CardCode eq {literal(vendor_code)} and JournalRemarks eq {literal(reference)}"
        " and Cancelled eq 'tNO'"
    )


def business_partner(vendor: VendorChange, *, create: bool) -> dict[str, Any]:
    """A supplier (`cSupplier`) body: everything for a create, only what we own for a PATCH."""
    if not vendor.code:
        raise BadInputError(f"vendor {vendor.name!r}: SAP B1 needs a CardCode; map it first")
    body: dict[str, Any] = {"CardName": _text(vendor.name, MAX_CARD_NAME, "supplier name")}
    if create:
        body = {
            "CardCode": _text(vendor.code, MAX_CARD_CODE, "supplier code"),
            "CardType": SUPPLIER,
            **body,
        }
    if vendor.currency:
        body["Currency"] = vendor.currency
    if vendor.tax_id:
        body["FederalTaxID"] = vendor.tax_id
    if vendor.email:
        body["EmailAddress"] = vendor.email
    if vendor.on_hold:
        body["Frozen"] = "tYES"
    elif not create:
        body["Frozen"] = "tNO"
    return body
