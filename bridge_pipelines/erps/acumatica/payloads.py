"""Acumatica contract-based JSON: value wrapping (in this one place), the Bill we PUT, filters.

Every field travels as `{"Field": {"value": ...}}`; detail arrays are not wrapped, their rows'
fields are; a linked object's fields are wrapped one level down; the row controls `id` and
`delete` stay bare [C: erp-facts §4]. `wrap` / `unwrap` are the only code that knows it.

The Bill (`PUT /Bill`, `If-None-Match: *`):

- `Type` `Bill`, or `Debit Adj.` for a vendor credit memo (Acumatica's AP debit adjustment;
  positive amounts, the type carries the direction).
- `Vendor` = the ERP vendor; `VendorRef` = the vendor's invoice number (the field AP users
  search by, 40 characters, refused when longer, never cut).
- `Description` starts with our `BP...` reference, then "Stampli invoice N" (255, fitted): a
  `$filter` with `startswith(Description,'BP')` lists ours for reconciliation.
- `Date` = the invoice date, `PostPeriod` = the posting date's period (`MMYYYY`), `DueDate`.
- `Details`: one row per expense line (`PostableInvoice.expense_lines`): `Branch` (the
  tenant's branch unless the line names one), `Account`, `Subaccount`, `Project`,
  `ExtendedCost`, `TransactionDescription`; a PO-matched line adds `POOrderType`/`POOrderNbr`.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from bridge_pipelines.erps.base import DimensionType, DocumentType, PostableInvoice, VendorChange
from bridge_pipelines.erps.values import cents, exact_json, fit_text
from bridge_pipelines.errors import BadInputError

BILL = "Bill"
DEBIT_ADJUSTMENT = "Debit Adj."
MAX_VENDOR_REF = 40
MAX_DESCRIPTION = 255
MAX_VENDOR_ID = 30
MAX_VENDOR_NAME = 255
ROW_CONTROLS = ("id", "delete")
UNRELEASED = ("On Hold", "Balanced")
CostCenterField = str  # "Subaccount" | "Branch" | "Project"


# --- the value object -------------------------------------------------------------------------


def wrap(plain: Mapping[str, Any]) -> dict[str, Any]:
    """Plain values as the endpoint takes them; `None` values are left out."""
    out: dict[str, Any] = {}
    for name, value in plain.items():
        if value is None:
            continue
        if name in ROW_CONTROLS:
            out[name] = value
        elif isinstance(value, list | tuple):
            out[name] = [wrap(row) for row in value]
        elif isinstance(value, Mapping):
            out[name] = wrap(value)
        else:
            out[name] = {"value": value}
    return out


def unwrap(record: Any) -> Any:
    """An answered record as plain values: `{"value": v}` -> v, rows and objects likewise."""
    if isinstance(record, list):
        return [unwrap(row) for row in record]
    if not isinstance(record, Mapping):
        return record
    if set(record) <= {"value", "error"} and "value" in record:
        return record["value"]
    return {
        name: value if name in ("id", "rowNumber", "_links", "custom") else unwrap(value)
        for name, value in record.items()
    }


# --- JSON with exact amounts -----------------------------------------------------------------


def dumps(value: Any) -> str:
    """JSON text with every `Decimal` as an exact number literal and dates as ISO strings."""
    return exact_json(value, "Acumatica")


def literal(value: str) -> str:
    """An OData string literal: quoted, single quotes doubled."""
    return "'" + value.replace("'", "''") + "'"


def money(amount: Decimal, what: str) -> Decimal:
    """`amount` in cents; more precision is refused, never rounded."""
    return cents(amount, what)


# --- the Bill ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PoLink:
    """An open Acumatica PO line a Stampli PO reference lines up with."""

    order_type: str
    order_nbr: str
    project: str | None = None
    branch: str | None = None
    subaccount: str | None = None


def bill_type(invoice: PostableInvoice) -> str:
    """`Bill`, or `Debit Adj.` (Acumatica's vendor credit memo) for a credit memo."""
    return DEBIT_ADJUSTMENT if invoice.document_type == DocumentType.CREDIT_MEMO else BILL


def description(invoice: PostableInvoice) -> str:
    """Our reference first (searchable by `startswith`), then what a clerk reads."""
    kind = "credit memo" if invoice.document_type == DocumentType.CREDIT_MEMO else "invoice"
    return fit_text(f"{invoice.external_ref} Stampli {kind} {invoice.invoice_number}", 255)


def period(day: date) -> str:
    """Acumatica's financial period `MMYYYY`."""
    return f"{day.month:02d}{day.year:04d}"


def bill(
    invoice: PostableInvoice,
    *,
    branch: str | None,
    cost_center_field: CostCenterField = "Subaccount",
    tax_account: str | None = None,
    po_links: Mapping[str, PoLink] | None = None,
) -> dict[str, Any]:
    """The wrapped `Bill` body of one invoice (see the module docstring).

    Raises:
        BadInputError: the vendor invoice number is longer than `VendorRef`, or an amount
            has more than two decimals.
    """
    if len(invoice.invoice_number) > MAX_VENDOR_REF:
        raise BadInputError(
            f"vendor invoice number {invoice.invoice_number!r} is longer than Acumatica's "
            f"VendorRef ({MAX_VENDOR_REF} characters)"
        )
    links = po_links or {}
    rows = []
    for line in invoice.expense_lines(tax_account):
        dims = line.dimensions
        fields: dict[str, Any] = {
            "Branch": dims.get(DimensionType.BRANCH) or branch,
            "Account": line.ledger_code,
            "Subaccount": dims.get(DimensionType.SUBACCOUNT),
            "Project": dims.get(DimensionType.PROJECT),
        }
        center = dims.get(DimensionType.COST_CENTER)
        if center:
            fields[cost_center_field] = center
        link = links.get(line.po_number or "")
        if link is not None:
            fields["POOrderType"] = link.order_type
            fields["POOrderNbr"] = link.order_nbr
            fields["Project"] = fields["Project"] or link.project
            fields["Subaccount"] = fields["Subaccount"] or link.subaccount
        text = line.description
        if line.po_number and link is None:
            text = f"{text} (PO {line.po_number})"
        rows.append(
            {
                **fields,
                "TransactionDescription": fit_text(text, MAX_DESCRIPTION),
                "ExtendedCost": money(line.amount, f"invoice {invoice.invoice_number} line"),
            }
        )
    plain = {
        "Type": bill_type(invoice),
        "Vendor": invoice.vendor_code,
        "VendorRef": invoice.invoice_number,
        "Date": invoice.invoice_date,
        "DueDate": invoice.due_date,
        "PostPeriod": period(invoice.posting_date),
        "Description": description(invoice),
        "CurrencyID": invoice.currency,
        "Amount": money(invoice.total, f"invoice {invoice.invoice_number} total"),
        "Hold": False,
        "Details": rows,
    }
    return wrap(plain)


def release_entity(doc_type: str, number: str) -> dict[str, Any]:
    """The `ReleaseBill` action body naming one bill by its key fields."""
    return {"entity": wrap({"Type": doc_type, "ReferenceNbr": number})}


def bill_filter(vendor_code: str, vendor_ref: str) -> str:
    """`$filter` of the seed's lookup: vendor + `VendorRef` (Acumatica has no idempotency key)."""
    return f"Vendor eq {literal(vendor_code)} and VendorRef eq {literal(vendor_ref)}"


def vendor(change: VendorChange, *, create: bool) -> dict[str, Any]:
    """The wrapped `Vendor` body: everything for a create, only what we own for an update."""
    if not change.code:
        raise BadInputError(f"vendor {change.name!r}: Acumatica needs a VendorID; map it first")
    if len(change.code) > MAX_VENDOR_ID:
        raise BadInputError(f"vendor code {change.code!r} is longer than {MAX_VENDOR_ID}")
    plain: dict[str, Any] = {
        "VendorID": change.code,
        "VendorName": fit_text(change.name, MAX_VENDOR_NAME),
        "Status": "On Hold" if change.on_hold else "Active",
    }
    if change.currency and create:
        plain["CurrencyID"] = change.currency
    if change.terms_code:
        plain["Terms"] = change.terms_code
    if change.tax_id:
        plain["TaxRegistrationID"] = change.tax_id
    if change.email:
        plain["MainContact"] = {"Email": change.email}
    return wrap(plain)
