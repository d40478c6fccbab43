"""Judging a tenant's payments: every run reads them all and judges each (issue 15).

    python -m bench payment_judging --payments 20000

A SQLite ledger holds N posted invoices and N payments (a quarter settling two invoices, a
tenth in part); the figure is what one payments run spends before it talks to the ERP:
`PaymentBook.load` (ledger reads) and `assess_all` (waiting reasons, problems, over-payment
against earlier payments), in seconds and payments per second.
"""

import argparse
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bridge_pipelines.ledger.models import DocumentIn, PlannedPosting
from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.ledger.states import PostingState
from bridge_pipelines.posting.payments import PaymentBook

TENANT = "bench"
TARGET = "bench:C1"
DAY = date(2026, 11, 20)


def invoice(invoice_id: str) -> dict[str, Any]:
    """A one-line Stampli invoice of 100.00, as the parser records it."""
    return {
        "invoice_id": invoice_id, "invoice_number": f"INV-{invoice_id}", "vendor_id": "V-1",
        "invoice_date": DAY.isoformat(), "due_date": (DAY + timedelta(days=30)).isoformat(),
        "posting_date": DAY.isoformat(), "currency": "USD", "invoice_total": "100.00",
        "tax_amount": "0.00", "document_type": "Invoice",
        "lines": [{"line_number": "1", "gl_account": "6100", "line_amount": "100.00"}],
    }  # fmt: skip


def payment(payment_id: str, invoice_id: str, amount: str) -> dict[str, Any]:
    """One payment row, as the parser records it."""
    return {
        "payment_id": payment_id, "invoice_id": invoice_id, "invoice_number": None,
        "vendor_id": "V-1", "payment_date": DAY.isoformat(), "amount": amount,
        "currency": "USD", "method": "ACH", "reference": None,
    }  # fmt: skip


def record(ledger: Ledger, kind: str, payloads: list[dict[str, Any]]) -> list[Any]:
    """One parsed Stampli file of `kind` holding `payloads`."""
    entry = type("Entry", (), {"name": f"{kind}.csv", "size": 100, "mtime": 1_700_000_000})()
    t0, settle = datetime(2026, 11, 20, 9, tzinfo=UTC), timedelta(seconds=30)
    for now in (t0, t0 + settle):
        rows = ledger.observe_listing(
            TENANT, kind, f"/{kind}", [entry], settle=settle, zone=ZoneInfo("UTC"), now=now
        )
    (row,) = rows
    ledger.mark_downloaded(row.id, sha256=kind.ljust(64, "0"), size=100, archive_path="/a")
    docs = []
    for n, p in enumerate(payloads):
        key = f"{p['payment_id']}|{p['invoice_id']}" if kind == "payments" else p["invoice_id"]
        amount = Decimal(p.get("amount") or p.get("invoice_total") or 0)
        docs.append(DocumentIn(kind, key, key, (n + 2,), p, DAY, amount, "USD"))
    ledger.complete_parse(row.id, documents=docs, rows_total=len(docs))
    return ledger.records(TENANT, file_id=row.id)


def _seed(ledger: Ledger, count: int) -> None:
    invoices = record(ledger, "invoices", [invoice(f"STI-{n}") for n in range(count)])
    items = [PlannedPosting(r.id, f"BP{r.id:018d}", "h") for r in invoices]
    ledger.plan_postings(TENANT, TARGET, items)
    while claimed := ledger.claim_postings(
        TENANT, TARGET, owner="bench", ttl=timedelta(minutes=5), limit=1000
    ):
        for row in claimed:
            ledger.mark_posted(row.id, "bench", f"bills/{row.record_id}")
    rows = []
    n = 0
    while n < count:
        if n % 4 == 0 and n + 1 < count:  # one payment, two invoices
            rows += [payment(f"PAY-{n}", f"STI-{n}", "100.00"),
                     payment(f"PAY-{n}", f"STI-{n + 1}", "100.00")]  # fmt: skip
            n += 2
            continue
        rows.append(payment(f"PAY-{n}", f"STI-{n}", "40.00" if n % 10 == 1 else "100.00"))
        n += 1
    record(ledger, "payments", rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench payment_judging")
    parser.add_argument("--payments", type=int, default=20_000)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    with tempfile.TemporaryDirectory() as folder:
        ledger = Ledger(f"sqlite:///{Path(folder) / 'ledger.db'}")
        ledger.migrate()
        started = time.perf_counter()
        _seed(ledger, args.payments)
        seeded = time.perf_counter() - started
        started = time.perf_counter()
        book = PaymentBook.load(ledger, TENANT, TARGET)
        loaded = time.perf_counter() - started
        started = time.perf_counter()
        judged = book.assess_all()
        assessed = time.perf_counter() - started
        ledger.dispose()
    ready = sum(1 for a in judged if a.ready)
    posted = sum(1 for p in book.invoice_postings.values() if p.state == PostingState.POSTED)
    total = loaded + assessed
    print(f"{len(judged)} payments of {posted} posted invoices (seeded in {seeded:.1f}s)")
    print(f"  load  {loaded:.2f}s   assess {assessed:.2f}s   {len(judged) / total:,.0f} payments/s")
    print(f"  ready {ready}, waiting {sum(1 for a in judged if a.waiting)}, "
          f"held {sum(1 for a in judged if a.problems)}")  # fmt: skip
    return 0 if ready == len(judged) else 1


if __name__ == "__main__":
    raise SystemExit(main())
