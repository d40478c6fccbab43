"""Payment reconciliation (issue 15): Stampli's payments, the ledger and the ERP, read back.

Three checks join `bridge verify` (and so the `reconciled` asset check):

- `payments_applied`: every Stampli payment is in the ERP exactly once (posted, on the one ERP
  payment carrying its reference), or visibly not yet (waiting for an invoice, held for
  review, rejected, each with a reason); never left open or lost.
- `payments_unknown_to_ledger`: an ERP payment carrying our reference that the ledger does not
  hold as posted with that payment's id.
- `open_balances`: per posted invoice, the ERP's open balance equals what the ledger expects:
  its total less the payments the bridge recorded. Where Stampli's own view differs only
  because a payment waits or is held, that is counted (`open_balances_pending`), not failed.

An ERP whose connector records no payments (`records_payments()` False: the ERP makes them) is
**reconcile-only**, compared generically here so a connector only implements the reads:
`read_payments` (what the ERP paid) against Stampli's payments per invoice number (paid in one
system only, amounts differ), and `read_open_balances` against Stampli's view.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from bridge_pipelines.erps.base import ErpAdapter, ErpDocumentRef, ErpOpenBalance, ExternalRef
from bridge_pipelines.erps.external_ref import is_external_ref
from bridge_pipelines.errors import NotSupportedError
from bridge_pipelines.ledger.models import PostingRow, RecordRow
from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.ledger.states import PostingKind, PostingState
from bridge_pipelines.posting.payments import PaymentBook, SourcePayment
from bridge_pipelines.posting.run import posting_target
from bridge_pipelines.stampli.invoice_record import InvoiceRecord
from bridge_pipelines.stampli.naming import payload_name
from bridge_pipelines.tenants.models import TenantConfig
from bridge_pipelines.verify.report import (
    OPEN_BALANCES,
    PAYMENTS_APPLIED,
    PAYMENTS_UNKNOWN_TO_LEDGER,
    CheckResult,
    CheckStatus,
    VerifyReport,
)

ZERO = Decimal(0)
HELD = frozenset({PostingState.WAITING, PostingState.NEEDS_REVIEW, PostingState.REJECTED})
OPEN = frozenset({PostingState.PLANNED, PostingState.SENDING, PostingState.UNKNOWN})


@dataclass(frozen=True)
class InvoiceBalance:
    """One invoice's open amount as Stampli sees it and as the ledger expects it in the ERP.

    Amounts are the document's own (a credit memo positive, as `PostableInvoice` holds it).
    `stampli_open` counts every Stampli payment; `expected_open` only those the bridge
    recorded in the ERP (for a reconcile-only ERP, all of them: the ERP made them).
    """

    record: RecordRow
    posting: PostingRow | None
    total: Decimal
    stampli_open: Decimal
    expected_open: Decimal

    @property
    def name(self) -> str:
        return payload_name(self.record.payload, self.record.identity)

    @property
    def document(self) -> InvoiceRecord:
        return InvoiceRecord.from_payload(self.record.payload)


def invoice_balances(book: PaymentBook, *, recorded: bool) -> dict[str, InvoiceBalance]:
    """Every accepted invoice (by Stampli invoice id) with its open amounts."""
    applied: dict[str, Decimal] = defaultdict(Decimal)
    applied_by_us: dict[str, Decimal] = defaultdict(Decimal)
    posted = {
        anchor for anchor, p in book.payment_postings.items() if p.state == PostingState.POSTED
    }
    for payment in book.payments:
        for row in payment.rows:
            applied[row.invoice_id] += row.amount
            if payment.anchor.id in posted:
                applied_by_us[row.invoice_id] += row.amount
    balances = {}
    for invoice_id, records in book.invoices_by_id.items():
        if len(records) != 1:
            continue
        (record,) = records
        document = InvoiceRecord.from_payload(record.payload)
        sign = Decimal(-1) if document.document_type == "CreditMemo" else Decimal(1)
        total = abs(document.total)
        stampli_open = total - applied[invoice_id] * sign
        expected = total - (applied_by_us if recorded else applied)[invoice_id] * sign
        balances[invoice_id] = InvoiceBalance(
            record, book.invoice_postings.get(record.id), total, stampli_open, expected
        )
    return balances


def read_erp_balances(
    adapter: ErpAdapter, balances: Sequence[InvoiceBalance]
) -> dict[str, list[ErpOpenBalance]]:
    """The ERP's open balances of each posted invoice, by our reference (several: a duplicate).

    Raises:
        NotSupportedError: the ERP exposes no balances.
        BridgeError: the ERP could not be read.
    """
    refs = [
        ExternalRef(b.posting.external_ref, "", b.document.invoice_number)
        for b in balances
        if b.posting is not None and b.posting.state == PostingState.POSTED
    ]
    if not refs:
        return {}
    found: dict[str, list[ErpOpenBalance]] = defaultdict(list)
    for balance in adapter.read_open_balances(refs):
        if balance.external_ref is not None:
            found[balance.external_ref].append(balance)
    return dict(found)


def payment_checks(
    report: VerifyReport,
    tenant: TenantConfig,
    ledger: Ledger,
    adapter: ErpAdapter | None,
    *,
    day: date | None,
    recorded: bool,
) -> None:
    """The three payment checks for one tenant (and day), into `report`."""
    checks = [
        report.check(n) for n in (PAYMENTS_APPLIED, PAYMENTS_UNKNOWN_TO_LEDGER, OPEN_BALANCES)
    ]
    if tenant.erp.kind == "none":
        for check in checks:
            check.status, check.note = CheckStatus.SKIPPED, "the tenant has no ERP"
        return
    book = PaymentBook.load(ledger, tenant.id, posting_target(tenant))
    payments = [p for p in book.payments if day is None or p.anchor.partition_day == day]
    balances = invoice_balances(book, recorded=recorded)
    invoice_ids = {row.invoice_id for p in payments for row in p.rows}
    relevant = [
        b
        for invoice_id, b in balances.items()
        if day is None or invoice_id in invoice_ids or b.record.partition_day == day
    ]
    report.counts["payments"] = len(payments)
    if recorded:
        _recorded_checks(report, ledger, book, payments, adapter, day)
    else:
        _reconcile_only(report, payments, balances, relevant, adapter, day)
    _open_balance_check(report, relevant, adapter, recorded=recorded)


def _unseen(check: CheckResult, owed: bool, why: str) -> None:
    """The ERP side could not be read: not checkable when there was something to check."""
    if owed:
        check.status, check.note = CheckStatus.NOT_CHECKABLE, why
    else:
        check.note = f"no Stampli payment to check ({why})"


def _since(day: date | None, payments: Sequence[SourcePayment]) -> date | None:
    if day is None:
        return None
    return min([day, *(row.payment_date for p in payments for row in p.rows)])


def _recorded_checks(
    report: VerifyReport,
    ledger: Ledger,
    book: PaymentBook,
    payments: list[SourcePayment],
    adapter: ErpAdapter | None,
    day: date | None,
) -> None:
    applied = report.check(PAYMENTS_APPLIED)
    unknown = report.check(PAYMENTS_UNKNOWN_TO_LEDGER)
    erp: list[ErpDocumentRef] | None = None
    note = "the ERP was not read"
    if adapter is not None:
        try:
            erp = [
                d
                for d in adapter.read_posted_payments(since=_since(day, payments))
                if d.external_ref and is_external_ref(d.external_ref)
            ]
        except NotSupportedError as exc:
            note = f"the ERP adapter cannot list our payments: {exc}"
    by_ref: dict[str, list[ErpDocumentRef]] = defaultdict(list)
    for doc in erp or []:
        assert doc.external_ref is not None
        by_ref[doc.external_ref].append(doc)
    states: dict[str, int] = defaultdict(int)
    for payment in payments:
        posting = book.payment_postings.get(payment.anchor.id)
        where: dict[str, Any] = {"payment": payment.payment_id, "record_id": payment.anchor.id}
        if posting is None:
            applied.add(f"{payment.name} has no posting", **where)
            continue
        states[posting.state.value] += 1
        where |= {"posting_id": posting.id, "external_ref": posting.external_ref}
        if posting.state in HELD:
            if not posting.reason and not posting.last_response:
                applied.add(f"{payment.name}: posting #{posting.id} is {posting.state.value} "
                            "without a reason", **where)  # fmt: skip
            continue
        if posting.state in OPEN:
            applied.add(
                f"{payment.name}: posting #{posting.id} is still {posting.state.value}", **where
            )
            continue
        found = by_ref.get(posting.external_ref, [])
        if erp is not None and len(found) != 1:
            ids = ", ".join(d.doc_id for d in found) or "none"
            applied.add(
                f"{payment.name}: the ledger says recorded as {posting.erp_doc_id}; the ERP "
                f"holds {len(found)} payments with {posting.external_ref} ({ids})",
                erp_payments=[d.doc_id for d in found],
                **where,
            )
    ours = {
        p.external_ref: p for p in book.payment_postings.values() if p.kind == PostingKind.PAYMENT
    }
    for doc in erp or []:
        posting = ours.get(doc.external_ref or "")
        if posting is not None and posting.state == PostingState.POSTED:
            if posting.erp_doc_id != doc.doc_id and len(by_ref[posting.external_ref]) == 1:
                unknown.add(
                    f"ERP payment {doc.doc_id} ({doc.external_ref}) is not the one the ledger "
                    f"recorded for posting #{posting.id} ({posting.erp_doc_id})",
                    erp_payment=doc.doc_id,
                    external_ref=doc.external_ref,
                )
            continue
        if posting is None:
            other = ledger.posting_by_ref(doc.external_ref or "")
            if other is not None and other.tenant != book.tenant:
                continue  # another tenant paying through the same company: its own verify
        unknown.add(
            f"ERP payment {doc.doc_id} carries our reference {doc.external_ref}, which the "
            "ledger " + ("does not have" if posting is None else f"has as {posting.state.value}"),
            erp_payment=doc.doc_id,
            external_ref=doc.external_ref,
            vendor_code=doc.vendor_code,
        )
    if erp is None:
        for check in (applied, unknown):
            if payments:
                check.status, check.note = CheckStatus.NOT_CHECKABLE, note
            else:
                check.note = f"no Stampli payment to check ({note})"
    report.counts |= {f"payments_{s}": n for s, n in sorted(states.items())}
    report.counts["erp_payments"] = len(erp or [])


def _reconcile_only(
    report: VerifyReport,
    payments: list[SourcePayment],
    balances: dict[str, InvoiceBalance],
    relevant: list[InvoiceBalance],
    adapter: ErpAdapter | None,
    day: date | None,
) -> None:
    """Stampli's payments against the ERP's own (`read_payments`), per invoice number.

    Only invoices the ERP holds (posted) are compared: the ERP cannot have paid one it does
    not hold, so a Stampli payment of an invoice not posted yet is a lag, counted, not failed.
    """
    applied = report.check(PAYMENTS_APPLIED)
    unknown = report.check(PAYMENTS_UNKNOWN_TO_LEDGER)
    unknown.status = CheckStatus.SKIPPED
    unknown.note = "reconcile-only: the bridge records no payment in this ERP"
    applied.note = "reconcile-only: the ERP makes payments; compared with Stampli's"
    held = {
        invoice_id: b
        for invoice_id, b in balances.items()
        if b.posting is not None and b.posting.state == PostingState.POSTED
    }
    stampli: dict[str, Decimal] = defaultdict(Decimal)
    names: dict[str, str] = {}
    pending = 0
    for payment in payments:
        for row in payment.rows:
            balance = held.get(row.invoice_id)
            if balance is None:
                pending += 1
                continue
            number = balance.document.invoice_number
            stampli[number] += row.amount
            names[number] = f"invoice {number} of vendor {row.vendor_id}"
    report.counts["payment_rows_not_comparable"] = pending
    if adapter is None:
        _unseen(applied, bool(stampli), "the ERP was not read")
        return
    since = _since(day, payments)
    start = datetime.combine(since or date(1970, 1, 1), time(), UTC) - timedelta(days=1)
    try:
        erp_payments = list(adapter.read_payments(start))
    except NotSupportedError as exc:
        _unseen(applied, bool(stampli), f"reconcile-only; the ERP adapter reads no payments: {exc}")
        return
    erp: dict[str, Decimal] = defaultdict(Decimal)
    for made in erp_payments:
        erp[made.invoice_number] += made.amount
    ours = {
        b.document.invoice_number
        for b in relevant
        if b.posting is not None and b.posting.state == PostingState.POSTED
    } | set(stampli)
    for number in sorted(ours):
        s, e = stampli.get(number), erp.get(number)
        label = names.get(number, f"invoice {number}")
        if s is not None and e is None:
            applied.add(f"{label}: paid {s} in Stampli only", invoice_number=number, stampli=str(s))
        elif e is not None and s is None:
            applied.add(f"{label}: paid {e} in the ERP only", invoice_number=number, erp=str(e))
        elif s is not None and e is not None and abs(s) != abs(e):
            applied.add(
                f"{label}: Stampli paid {s}, the ERP {e}",
                invoice_number=number, stampli=str(s), erp=str(e),
            )  # fmt: skip
    report.counts["erp_payments"] = len(erp_payments)


def _open_balance_check(
    report: VerifyReport,
    relevant: list[InvoiceBalance],
    adapter: ErpAdapter | None,
    *,
    recorded: bool,
) -> None:
    check = report.check(OPEN_BALANCES)
    posted = [b for b in relevant if b.posting and b.posting.state == PostingState.POSTED]
    paid = any(b.stampli_open != b.total or b.expected_open != b.total for b in posted)
    if adapter is None:
        _unseen(check, paid, "the ERP was not read")
        return
    try:
        erp = read_erp_balances(adapter, posted)
    except NotSupportedError as exc:
        _unseen(check, paid, f"the ERP adapter reads no open balances: {exc}")
        return
    pending = 0
    for balance in posted:
        assert balance.posting is not None
        held = erp.get(balance.posting.external_ref, [])
        if len(held) > 1:
            continue  # one reference on several ERP documents: `duplicates` reports it
        found = held[0] if held else None
        where: dict[str, Any] = {
            "invoice": balance.record.identity,
            "invoice_name": balance.name,
            "external_ref": balance.posting.external_ref,
            "erp_document": balance.posting.erp_doc_id,
            "expected_open": str(balance.expected_open),
            "stampli_open": str(balance.stampli_open),
        }
        if found is None:
            continue  # the ERP lost the document itself: `lost` reports it
        where["erp_open"] = str(found.open_amount)
        if found.open_amount != balance.expected_open:
            view = "Stampli's view" if not recorded else "the payments the bridge recorded"
            check.add(
                f"{balance.name}: open {found.open_amount} in the ERP, {balance.expected_open} "
                f"by {view} (Stampli: {balance.stampli_open})",
                **where,
            )
        elif balance.stampli_open != balance.expected_open:
            pending += 1
    report.counts["open_balances_checked"] = len(posted)
    report.counts["open_balances_pending"] = pending
    if pending:
        check.note = (
            f"{pending} invoice(s) differ from Stampli's view only by payments waiting or held "
            "for review (`bridge review list`)"
        )
