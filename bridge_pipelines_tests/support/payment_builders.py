"""Stampli invoices and payments recorded in a real ledger, with the parser's payload shapes."""

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from bridge_pipelines.ledger.models import DocumentIn, PlannedPosting, PostingRow, RecordRow
from bridge_pipelines.ledger.repository import Ledger

TENANT = "acme"
TARGET = "syspro:DEMO"  # `posting_target` of verify_builders.tenant_config()
DAY = date(2026, 11, 20)
_files = itertools.count(1)


def _file(ledger: Ledger, kind: str, tenant: str) -> int:
    n = next(_files)
    name = f"{kind}_{n:04d}.csv"
    entry = type("Entry", (), {"name": name, "size": 100 + n, "mtime": 1_700_000_000 + n})()
    t0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    settle = timedelta(seconds=30)
    zone = ZoneInfo("UTC")
    ledger.observe_listing(tenant, kind, f"/{kind}", [entry], settle=settle, zone=zone, now=t0)
    (row,) = ledger.observe_listing(
        tenant, kind, f"/{kind}", [entry], settle=settle, zone=zone, now=t0 + settle
    )
    ledger.mark_downloaded(row.id, sha256=f"{n:064x}", size=entry.size, archive_path=f"/a/{name}")
    return row.id


def invoice(
    invoice_id: str,
    total: str = "100.00",
    *,
    vendor: str = "V-1",
    currency: str = "USD",
    credit: bool = False,
) -> dict[str, Any]:
    """The canonical payload of one Stampli invoice (one line, no tax)."""
    number = f"{'CM' if credit else 'INV'}-{invoice_id}"
    return {
        "invoice_id": invoice_id,
        "invoice_number": number,
        "vendor_id": vendor,
        "vendor_name": "Vendor One",
        "invoice_date": DAY.isoformat(),
        "due_date": (DAY + timedelta(days=30)).isoformat(),
        "posting_date": DAY.isoformat(),
        "currency": currency,
        "invoice_total": total,
        "tax_amount": "0.00",
        "po_number": None,
        "approved_by": "j.doe",
        "approved_at": "2026-11-20T08:00:00+00:00",
        "document_type": "CreditMemo" if credit else "Invoice",
        "lines": [
            {
                "line_number": "1",
                "line_description": "Supplies",
                "gl_account": "6100",
                "cost_center": None,
                "line_amount": total,
            }
        ],
    }


def payment(
    payment_id: str,
    invoice_id: str,
    amount: str,
    *,
    vendor: str = "V-1",
    currency: str = "USD",
    number: str | None = None,
) -> dict[str, Any]:
    """The canonical payload of one payment row."""
    return {
        "payment_id": payment_id,
        "invoice_id": invoice_id,
        "invoice_number": number,
        "vendor_id": vendor,
        "payment_date": (DAY + timedelta(days=5)).isoformat(),
        "amount": amount,
        "currency": currency,
        "method": "ACH",
        "reference": f"REF {payment_id}",
    }


def record(
    ledger: Ledger, kind: str, payloads: list[dict[str, Any]], *, tenant: str = TENANT
) -> list[RecordRow]:
    """One parsed file of `kind` ("invoices" or "payments") holding `payloads`."""
    file_id = _file(ledger, kind, tenant)
    docs = []
    for index, payload in enumerate(payloads):
        if kind == "invoices":
            identity = f"{payload['vendor_id']}|{payload['invoice_number']}|"
            identity += payload["document_type"]
            amount = Decimal(payload["invoice_total"])
        else:
            identity = f"{payload['payment_id']}|{payload['invoice_id']}"
            amount = Decimal(payload["amount"])
        docs.append(
            DocumentIn(
                kind=kind,
                identity=identity,
                content_hash=f"{identity}:{sorted(payload.items())!r}",
                rows=(index + 2,),
                payload=payload,
                document_day=DAY,
                amount=amount,
                currency=payload["currency"],
            )
        )
    ledger.complete_parse(file_id, documents=docs, rows_total=len(docs))
    return ledger.records(tenant, file_id=file_id)


def post_invoice(
    ledger: Ledger, invoice_record: RecordRow, *, doc: str | None = None
) -> PostingRow:
    """The invoice planned and marked posted as `doc` (an ERP that answered)."""
    ref = f"BP{invoice_record.id:018d}"
    ledger.plan_postings(TENANT, TARGET, [PlannedPosting(invoice_record.id, ref, "h")])
    [claimed] = ledger.claim_postings(
        TENANT, TARGET, owner="test", ttl=timedelta(minutes=5), limit=1
    )
    return ledger.mark_posted(claimed.id, "test", doc or f"bills/{invoice_record.id}")
