"""The hash of what a posting would send: it changes exactly when the ERP document would.

The ledger compares it to tell a repeat from a re-plan: after a mapping fix the same invoice
gets a new hash, which is what lets a rejected posting be planned again (reliability.md §2).
The record id and source lineage are left out: they say where the invoice came from, not
what the ERP receives.

Amounts are hashed in Stampli's sign (a credit memo negative), which is how the posting run
passed them before `PostableInvoice` normalised credit memos to positive amounts (issue 16):
postings planned before that change keep their hash, so none is re-planned by the upgrade.
"""

import hashlib
import json
from decimal import Decimal
from typing import Any

from bridge_pipelines.erps.base import DocumentType, PostableInvoice, PostableInvoiceLine


def _amount(value: Decimal, sign: Decimal) -> str:
    return str(sign * value if value else abs(value))


def _line(line: PostableInvoiceLine, sign: Decimal) -> dict[str, Any]:
    return {
        "ledger_code": line.ledger_code,
        "amount": _amount(line.amount, sign),
        "description": line.description,
        "dimensions": dict(sorted(line.dimensions.items())),
        "po_number": line.po_number,
    }


def payload_hash(invoice: PostableInvoice) -> str:
    """SHA-256 (hex) of the invoice's ERP-bound fields in a canonical JSON form."""
    sign = Decimal(-1) if invoice.document_type is DocumentType.CREDIT_MEMO else Decimal(1)
    document = {
        "tenant": invoice.tenant,
        "external_ref": invoice.external_ref,
        "vendor_code": invoice.vendor_code,
        "invoice_number": invoice.invoice_number,
        "document_type": invoice.document_type.value,
        "invoice_date": invoice.invoice_date.isoformat(),
        "due_date": invoice.due_date.isoformat() if invoice.due_date else None,
        "posting_date": invoice.posting_date.isoformat(),
        "currency": invoice.currency,
        "total": _amount(invoice.total, sign),
        "tax": _amount(invoice.tax, sign),
        "lines": [_line(line, sign) for line in invoice.lines],
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
