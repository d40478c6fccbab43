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

Either way our reference goes into a searchable field: `NumAtCard` (the vendor reference,
100 characters) on documents, `Reference` on journal entries; the vendor's own invoice number
goes into `Comments` / `Memo` / `Reference2` for people.

Tax: `PostableInvoice.tax` is already computed by Stampli, and we send no SAP tax code, so the
tax is one more line ("Tax") on `tax_account` when the tenant names one, else on the first
line's account and dimensions (non-recoverable US sales tax is expensed with the purchase).
"""

import json
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from bridge_pipelines.erps.base import DimensionType, DocumentType, PostableInvoice, VendorChange
from bridge_pipelines.errors import BadInputError

PostingMode = Literal["service_invoice", "journal_entry"]
SERVICE_DOCUMENT = "dDocument_Service"
SUPPLIER = "cSupplier"
INVOICES = "PurchaseInvoices"
CREDIT_NOTES = "PurchaseCreditNotes"
JOURNAL_ENTRIES = "JournalEntries"
MAX_NUM_AT_CARD = 100
MAX_REFERENCE = 100
MAX_CARD_CODE = 15
MAX_CARD_NAME = 100
MAX_TEXT = 254
MAX_LINE_TEXT = 100
CENT = Decimal("0.01")


def _encode(value: Any) -> str:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise BadInputError(f"amount {value} is not a finite number")
        return format(value, "f")
    if isinstance(value, dict):
        items = (f"{json.dumps(str(k))}:{_encode(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_encode(v) for v in value) + "]"
    if isinstance(value, date):
        return json.dumps(value.isoformat())
    if isinstance(value, float):
        raise TypeError("floats never go to SAP: use Decimal")
    return json.dumps(value, ensure_ascii=False)


def dumps(value: Any) -> str:
    """JSON text with every `Decimal` as an exact number literal and dates as ISO strings."""
    return _encode(value)


def literal(value: str) -> str:
    """An OData string literal: quoted, with single quotes doubled."""
    return "'" + value.replace("'", "''") + "'"


def money(amount: Decimal, what: str) -> Decimal:
    """`amount` with two decimals; more precision than cents is refused, never rounded."""
    quantized = amount.quantize(CENT)
    if quantized != amount:
        raise BadInputError(f"{what} {amount} has more than two decimals")
    return quantized


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
    _text(invoice.external_ref, MAX_NUM_AT_CARD, "external reference")
    _text(invoice.vendor_code, MAX_CARD_CODE, "supplier code (CardCode)")


def _sign(invoice: PostableInvoice) -> Decimal:
    """-1 for a credit memo signed as Stampli exports it (negative), else 1.

    The document (credit note) or the swapped journal sides carry a credit memo's direction,
    so its amounts go out positive however the caller signed them: the posting run passes the
    source's negative amounts through. A negative credit note would reverse the reversal.
    """
    credit_memo = invoice.document_type == DocumentType.CREDIT_MEMO
    return Decimal(-1) if credit_memo and invoice.total < 0 else Decimal(1)


def _expense_lines(
    invoice: PostableInvoice, tax_account: str | None
) -> list[tuple[str, Decimal, str, dict[str, str]]]:
    """(account, amount, text, dimension fields) per line, the tax as one more line."""
    sign = _sign(invoice)
    lines = [
        (
            line.ledger_code,
            money(sign * line.amount, f"invoice {invoice.invoice_number} line amount"),
            line.description[:MAX_LINE_TEXT],
            _dims(line.dimensions),
        )
        for line in invoice.lines
    ]
    if invoice.tax:
        first = invoice.lines[0]
        account = tax_account or first.ledger_code
        dims = {} if tax_account else _dims(first.dimensions)
        lines.append((account, money(sign * invoice.tax, "invoice tax"), "Tax", dims))
    return lines


def entity_set_for(invoice: PostableInvoice, mode: PostingMode) -> str:
    """Where the document is posted: invoices, credit notes or journal entries."""
    if mode == "journal_entry":
        return JOURNAL_ENTRIES
    return CREDIT_NOTES if invoice.document_type == DocumentType.CREDIT_MEMO else INVOICES


def service_document(invoice: PostableInvoice, tax_account: str | None = None) -> dict[str, Any]:
    """The `PurchaseInvoices` / `PurchaseCreditNotes` body of a service document."""
    _check_refs(invoice)
    comment = f"Stampli invoice {invoice.invoice_number} (ref {invoice.external_ref})"
    return {
        "CardCode": invoice.vendor_code,
        "DocType": SERVICE_DOCUMENT,
        "DocDate": invoice.posting_date,
        "DocDueDate": invoice.due_date or invoice.invoice_date,
        "TaxDate": invoice.invoice_date,
        "NumAtCard": invoice.external_ref,
        "DocCurrency": invoice.currency,
        "Comments": comment[:MAX_TEXT],
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
    total = money(_sign(invoice) * invoice.total, "invoice total")
    lines.append(
        {
            "ShortName": invoice.vendor_code,
            **sides(total, credit_memo),
            "LineMemo": f"{invoice.vendor_code} {invoice.invoice_number}"[:MAX_LINE_TEXT],
        }
    )
    kind = "credit memo" if credit_memo else "invoice"
    return {
        "ReferenceDate": invoice.posting_date,
        "TaxDate": invoice.invoice_date,
        "DueDate": invoice.due_date or invoice.invoice_date,
        "Reference": invoice.external_ref,
        "Reference2": invoice.invoice_number[:MAX_REFERENCE],
        "Memo": f"Stampli {kind} {invoice.invoice_number}"[:50],
        "JournalEntryLines": lines,
    }


def document_filter(vendor_code: str, reference: str) -> str:
    """`$filter` for our document: supplier, our reference in NumAtCard, not cancelled."""
    return (
        f"CardCode eq {literal(vendor_code)} and NumAtCard eq {literal(reference)}"
        " and Cancelled eq 'tNO'"
    )


def journal_filter(reference: str) -> str:
    """`$filter` for our journal entry: our reference in `Reference`."""
    return f"Reference eq {literal(reference)}"


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
