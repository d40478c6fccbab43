"""`bridge verify`'s payment checks (issue 15), on a real ledger and an ERP that answers reads.

Recorded (the bridge records payments): every Stampli payment once in the ERP, none of ours
unknown to the ledger, open balances as the ledger expects. Reconcile-only (the ERP makes
payments): Stampli's payments against the ERP's, paid in one system only or amounts differing.
"""

from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from bridge_pipelines.erps.base import (
    ErpDocumentRef,
    ErpOpenBalance,
    ErpPayment,
    ExternalRef,
)
from bridge_pipelines.ledger.models import PlannedPosting, PostingRow, RecordRow
from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.ledger.states import PostingKind
from bridge_pipelines.verify.payments import payment_checks
from bridge_pipelines.verify.report import CheckStatus, VerifyReport
from bridge_pipelines_tests.support.payment_builders import (
    TARGET,
    TENANT,
    invoice,
    payment,
    post_invoice,
    record,
)
from bridge_pipelines_tests.support.verify_builders import ListingErp, tenant_config

STRAY = "BP00000000000000STRA"


class PaymentsErp(ListingErp):
    """An ERP that lists payments and balances (as given) and nothing else of interest."""

    def __init__(
        self,
        *,
        made: Sequence[ErpPayment] = (),
        ours: Sequence[ErpDocumentRef] = (),
        open_amounts: dict[str, Decimal] | None = None,
    ) -> None:
        super().__init__([])
        self.made, self.ours, self.open_amounts = list(made), list(ours), open_amounts or {}

    def read_payments(self, since: datetime) -> Iterator[ErpPayment]:
        yield from self.made

    def read_posted_payments(self, since: date | None = None) -> Iterator[ErpDocumentRef]:
        yield from self.ours

    def read_open_balances(self, refs: Sequence[ExternalRef]) -> Iterator[ErpOpenBalance]:
        for ref in refs:
            if ref.value in self.open_amounts:
                amount = self.open_amounts[ref.value]
                yield ErpOpenBalance(f"doc-{ref.value}", ref.value, "SUP-1", None, "USD",
                                     Decimal("100.00"), amount)  # fmt: skip


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    opened = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    opened.migrate()
    try:
        yield opened
    finally:
        opened.dispose()


def _check(ledger: Ledger, adapter: PaymentsErp, *, recorded: bool) -> VerifyReport:
    report = VerifyReport(tenant=TENANT, day=None)
    payment_checks(report, tenant_config(TENANT), ledger, adapter, day=None, recorded=recorded)
    return report


def _posted_payment(ledger: Ledger, anchor: RecordRow, ref: str, doc: str) -> PostingRow:
    item = PlannedPosting(anchor.id, ref, "h")
    ledger.plan_postings(TENANT, TARGET, [item], kind=PostingKind.PAYMENT)
    [claimed] = ledger.claim_postings(
        TENANT, TARGET, owner="t", ttl=timedelta(minutes=1), limit=1, kind=PostingKind.PAYMENT
    )
    return ledger.mark_posted(claimed.id, "t", doc)


def test_recorded_payments_once_in_the_erp_and_balances_as_expected(ledger: Ledger) -> None:
    inv_one, inv_two = record(ledger, "invoices", [invoice("STI-1"), invoice("STI-2")])
    one, two = post_invoice(ledger, inv_one), post_invoice(ledger, inv_two)
    [anchor] = record(ledger, "payments", [payment("PAY-1", "STI-1", "100.00")])
    ref = "BP" + "7" * 18
    _posted_payment(ledger, anchor, ref, "VendorPayments(1)")
    [waits] = record(ledger, "payments", [payment("PAY-2", "STI-9", "10.00")])
    waiting = PlannedPosting(waits.id, "BP" + "8" * 18, "w", "waits for invoice STI-9")
    ledger.plan_postings(TENANT, TARGET, [waiting], kind=PostingKind.PAYMENT)  # visibly
    erp = PaymentsErp(
        ours=[ErpDocumentRef("VendorPayments(1)", external_ref=ref)],
        open_amounts={one.external_ref: Decimal("0.00"), two.external_ref: Decimal("100.00")},
    )
    report = _check(ledger, erp, recorded=True)
    assert report.ok, report.to_dict()
    # A payment keyed by hand with one of our references, and a balance the ERP changed.
    erp.ours.append(ErpDocumentRef("VendorPayments(9)", external_ref=STRAY))
    erp.open_amounts[two.external_ref] = Decimal("40.00")
    report = _check(ledger, erp, recorded=True)
    [stray] = report.check("payments_unknown_to_ledger").items
    assert "VendorPayments(9) carries our reference" in stray["message"]
    [balance] = report.check("open_balances").items
    assert (
        "open 40.00 in the ERP, 100.00 by the payments the bridge recorded" in (balance["message"])
    )
    assert report.check("payments_applied").ok
    # A payment the run never planned: neither recorded nor waiting.
    record(ledger, "payments", [payment("PAY-3", "STI-2", "10.00")])
    [missing] = _check(ledger, erp, recorded=True).check("payments_applied").items
    assert "payment PAY-3 of vendor V-1 has no posting" in missing["message"]


def test_reconcile_only_names_what_was_paid_in_one_system_only_or_differs(
    ledger: Ledger,
) -> None:
    invoices = record(
        ledger, "invoices", [invoice("STI-1"), invoice("STI-2"), invoice("STI-3"), invoice("STI-4")]
    )
    refs = [post_invoice(ledger, inv).external_ref for inv in invoices]
    record(
        ledger,
        "payments",
        [
            payment("PAY-1", "STI-1", "100.00"),
            payment("PAY-1", "STI-2", "30.00"),
            payment("PAY-1", "STI-4", "10.00"),
            payment("PAY-1", "STI-8", "5.00"),  # not posted: a lag, not a difference
        ],
    )
    made = [
        ErpPayment("E1", "SUP-1", "INV-STI-1", Decimal("100.00"), "USD", date(2026, 11, 25)),
        ErpPayment("E2", "SUP-1", "INV-STI-2", Decimal("20.00"), "USD", date(2026, 11, 25)),
        ErpPayment("E3", "SUP-1", "INV-STI-3", Decimal("80.00"), "USD", date(2026, 11, 25)),
    ]
    opens = dict(zip(refs, ["0.00", "80.00", "20.00", "90.00"], strict=True))
    erp = PaymentsErp(made=made, open_amounts={r: Decimal(v) for r, v in opens.items()})
    report = _check(ledger, erp, recorded=False)
    messages = sorted(i["message"] for i in report.check("payments_applied").items)
    assert messages == [
        "invoice INV-STI-2 of vendor V-1: Stampli paid 30.00, the ERP 20.00",
        "invoice INV-STI-3: paid 80.00 in the ERP only",
        "invoice INV-STI-4 of vendor V-1: paid 10.00 in Stampli only",
    ]
    assert report.check("payments_unknown_to_ledger").status is CheckStatus.SKIPPED
    assert report.counts["payment_rows_not_comparable"] == 1
    # Open balances against Stampli's view: STI-2 and STI-3 differ, STI-1 and STI-4 agree.
    differ = sorted(i["invoice_name"] for i in report.check("open_balances").items)
    assert differ == ["vendor V-1 invoice INV-STI-2 (Stampli STI-2)",
                      "vendor V-1 invoice INV-STI-3 (Stampli STI-3)"]  # fmt: skip


def test_reconcile_only_with_an_erp_that_reads_no_payments_is_not_checkable(
    ledger: Ledger,
) -> None:
    [inv] = record(ledger, "invoices", [invoice("STI-1")])
    post_invoice(ledger, inv)
    report = _check(ledger, PaymentsErp(), recorded=False)
    assert report.check("payments_applied").ok  # nothing Stampli paid: nothing hidden
    record(ledger, "payments", [payment("PAY-1", "STI-1", "100.00")])
    erp = ListingErp([])
    report = VerifyReport(tenant=TENANT, day=None)
    payment_checks(report, tenant_config(TENANT), ledger, erp, day=None, recorded=False)
    assert report.check("payments_applied").status is CheckStatus.NOT_CHECKABLE
    assert report.check("open_balances").status is CheckStatus.NOT_CHECKABLE
