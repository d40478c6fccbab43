"""How every message names an invoice: as a person knows it, vendor and vendor invoice number.

One formatter for the CLI (`bridge status`, `bridge review`, `bridge files`), `bridge verify`
and the Dagster metadata: `vendor V-0001 invoice INV-1001 (Stampli STI-1001)`. A credit memo
says so (`vendor V-0001 credit memo CM-7 (Stampli STI-1002)`). Stampli's own id comes last,
in brackets: it is what Stampli's screens search by, not what the AP clerk reads on paper.
"""

from collections.abc import Mapping
from typing import Any, Protocol

UNKNOWN = "?"
CREDIT_MEMO = "CreditMemo"
INVOICES = "invoices"


class RecordLike(Protocol):
    """A recorded document (the ledger's `RecordRow` fits)."""

    @property
    def kind(self) -> str: ...
    @property
    def identity(self) -> str: ...
    @property
    def payload(self) -> dict[str, Any]: ...


def _text(value: object) -> str | None:
    text = "" if value is None else str(value).strip()
    return text or None


def invoice_name(
    vendor: object,
    number: object,
    stampli_id: object = None,
    *,
    document_type: object = None,
) -> str:
    """`vendor V-0001 invoice INV-1001 (Stampli STI-1001)`; a missing part shows as `?`."""
    noun = "credit memo" if _text(document_type) == CREDIT_MEMO else "invoice"
    name = f"vendor {_text(vendor) or UNKNOWN} {noun} {_text(number) or UNKNOWN}"
    stampli = _text(stampli_id)
    return f"{name} (Stampli {stampli})" if stampli else name


def payload_name(payload: Mapping[str, Any], identity: str | None = None) -> str:
    """The name of an invoice from its canonical payload (identity `vendor|number|type` helps)."""
    parts = (identity or "").split("|")
    vendor = payload.get("vendor_id") or (parts[0] if len(parts) == 3 else None)
    number = payload.get("invoice_number") or (parts[1] if len(parts) == 3 else None)
    kind = payload.get("document_type") or (parts[2] if len(parts) == 3 else None)
    return invoice_name(vendor, number, payload.get("invoice_id"), document_type=kind)


def record_name(record: RecordLike) -> str:
    """The name of a recorded document: an invoice by vendor and number, others by identity."""
    if record.kind != INVOICES:
        return f"{record.kind.removesuffix('s')} {record.identity}"
    return payload_name(record.payload or {}, record.identity)
