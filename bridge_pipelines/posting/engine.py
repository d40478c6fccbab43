"""The exactly-once posting engine: drives any `ErpAdapter` through reliability.md §2, steps 2-8.

For each posting it claims, in order:

1. **Claim** (`Ledger.claim_postings`): `sending` with a lease on the database clock, committed
   before any byte reaches the ERP. The lease owner is `owner` plus a random suffix, unique to
   this call, so a zombie worker reusing a run id is still fenced out.
2. **Look up first** when the row was claimed from `sending` (a worker died mid-call) or
   `unknown`: one match is `posted`; several, an incomplete document, a failed lookup, or no
   match on an ERP whose search may lag, go to `needs_review`; no match on a read-after-write
   consistent ERP lets the posting be sent.
3. **Send once**, the lease extended first so it outlives the call. The answer decides:
   a document is `posted`; `RejectedByErpError` is `rejected` with the ERP's answer, except
   `PeriodClosedError` (the posting period is closed or not open), held as `needs_review`
   with the ERP's answer: the document is right, so it waits for the period, never re-dated;
   `RetryableError` (nothing reached the ERP, or 429) is retried after a bounded backoff that
   honours `retry_after`; `NeedsLookupError` (timeout, reset, 5xx, garbage) is `unknown`, then
   looked up at once: found is `posted`, absent is `planned` again only on a consistent ERP
   (the next run sends it), anything else `needs_review`. Nothing is ever re-sent after an
   answer that may mean it landed.

Every ledger write is fenced on the lease: a `LeaseLostError` means another worker owns the
row now, and this one leaves it alone. A `ConfigError` (credentials, URL) stops the run at once:
the rows not yet handled are given back, and the error is raised. Too many `RetryableError`s
(the ERP is down) stop the run the same way, reported as `PostingReport.aborted`.

Payments (issue 15) go through the same steps: `post_pending(..., kind=PAYMENTS)` claims
only payment postings and looks up / sends with `find_payment` / `post_payment`.

`lease ttl` must exceed the adapter's longest call, deadline included; otherwise a second
worker could take over and look up a posting whose request is still in flight.
"""

import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum

from bridge_pipelines.erps.base import (
    ErpAdapter,
    ErpDocumentRef,
    ExternalRef,
    PostableInvoice,
    PostablePayment,
)
from bridge_pipelines.errors import (
    BadInputError,
    BridgeError,
    ConfigError,
    PeriodClosedError,
    RejectedByErpError,
    RetryableError,
)
from bridge_pipelines.faultpoints import fault_point
from bridge_pipelines.ledger.errors import LeaseLostError
from bridge_pipelines.ledger.models import PostingRow, RecordRow
from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.ledger.states import PostingKind
from bridge_pipelines.posting.rate_limit import RateLimiter

log = logging.getLogger(__name__)

Postable = PostableInvoice | PostablePayment
BuildInvoice = Callable[[RecordRow], Postable]


@dataclass(frozen=True)
class DocumentKind:
    """What one engine run claims, and the adapter calls that look it up and send it."""

    posting: PostingKind
    find: Callable[[ErpAdapter, ExternalRef], list[ErpDocumentRef]]
    send: Callable[[ErpAdapter, Postable], ErpDocumentRef]


def _post_invoice(adapter: ErpAdapter, document: Postable) -> ErpDocumentRef:
    assert isinstance(document, PostableInvoice)
    return adapter.post_invoice(document)


def _post_payment(adapter: ErpAdapter, document: Postable) -> ErpDocumentRef:
    assert isinstance(document, PostablePayment)
    return adapter.post_payment(document)


INVOICES = DocumentKind(
    PostingKind.INVOICE, lambda adapter, ref: adapter.find_by_external_ref(ref), _post_invoice
)
PAYMENTS = DocumentKind(
    PostingKind.PAYMENT, lambda adapter, ref: adapter.find_payment(ref), _post_payment
)


@dataclass(frozen=True)
class RetryPolicy:
    """How long the engine insists.

    Attributes:
        max_sends: sends of one posting within one claim while the ERP answers "retryable".
        base_delay: first backoff, in seconds; doubled after each retryable answer.
        max_delay: longest backoff, and the longest `retry_after` honoured; a longer one
            stops the run (the next run resumes) rather than sleeping on held leases.
        max_attempts: claims of one posting before it goes to review instead of being sent.
    """

    max_sends: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_attempts: int = 5


class Outcome(StrEnum):
    """What became of one claimed posting in this run."""

    POSTED = "posted"
    REJECTED = "rejected"
    NEEDS_REVIEW = "needs_review"
    UNKNOWN = "unknown"
    RELEASED = "planned"
    LEASE_LOST = "lease_lost"


@dataclass(frozen=True)
class PostingOutcome:
    """One posting's result, with what it took (for the run's metadata and the CLI)."""

    posting_id: int
    record_id: int
    external_ref: str
    outcome: Outcome
    erp_doc_id: str | None = None
    reason: str | None = None
    sends: int = 0
    lookups: int = 0


@dataclass
class PostingReport:
    """What one `post_pending` call did."""

    tenant: str
    target: str
    claimed: int = 0
    outcomes: list[PostingOutcome] = field(default_factory=list)
    aborted: str | None = None

    def count(self, outcome: Outcome) -> int:
        """How many postings ended this call with `outcome`."""
        return sum(1 for o in self.outcomes if o.outcome == outcome)

    @property
    def posted(self) -> int:
        """Postings now in the ERP (sent, or found by a lookup)."""
        return self.count(Outcome.POSTED)

    @property
    def rejected(self) -> int:
        """Postings the ERP refused."""
        return self.count(Outcome.REJECTED)

    @property
    def needs_review(self) -> int:
        """Postings held for an operator."""
        return self.count(Outcome.NEEDS_REVIEW)

    @property
    def sends(self) -> int:
        """`post_invoice` calls made."""
        return sum(o.sends for o in self.outcomes)

    @property
    def lookups(self) -> int:
        """`find_by_external_ref` calls made."""
        return sum(o.lookups for o in self.outcomes)


class _Stop(Exception):
    """Stop the run after this posting, left as `outcome`; `error` is raised to the caller."""

    def __init__(self, reason: str, outcome: Outcome, error: BaseException | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.outcome = outcome
        self.error = error


class _Absent:
    """A lookup found nothing on a read-after-write consistent ERP."""


_ABSENT = _Absent()


def _response_of(error: BaseException) -> str:
    response = error.response if isinstance(error, RejectedByErpError) else None
    return response or str(error)


class _Run:
    """One `post_pending` call: the claimed rows, the lease token and the tally."""

    def __init__(
        self,
        ledger: Ledger,
        adapter: ErpAdapter,
        build_invoice: BuildInvoice,
        *,
        token: str,
        ttl: timedelta,
        rate_limiter: RateLimiter | None,
        retry: RetryPolicy,
        sleep: Callable[[float], None],
        kind: DocumentKind = INVOICES,
    ) -> None:
        self.kind = kind
        self.ledger = ledger
        self.adapter = adapter
        self.build_invoice = build_invoice
        self.token = token
        self.ttl = ttl
        self.rate_limiter = rate_limiter
        self.retry = retry
        self.sleep = sleep
        self.sends = 0
        self.lookups = 0

    def _pace(self) -> None:
        if self.rate_limiter is not None:
            self.rate_limiter.acquire()

    def _done(
        self, row: PostingRow, outcome: Outcome, reason: str | None, doc: str | None = None
    ) -> PostingOutcome:
        log.info(
            "posting #%d %s: %s%s",
            row.id,
            row.external_ref,
            outcome,
            f" ({reason})" if reason else "",
        )
        return PostingOutcome(
            posting_id=row.id,
            record_id=row.record_id,
            external_ref=row.external_ref,
            outcome=outcome,
            erp_doc_id=doc,
            reason=reason,
            sends=self.sends,
            lookups=self.lookups,
        )

    def _review(self, row: PostingRow, reason: str, response: str | None = None) -> PostingOutcome:
        fault_point("before_ledger_commit")
        self.ledger.mark_needs_review(row.id, self.token, reason, response=response)
        return self._done(row, Outcome.NEEDS_REVIEW, reason)

    def _posted(self, row: PostingRow, doc: ErpDocumentRef, reason: str | None) -> PostingOutcome:
        fault_point("before_ledger_commit")
        self.ledger.mark_posted(row.id, self.token, doc.doc_id, doc.response, reason=reason)
        return self._done(row, Outcome.POSTED, reason, doc.doc_id)

    def process(self, row: PostingRow) -> PostingOutcome:
        """Take one claimed posting as far as it safely goes."""
        self.sends = self.lookups = 0
        try:
            try:
                invoice = self.build_invoice(self.ledger.get_record(row.record_id))
            except BadInputError as exc:
                return self._review(row, f"cannot build the ERP document: {exc}")
            if invoice.external_ref != row.external_ref or invoice.tenant != row.tenant:
                return self._review(
                    row,
                    f"the document built for record #{row.record_id} carries "
                    f"{invoice.tenant}/{invoice.external_ref}, the posting {row.external_ref}",
                )
            if row.needs_lookup_first:
                found = self._lookup(row, invoice, why=f"recovered from {row.claimed_from}")
                if isinstance(found, PostingOutcome):
                    return found
            if row.attempt > self.retry.max_attempts:
                return self._review(row, f"not sent: attempt {row.attempt} is over the cap")
            return self._send(row, invoice)
        except LeaseLostError as exc:
            log.warning("posting #%d: lease lost, left to its new owner: %s", row.id, exc)
            return self._done(row, Outcome.LEASE_LOST, str(exc))

    def _lookup(self, row: PostingRow, invoice: Postable, *, why: str) -> PostingOutcome | _Absent:
        """Search the ERP for the posting's reference; settle it unless it is surely absent."""
        self.ledger.extend_lease(row.id, self.token, self.ttl)
        self._pace()
        self.lookups += 1
        try:
            found = self.kind.find(self.adapter, invoice.ref)
        except ConfigError as exc:
            self.ledger.mark_unknown(row.id, self.token, f"lookup refused: {exc}", hold_lease=False)
            raise _Stop(f"ERP configuration: {exc}", Outcome.UNKNOWN, exc) from exc
        except BridgeError as exc:
            return self._review(row, f"lookup failed ({why}): {exc}", _response_of(exc))
        if len(found) == 1:
            (doc,) = found
            if not doc.complete:
                return self._review(
                    row,
                    f"{doc.doc_id} carries {row.external_ref} but is not complete "
                    f"({doc.status or 'no status'}): finish it in the ERP, never post again",
                    doc.response,
                )
            return self._posted(row, doc, f"found by lookup ({why})")
        if len(found) > 1:
            ids = ", ".join(d.doc_id for d in found)
            return self._review(row, f"{len(found)} ERP documents carry {row.external_ref}: {ids}")
        if not self.adapter.lookup_is_read_after_write_consistent:
            return self._review(
                row,
                f"not found ({why}), but this ERP's search may lag behind its writes: "
                "check the ERP before re-planning",
            )
        return _ABSENT

    def _send(self, row: PostingRow, invoice: Postable) -> PostingOutcome:
        """Send once; retry only answers that prove nothing reached the ERP."""
        while True:
            self.ledger.extend_lease(row.id, self.token, self.ttl)
            self._pace()
            self.sends += 1
            try:
                doc = self.kind.send(self.adapter, invoice)
            except PeriodClosedError as exc:
                # The ERP's calendar, not the document, is in the way: an operator opens the
                # period (or decides otherwise) and resolves it; it is never moved to another.
                fault_point("after_erp_response")
                reason = f"posting period {invoice.posting_period} refused by the ERP: {exc}"
                return self._review(row, reason, _response_of(exc))
            except RejectedByErpError as exc:
                fault_point("after_erp_response")
                fault_point("before_ledger_commit")
                self.ledger.mark_rejected(row.id, self.token, _response_of(exc), str(exc))
                return self._done(row, Outcome.REJECTED, str(exc))
            except RetryableError as exc:
                delay = self._backoff(exc)
                if delay is None:
                    reason = f"ERP unavailable after {self.sends} sends: {exc}"
                    self.ledger.release_to_planned(row.id, self.token, reason)
                    raise _Stop(reason, Outcome.RELEASED) from exc
                log.info("posting #%d: retryable (%s), again in %.2fs", row.id, exc, delay)
                self.sleep(delay)
                continue
            except ConfigError as exc:
                self.ledger.release_to_planned(row.id, self.token, f"ERP refused us: {exc}")
                raise _Stop(f"ERP configuration: {exc}", Outcome.RELEASED, exc) from exc
            except BadInputError as exc:
                return self._review(row, f"the adapter cannot express the document: {exc}")
            except BridgeError as exc:  # NeedsLookupError, or anything we cannot rule out
                fault_point("after_erp_response")
                return self._settle_uncertain(row, invoice, exc)
            except Exception as exc:
                # A bug after the request may have left: only a lookup may decide.
                self.ledger.mark_unknown(
                    row.id, self.token, f"unexpected {type(exc).__name__}", hold_lease=False
                )
                reason = f"unexpected {type(exc).__name__} while posting"
                raise _Stop(reason, Outcome.UNKNOWN, exc) from exc
            fault_point("after_erp_response")
            return self._posted(row, doc, None)

    def _settle_uncertain(
        self, row: PostingRow, invoice: Postable, error: BridgeError
    ) -> PostingOutcome:
        """It may have landed: `unknown`, then look it up; never send it again from here."""
        fault_point("before_ledger_commit")
        self.ledger.mark_unknown(row.id, self.token, str(error), response=_response_of(error))
        found = self._lookup(row, invoice, why=f"after {type(error).__name__}")
        if isinstance(found, PostingOutcome):
            return found
        reason = f"not in the ERP after {type(error).__name__}; the next run sends it"
        self.ledger.release_to_planned(row.id, self.token, reason)
        return self._done(row, Outcome.RELEASED, reason)

    def _backoff(self, error: RetryableError) -> float | None:
        """Seconds to wait before the next send, or None to give up for this run."""
        if self.sends >= self.retry.max_sends:
            return None
        retry_after = error.retry_after
        if retry_after is not None and retry_after >= 0:
            return float(retry_after) if retry_after <= self.retry.max_delay else None
        return float(min(self.retry.max_delay, self.retry.base_delay * 2 ** (self.sends - 1)))

    def stopped(self, row: PostingRow, stop: _Stop) -> PostingOutcome:
        """The outcome of the posting that stopped the run (already written to the ledger)."""
        return self._done(row, stop.outcome, stop.reason)

    def give_back(self, row: PostingRow, why: str) -> PostingOutcome:
        """A claimed row this run will not handle: back to where the next claim finds it."""
        try:
            if row.needs_lookup_first:
                self.ledger.mark_unknown(row.id, self.token, why, hold_lease=False)
                return self._done(row, Outcome.UNKNOWN, why)
            self.ledger.release_to_planned(row.id, self.token, why)
            return self._done(row, Outcome.RELEASED, why)
        except LeaseLostError as exc:
            return self._done(row, Outcome.LEASE_LOST, str(exc))


def post_pending(
    ledger: Ledger,
    adapter: ErpAdapter,
    tenant: str,
    target: str,
    build_invoice: BuildInvoice,
    *,
    owner: str,
    ttl: timedelta,
    limit: int,
    rate_limiter: RateLimiter | None = None,
    retry: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
    kind: DocumentKind = INVOICES,
) -> PostingReport:
    """Claim up to `limit` of the tenant's postings to `target` and take each as far as it goes.

    One claim per call: rows given back in this call (an absent lookup after a timeout) wait
    for the next call, so an in-flight document has time to appear. Call again while
    `report.claimed == limit` and `report.aborted` is None.

    Args:
        ledger: the ledger holding the planned postings.
        adapter: the tenant's ERP adapter (an open session).
        tenant: tenant id.
        target: ERP kind and company, as planned.
        build_invoice: builds the ERP document of a record (mapping); raises `BadInputError`
            when it cannot, which holds the posting for review.
        owner: who claims (a run id); a random suffix makes the lease token unique.
        ttl: lease length; longer than the adapter's longest call.
        limit: most postings to claim.
        rate_limiter: paces every ERP call (lookups and sends).
        retry: backoff and caps; the defaults suit a sandbox and production alike.
        sleep: the backoff's sleep (tests pass a recorder).
        kind: `INVOICES` (the default) or `PAYMENTS`: which postings are claimed, and how
            they are looked up and sent.

    Returns:
        What happened to each claimed posting; `aborted` says why the run stopped early.

    Raises:
        ConfigError: the ERP refused our credentials or configuration; the rows not handled
            were given back first.
    """
    token = f"{owner}/{secrets.token_hex(4)}"
    report = PostingReport(tenant=tenant, target=target)
    rows: Sequence[PostingRow] = ledger.claim_postings(
        tenant, target, owner=token, ttl=ttl, limit=limit, kind=kind.posting
    )
    report.claimed = len(rows)
    fault_point("after_claim")
    run = _Run(
        ledger,
        adapter,
        build_invoice,
        token=token,
        ttl=ttl,
        rate_limiter=rate_limiter,
        retry=retry or RetryPolicy(),
        sleep=sleep,
        kind=kind,
    )
    for index, row in enumerate(rows):
        try:
            report.outcomes.append(run.process(row))
        except _Stop as stop:
            report.aborted = stop.reason
            log.error("posting run for %s/%s stopped: %s", tenant, target, stop.reason)
            report.outcomes.append(run.stopped(row, stop))
            for rest in rows[index + 1 :]:
                report.outcomes.append(run.give_back(rest, f"run stopped: {stop.reason}"))
            if stop.error is not None:
                raise stop.error from None
            break
    return report
