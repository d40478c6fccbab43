"""`PaymentRecord`: one recorded Stampli payment row (a payment applied to one invoice), typed.

Stampli exports one row per payment and invoice (`stampli/payments.py`); rows sharing a
`payment_id` are one payment settling several documents. The amount is signed as Stampli
exports it: positive on an invoice it pays, negative on a credit memo it takes. A row whose
sign is the other way round (negative on an invoice) undoes an earlier payment: a reversal.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any


def _text(value: object) -> str | None:
    text = "" if value is None else str(value).strip()
    return text or None


@dataclass(frozen=True)
class PaymentRecord:
    """A recorded payment row, as the ledger's payload holds it (Stampli's codes)."""

    payment_id: str
    invoice_id: str
    vendor_id: str
    payment_date: date
    amount: Decimal
    currency: str
    method: str
    invoice_number: str | None = None
    reference: str | None = None

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> "PaymentRecord":
        """The typed row of a ledger payload.

        Raises:
            KeyError: a required field is missing (a payload the parser did not write).
            ValueError: a date or amount does not read (idem).
        """
        return cls(
            payment_id=str(payload["payment_id"]),
            invoice_id=str(payload["invoice_id"]),
            vendor_id=str(payload["vendor_id"]),
            payment_date=date.fromisoformat(str(payload["payment_date"])),
            amount=Decimal(str(payload["amount"])),
            currency=str(payload["currency"]),
            method=str(payload["method"]),
            invoice_number=_text(payload.get("invoice_number")),
            reference=_text(payload.get("reference")),
        )
