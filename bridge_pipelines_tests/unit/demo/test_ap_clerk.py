"""The demo's AP clerk pays, in a reconcile-only ERP, exactly what Stampli's payment files say.

One check per Stampli payment, on the bills the ERP holds, with Stampli's amounts, date and
reference; what the ERP cannot hold (an invoice held for review, a vendor without an ERP code,
a credit memo taken) gets no check, so the reconciliation shows it rather than hides it.
"""

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from bridge_pipelines.demo.ap_clerk import ClerkCheck, clerk_checks
from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.posting.payments import PaymentBook
from bridge_pipelines_tests.support.payment_builders import (
    TARGET,
    TENANT,
    invoice,
    payment,
    post_invoice,
    record,
)

VENDORS = {"V-1": "AC-0001", "V-2": "AC-0002"}


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    opened = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    opened.migrate()
    try:
        yield opened
    finally:
        opened.dispose()


def _checks(ledger: Ledger, vendors: dict[str, str] = VENDORS) -> list[ClerkCheck]:
    return clerk_checks(PaymentBook.load(ledger, TENANT, TARGET), vendors)


def test_one_check_per_stampli_payment_with_its_amounts_date_and_bills(ledger: Ledger) -> None:
    for inv in record(ledger, "invoices", [invoice("STI-1"), invoice("STI-2", "50.00")]):
        post_invoice(ledger, inv)
    record(
        ledger,
        "payments",
        [payment("PAY-1", "STI-1", "40.00"), payment("PAY-1", "STI-2", "50.00")],  # 1 partial
    )
    [check] = _checks(ledger)
    assert check.vendor == "AC-0001" and check.reference == "REF PAY-1"
    assert check.bills == (("INV-STI-1", Decimal("40.00")), ("INV-STI-2", Decimal("50.00")))
    body = check.body()
    assert body["date"] == "2026-11-25"
    assert body["bills"] == [
        {"VendorRef": "INV-STI-1", "amount": "40.00"},
        {"VendorRef": "INV-STI-2", "amount": "50.00"},
    ]


def test_what_the_erp_cannot_hold_gets_no_check(ledger: Ledger) -> None:
    posted, _held, credit, other = record(
        ledger,
        "invoices",
        [
            invoice("STI-1"),
            invoice("STI-2"),  # never posted: held for review
            invoice("STI-3", "-20.00", credit=True),
            invoice("STI-4", vendor="V-9"),  # a vendor the mapping does not know
        ],
    )
    for inv in (posted, credit, other):
        post_invoice(ledger, inv)
    record(
        ledger,
        "payments",
        [
            payment("PAY-1", "STI-1", "100.00"),
            payment("PAY-1", "STI-3", "-20.00"),  # the credit memo taken: not a bill
            payment("PAY-2", "STI-2", "100.00"),
            payment("PAY-3", "STI-4", "100.00", vendor="V-9"),
        ],
    )
    [check] = _checks(ledger)
    assert check.payment_id == "PAY-1"
    assert check.bills == (("INV-STI-1", Decimal("100.00")),)
