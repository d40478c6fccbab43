"""The demo's AP clerk: pays, in a reconcile-only ERP, what Stampli says was paid.

An ERP whose connector records no payments (Acumatica) makes them itself: a clerk cuts a
check there and applies it to the bills. Without that clerk the demo's ERP holds no payment
and every Stampli payment reconciles as "paid in Stampli only". The clerk reads the payments
the ledger took from Stampli's payment files and records one check per payment in the
sandbox (same vendor, amounts, date and bills, named by the vendor's invoice number as
Stampli's file names them), through the sandbox's admin route (`SandboxProfile.clerk_route`).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

from bridge_pipelines.ledger.states import PostingState
from bridge_pipelines.posting.payments import PaymentBook
from bridge_pipelines.stampli.invoice_record import InvoiceRecord


@dataclass(frozen=True)
class ClerkCheck:
    """One check the clerk records: a Stampli payment's rows on bills the ERP holds."""

    payment_id: str
    vendor: str  # the ERP's vendor code
    bills: tuple[tuple[str, Decimal], ...]  # (vendor's invoice number, amount applied)
    paid_on: str  # ISO date
    reference: str

    def body(self) -> dict[str, Any]:
        """The sandbox's clerk route body (`POST /_sandbox/<erp>/checks`); money as strings."""
        return {
            "vendor": self.vendor,
            "bills": [{"VendorRef": n, "amount": str(amount)} for n, amount in self.bills],
            "date": self.paid_on,
            "payment_ref": self.reference,
            "description": f"Stampli payment {self.payment_id}",
        }


def clerk_checks(book: PaymentBook, vendors: Mapping[str, str]) -> list[ClerkCheck]:
    """The checks matching Stampli's payments, for the invoices the ERP holds.

    A row of an invoice not posted (held for review, say) is left out: the ERP has no bill to
    pay, and the reconciliation counts it as not comparable. A credit memo taken (a negative
    row) is left out too: the clerk applies checks to bills only, so it stays visible as paid
    in Stampli only. A vendor the mapping does not know gets no check.
    """
    checks = []
    for payment in book.payments:
        bills: list[tuple[str, Decimal]] = []
        for row in payment.rows:
            records = book.invoices_by_id.get(row.invoice_id, [])
            if len(records) != 1 or row.amount <= 0:
                continue
            posting = book.invoice_postings.get(records[0].id)
            if posting is None or posting.state != PostingState.POSTED:
                continue
            number = InvoiceRecord.from_payload(records[0].payload).invoice_number
            bills.append((number, row.amount))
        first = payment.rows[0]
        vendor = vendors.get(first.vendor_id)
        if bills and vendor:
            checks.append(
                ClerkCheck(
                    payment_id=payment.payment_id,
                    vendor=vendor,
                    bills=tuple(bills),
                    paid_on=first.payment_date.isoformat(),
                    reference=first.reference or payment.payment_id,
                )
            )
    return checks


def record_checks(base_url: str, route: str, checks: list[ClerkCheck]) -> list[str]:
    """Record each check in the sandbox; what it refused, one sentence per check."""
    refused = []
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for check in checks:
            answer = client.post(route, json=check.body())
            if answer.status_code != 201:
                refused.append(f"check for {check.payment_id} refused: {answer.text[:200]}")
    return refused
