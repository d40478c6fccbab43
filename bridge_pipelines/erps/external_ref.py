"""The deterministic external reference written into every ERP document we post.

No ERP gives us idempotency keys, so the reference stands in for one: it is computed from the
source invoice alone, the same on every run and every machine, stored UNIQUE in the ledger and
written into a searchable field of the ERP document, where `find_by_external_ref` finds it
after a crash or timeout (reliability.md §2).

Shape: `BP` + 18 characters of Crockford base32 (0-9 and A-Z without I, L, O, U), 20 in all.
Uppercase letters and digits only, so no ERP field rejects, trims or re-cases it, and an
operator can read it aloud. Twenty characters because the searchable fields are short: the
reference must fit the shortest one of every ERP we target (SYSPRO's and M3's invoice and
reference fields are about that size; SAP B1 `NumAtCard` and Acumatica `VendorRef` are
longer), and one shape for all ERPs keeps tests and support simple.

Collision risk: the 18 characters carry 90 bits of SHA-256. By the birthday bound, n
references collide with probability about n² / 2⁹¹: 10⁹ references (a thousand tenants posting
a million invoices each) give about 4·10⁻¹⁰. A collision could not post twice: the ledger's
UNIQUE index refuses the second plan (`ExternalRefConflictError`), and it goes to review.

Which fields: tenant, the *source* vendor (Stampli's, not the mapped ERP code, so a mapping
fix does not change the reference of a posting already planned), invoice number, document
type, invoice date, currency and gross amount. Amounts are compared by value (`100.0` and
`100.00` give the same reference); text is stripped but keeps its case.
"""

import hashlib
from datetime import date
from decimal import Decimal

PREFIX = "BP"
LENGTH = 20
_BODY = LENGTH - len(PREFIX)
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32
_VERSION = "v1"


def _amount(value: Decimal) -> str:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise TypeError(f"gross amount must be a finite Decimal, got {value!r}")
    if value.is_zero():
        return "0"
    return format(value.normalize(), "f")


def external_ref(
    tenant: str,
    vendor: str,
    invoice_number: str,
    document_type: str,
    invoice_date: date,
    currency: str,
    gross: Decimal,
) -> str:
    """The 20-character reference of one source invoice, e.g. `BP7K2M9Q4W1X8T0C3V5N`.

    Args:
        tenant: tenant id.
        vendor: the source (Stampli) vendor id or code, not the mapped ERP supplier.
        invoice_number: the vendor's invoice number.
        document_type: "Invoice" or "CreditMemo" (a `DocumentType` fits).
        invoice_date: the invoice date.
        currency: ISO currency code.
        gross: the gross (total) amount, a Decimal.

    Raises:
        ValueError: an empty identifying field.
        TypeError: `gross` is not a finite Decimal.
    """
    fields = [tenant, vendor, invoice_number, str(document_type), currency]
    parts = [f.strip() for f in fields]
    if not all(parts):
        raise ValueError("tenant, vendor, invoice number, type and currency must not be empty")
    text = "\x1f".join([_VERSION, *parts[:4], invoice_date.isoformat(), parts[4].upper()])
    return _encode(text + "\x1f" + _amount(gross))


def payment_external_ref(
    tenant: str, vendor: str, payment_id: str, payment_date: date, currency: str, gross: Decimal
) -> str:
    """The 20-character reference of one source payment, in the same shape as invoices'.

    Computed from Stampli's payment (tenant, source vendor, payment id, date, currency and the
    amount paid out), under its own version tag, so a payment never shares a reference with
    an invoice. A reversal exported later is a different payment (its own id or negative
    amount) and gets a different reference.

    Raises:
        ValueError: an empty identifying field.
        TypeError: `gross` is not a finite Decimal.
    """
    parts = [f.strip() for f in (tenant, vendor, payment_id, currency)]
    if not all(parts):
        raise ValueError("tenant, vendor, payment id and currency must not be empty")
    text = "\x1f".join(["p1", *parts[:3], payment_date.isoformat(), parts[3].upper()])
    return _encode(text + "\x1f" + _amount(gross))


def _encode(text: str) -> str:
    bits = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:12], "big")
    bits >>= 96 - 5 * _BODY
    body = "".join(_ALPHABET[(bits >> (5 * i)) & 31] for i in reversed(range(_BODY)))
    return PREFIX + body


def is_external_ref(value: str) -> bool:
    """True for a string of the shape `external_ref` produces."""
    return (
        len(value) == LENGTH
        and value.startswith(PREFIX)
        and all(c in _ALPHABET for c in value[len(PREFIX) :])
    )
