"""A tenant's payments: judge every Stampli payment, plan it, post the ready ones exactly once.

Run after the invoices (`posted_payments` is downstream of `posted_invoices`): every payment
of the tenant is judged again (`PaymentBook`), so a payment that waited for an invoice is
planned as soon as that invoice is posted, whichever day's run posted it. The posting engine
does the rest, exactly as for invoices (claim, lookup before any resend), on payment postings
only (`engine.PAYMENTS`).

An ERP whose connector does not record payments (`ErpPlugin.records_payments()` False: the
payments are made in the ERP, e.g. Acumatica) is reconcile-only: nothing is planned or sent,
and `bridge verify` compares Stampli's payments with the ERP's (`verify/payments.py`).
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Any

from bridge_pipelines.erps import registry
from bridge_pipelines.erps.base import ErpAdapter, PostablePayment
from bridge_pipelines.errors import BadInputError
from bridge_pipelines.intake.runtime import Runtime
from bridge_pipelines.ledger.models import PlannedPosting, RecordRow
from bridge_pipelines.ledger.states import PostingKind, PostingState
from bridge_pipelines.posting.engine import PAYMENTS, Outcome, PostingOutcome, post_pending
from bridge_pipelines.posting.payments import (
    Assessment,
    PaymentBook,
    SourcePayment,
    build_payment,
    held_hash,
    payment_payload_hash,
)
from bridge_pipelines.posting.run import CLAIM_LIMIT, LEASE_TTL, load_mapping, posting_target
from bridge_pipelines.tenants.erp import build_adapter
from bridge_pipelines.tenants.models import TenantConfig

PLANNABLE = frozenset({None, PostingState.WAITING, PostingState.PLANNED})
OPEN = (PostingState.PLANNED, PostingState.SENDING, PostingState.UNKNOWN)
RECONCILE_ONLY = "reconcile_only"


@dataclass
class PaymentsReport:
    """What one payments run did for a tenant."""

    tenant: str
    day: date | None
    target: str
    mode: str = "post"  # "post", "reconcile_only" or "none" (no ERP)
    payments: int = 0
    waiting: int = 0
    held: int = 0
    planned: int = 0
    outcomes: list[PostingOutcome] = field(default_factory=list)
    aborted: str | None = None

    def count(self, outcome: Outcome) -> int:
        return sum(1 for o in self.outcomes if o.outcome == outcome)


def records_payments(tenant: TenantConfig) -> bool:
    """Whether the bridge records the tenant's payments in its ERP (else: reconcile only)."""
    if tenant.erp.kind == "none":
        return False
    return registry.plugin(tenant.erp.kind).records_payments() is not False


def post_tenant_payments(
    ctx: Runtime,
    tenant: TenantConfig,
    day: date | None,
    *,
    owner: str,
    adapter: ErpAdapter | None = None,
    limit: int = CLAIM_LIMIT,
) -> PaymentsReport:
    """Plan every payment of the tenant (waiting or ready) and post the open ones.

    Safe to run any number of times, concurrently too: as for invoices, the ledger's claims
    and the lookups before any resend decide what is sent.
    """
    ledger = ctx.ledger
    target = posting_target(tenant)
    report = PaymentsReport(tenant=tenant.id, day=day, target=target)
    if tenant.erp.kind == "none":
        report.mode = "none"
        return report
    if not records_payments(tenant):
        report.mode = RECONCILE_ONLY
        return report
    book = PaymentBook.load(ledger, tenant.id, target)
    # Only payments not yet sent or held are judged again; the engine judges a recovered one.
    plannable = [book.assess(p) for p in book.payments if _state(book, p) in PLANNABLE]
    report.payments = len(book.payments)
    report.waiting = sum(1 for a in plannable if a.waiting_reason)
    report.held = sum(1 for a in plannable if a.problems)
    open_postings = ledger.postings(tenant.id, target=target, kind=PostingKind.PAYMENT, states=OPEN)
    if not any(a.ready or a.problems for a in plannable) and not open_postings:
        _plan(ctx, tenant, target, plannable, None, report)  # waiting ones keep their reason
        return report
    with adapter if adapter is not None else build_adapter(tenant, keyring=ctx.keyring) as erp:
        invoices = [
            invoice
            for payment in book.payments
            for row in payment.rows
            for invoice in book.invoices_by_id.get(row.invoice_id, [])
        ]
        tables = load_mapping(ctx, tenant, erp, invoices)
        file_name = _file_names(ctx)

        def build(record: RecordRow) -> PostablePayment:
            assessment = book.assessment_of(record.id)
            if assessment is None:
                raise BadInputError(f"record #{record.id} is no payment the ledger holds now")
            return build_payment(assessment, tables, file_name(record.file_id))

        _plan(ctx, tenant, target, plannable, build, report)
        while True:
            run = post_pending(
                ledger,
                erp,
                tenant.id,
                target,
                build,
                owner=owner,
                ttl=LEASE_TTL,
                limit=limit,
                kind=PAYMENTS,
            )
            report.outcomes.extend(run.outcomes)
            if run.aborted or run.claimed < limit:
                report.aborted = run.aborted
                break
    return report


def current_payment_hash(
    ctx: Runtime,
    tenant: TenantConfig,
    record_id: int,
    erp_options: Mapping[str, Any] | None = None,
) -> str:
    """What the payment hanging on `record_id` would send now (`bridge review resolve`).

    Raises:
        BadInputError: it is still not ready to send (the message says why).
    """
    book = PaymentBook.load(ctx.ledger, tenant.id, posting_target(tenant))
    assessment = book.assessment_of(record_id)
    if assessment is None:
        raise BadInputError(f"record #{record_id} is no payment the ledger holds now")
    with build_adapter(tenant, keyring=ctx.keyring, **(erp_options or {})) as erp:
        invoices = [a.invoice for a in assessment.applied]
        tables = load_mapping(ctx, tenant, erp, invoices)
    record = ctx.ledger.get_record(record_id)
    name = ctx.ledger.get_file(record.file_id).name
    return payment_payload_hash(build_payment(assessment, tables, name))


def _state(book: PaymentBook, payment: SourcePayment) -> PostingState | None:
    posting = book.payment_postings.get(payment.anchor.id)
    return None if posting is None else posting.state


def _plan(
    ctx: Runtime,
    tenant: TenantConfig,
    target: str,
    assessments: list[Assessment],
    build: Callable[[RecordRow], PostablePayment] | None,
    report: PaymentsReport,
) -> None:
    items = []
    for assessment in assessments:
        anchor = assessment.payment.anchor
        if assessment.problems:
            digest = held_hash("held", assessment.problems)
        elif assessment.waiting or build is None:
            digest = held_hash("waiting", [assessment.external_ref])
        else:
            try:
                digest = payment_payload_hash(build(anchor))
            except BadInputError as exc:  # an unmapped vendor: the engine holds it
                digest = held_hash("held", [str(exc)])
        items.append(
            PlannedPosting(anchor.id, assessment.external_ref, digest, assessment.waiting_reason)
        )
    if items:
        rows = ctx.ledger.plan_postings(tenant.id, target, items, kind=PostingKind.PAYMENT)
        report.planned = sum(1 for r in rows if r.state == PostingState.PLANNED)


def _file_names(ctx: Runtime) -> Callable[[int], str]:
    @cache
    def name(file_id: int) -> str:
        return ctx.ledger.get_file(file_id).name

    return name
