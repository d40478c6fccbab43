"""`InvoiceRecord`: a recorded invoice as mapping and posting read it, typed once.

The ledger keeps each invoice's canonical payload as JSON text (amounts and dates as strings,
so a hash of the content is stable); mapping and posting read that payload through this
value, not through string keys, so a renamed column is a type error in one place and an
amount is a `Decimal` before anything adds it up.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any


def _text(value: object) -> str | None:
    text = "" if value is None else str(value).strip()
    return text or None


def _day(value: object) -> date | None:
    text = _text(value)
    return date.fromisoformat(text) if text else None


@dataclass(frozen=True)
class InvoiceLineRecord:
    """One expense line of a recorded invoice, in Stampli's codes."""

    line_number: int
    gl_account: str
    amount: Decimal
    description: str = ""
    cost_center: str | None = None

    @classmethod
    def from_payload(cls, line: Mapping[str, Any]) -> "InvoiceLineRecord":
        """A line of the ledger's payload (`line_number`, `gl_account`, `line_amount`, ...)."""
        return cls(
            line_number=int(line["line_number"]),
            gl_account=str(line["gl_account"]),
            amount=Decimal(str(line["line_amount"])),
            description=str(line.get("line_description") or ""),
            cost_center=_text(line.get("cost_center")),
        )


@dataclass(frozen=True)
class InvoiceRecord:
    """An approved Stampli invoice as the ledger recorded it (Stampli's codes, not the ERP's).

    `posting_date` falls back to `invoice_date`, as the parser already does for new records.
    """

    vendor_id: str
    invoice_number: str
    document_type: str
    invoice_date: date
    posting_date: date
    currency: str
    total: Decimal
    tax: Decimal
    lines: tuple[InvoiceLineRecord, ...]
    vendor_name: str | None = None
    due_date: date | None = None
    po_number: str | None = None

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> "InvoiceRecord":
        """The typed record of a ledger payload.

        Raises:
            KeyError: a required field is missing (a payload the parser did not write).
            ValueError: a date or amount does not read (idem).
        """
        invoice_date = date.fromisoformat(str(payload["invoice_date"]))
        return cls(
            vendor_id=str(payload["vendor_id"]),
            invoice_number=str(payload["invoice_number"]),
            document_type=str(payload["document_type"]),
            invoice_date=invoice_date,
            posting_date=_day(payload.get("posting_date")) or invoice_date,
            currency=str(payload["currency"]),
            total=Decimal(str(payload["invoice_total"])),
            tax=Decimal(str(payload["tax_amount"])),
            lines=tuple(InvoiceLineRecord.from_payload(line) for line in payload["lines"]),
            vendor_name=_text(payload.get("vendor_name")),
            due_date=_day(payload.get("due_date")),
            po_number=_text(payload.get("po_number")),
        )
