"""The ERP adapter protocol every ERP implements, and the ERP-neutral values it speaks.

An adapter hides one ERP's dialect (SYSPRO's e.net XML, SAP B1's Service Layer, ...) behind the
same few calls, so mapping, the posting engine and the Dagster layer never learn which ERP
they talk to. Values are frozen dataclasses: money is `Decimal`, instants are tz-aware.

How `post_invoice` fails decides what the posting engine does next (reliability.md §2), so an
adapter must pick the class by what may have reached the ERP, never by convenience:

- `RejectedByErpError`: the ERP answered and refused the document (validation 4xx, SYSPRO's
  HTTP 200 `ERROR`, M3's `ServerReturnedNOK`). Attach the ERP's answer as `response`
  (`rejected_by_erp` does it). The posting becomes `rejected`; only changed input is re-sent.
  A refusal because the posting period is closed or not open is a `PeriodClosedError` (a
  `RejectedByErpError`): the posting is held for review, never re-dated.
- `NeedsLookupError`: it may have landed (timeout after the request was written, reset, 5xx,
  an answer we cannot parse). The engine looks the reference up; it never re-sends blindly.
- `RetryableError`: nothing reached the ERP (connect error) or the ERP asked us to slow down
  (429). Set `retry_after` (seconds) when the ERP said how long to wait (`retryable`).
- An expired session (SYSPRO's 200 `ERROR`, B1's 401): log on again, then raise
  `NeedsLookupError` unless the ERP's answer proves the document was not processed.
- `ConfigError`: credentials, URL or company are wrong; the run stops, no retry storm.
- `BadInputError`: the adapter cannot express the document (a field too long); nothing sent.
"""

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from enum import StrEnum
from types import MappingProxyType, TracebackType
from typing import Protocol, Self, runtime_checkable

from bridge_pipelines.errors import (
    BadInputError,
    NotSupportedError,
    PeriodClosedError,
    RejectedByErpError,
    RetryableError,
)


class DocumentType(StrEnum):
    """An AP document's kind: the type carries the direction, never the sign of an amount.

    The one sign convention lives in `PostableInvoice`: its amounts are those of the document
    as the vendor issued it (a credit memo of 57.50 holds +57.50), whatever sign the source
    exported. Adapters never look at signs; only `ErpDocumentRef.total`, read back for
    reconciliation, is signed as the source is.
    """

    INVOICE = "Invoice"
    CREDIT_MEMO = "CreditMemo"


class DimensionType(StrEnum):
    """The kinds of analysis codes an invoice line can carry, named the same for every ERP."""

    COST_CENTER = "cost_center"
    SUBACCOUNT = "subaccount"
    PROJECT = "project"
    BRANCH = "branch"


TAX_LINE_TEXT = "Sales tax"


def allocate(amount: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """`amount` split over `weights` in proportion to them, the parts adding up exactly.

    Proportional to the signed weights, so a negative line (a discount) takes its negative
    share. Parts are in the amount's own precision, at least cents; the units left by rounding
    go to the largest remainders, ties to the earliest weight. When the weights add up to zero
    there is no proportion: the whole amount goes to the largest weight.
    """
    if not weights:
        raise ValueError("nothing to allocate over")
    quantum = Decimal(1).scaleb(min(int(amount.as_tuple().exponent), -2))
    whole = sum(weights, Decimal(0))
    if not whole:
        biggest = max(range(len(weights)), key=lambda i: (abs(weights[i]), -i))
        return [amount if i == biggest else Decimal(0) for i in range(len(weights))]
    exact = [amount * weight / whole for weight in weights]
    up = amount >= 0
    parts = [e.quantize(quantum, rounding=ROUND_FLOOR if up else ROUND_CEILING) for e in exact]
    left = amount - sum(parts, Decimal(0))
    order = sorted(range(len(weights)), key=lambda i: (-abs(exact[i] - parts[i]), i))
    for i in order[: int(abs(left) / quantum)]:
        parts[i] += quantum if up else -quantum
    return parts


def _money(owner: str, name: str, value: object) -> None:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise TypeError(f"{owner}.{name} must be a finite Decimal, got {value!r}")


def _aware(owner: str, name: str, value: datetime | None) -> None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(f"{owner}.{name} must be timezone-aware, got {value!r}")


def _frozen_map(value: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(value))


@dataclass(frozen=True)
class ErpVendor:
    """A supplier as the ERP holds it (master data, synced before postings)."""

    code: str
    name: str
    currency: str | None = None
    active: bool = True
    terms_code: str | None = None
    tax_id: str | None = None
    email: str | None = None
    updated_at: datetime | None = None

    def __post_init__(self) -> None:
        _aware("ErpVendor", "updated_at", self.updated_at)


@dataclass(frozen=True)
class ErpGlAccount:
    """A general-ledger account (SYSPRO ledger code, B1 account, M3 accounting string...)."""

    code: str
    name: str
    account_type: str | None = None
    active: bool = True


@dataclass(frozen=True)
class ErpDimension:
    """One analysis code: a cost center, subaccount, project or branch."""

    type: DimensionType
    code: str
    name: str
    active: bool = True


@dataclass(frozen=True)
class ErpPurchaseOrderLine:
    """One open purchase-order line, for PO matching."""

    po_number: str
    line: int
    vendor_code: str
    description: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    currency: str
    received_quantity: Decimal = Decimal(0)
    ledger_code: str | None = None
    order_date: date | None = None

    def __post_init__(self) -> None:
        for name in ("quantity", "unit_price", "amount", "received_quantity"):
            _money("ErpPurchaseOrderLine", name, getattr(self, name))


@dataclass(frozen=True)
class VendorChange:
    """A Stampli vendor to create or update in the ERP (supplier maintenance).

    `code` is the ERP supplier code; None asks the ERP (or the adapter) to assign one.
    """

    tenant: str
    name: str
    code: str | None = None
    currency: str | None = None
    terms_code: str | None = None
    tax_id: str | None = None
    email: str | None = None
    address_lines: tuple[str, ...] = ()
    postal_code: str | None = None
    on_hold: bool = False
    stampli_id: str | None = None


@dataclass(frozen=True)
class UpsertResult:
    """What a vendor upsert did; `response` is the ERP's answer, kept for the audit trail."""

    code: str
    created: bool
    response: str | None = None


@dataclass(frozen=True)
class ExternalRef:
    """What to search an ERP document by.

    `value` is our deterministic reference, written into a searchable field of the document.
    Some ERPs are searched by supplier and invoice number instead (SYSPRO's `ApInvoice` key,
    M3's supplier invoice number), so both travel with it.
    """

    value: str
    vendor_code: str
    document_number: str


@dataclass(frozen=True)
class ErpDocumentRef:
    """A document found in or created by the ERP.

    `complete` is False for a document that exists but was not finished (an unreleased
    Acumatica bill): it must be finished, never posted a second time.

    The amounts are filled by `read_posted_documents` where the ERP gives them, for
    reconciliation (`bridge verify`): `total` is signed as the source is (a credit memo is
    negative), `debit_total` / `credit_total` are the document's journal sides. None means
    the ERP does not say, never zero.
    """

    doc_id: str
    vendor_code: str | None = None
    document_number: str | None = None
    external_ref: str | None = None
    status: str | None = None
    complete: bool = True
    response: str | None = None
    total: Decimal | None = None
    debit_total: Decimal | None = None
    credit_total: Decimal | None = None
    document_date: date | None = None

    def __post_init__(self) -> None:
        for name in ("total", "debit_total", "credit_total"):
            if getattr(self, name) is not None:
                _money("ErpDocumentRef", name, getattr(self, name))


@dataclass(frozen=True, order=True)
class PostingPeriod:
    """A calendar month of the ERP's books, `YYYY-MM`: where a posting date lands.

    Every connector posts into the period of the invoice's posting date (the invoice date when
    Stampli sent none), never into "the current period": the same invoice must land in the
    same month in every ERP. A closed period is the ERP's to refuse (`PeriodClosedError`).
    """

    year: int
    month: int

    @classmethod
    def of(cls, day: date) -> "PostingPeriod":
        """The period a day falls in."""
        return cls(day.year, day.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@dataclass(frozen=True)
class SourceLineage:
    """Where a posted document came from: the Stampli file and its data rows."""

    file_name: str
    rows: tuple[int, ...]


@dataclass(frozen=True)
class PostableInvoiceLine:
    """One expense line, already mapped to the ERP's codes."""

    ledger_code: str
    amount: Decimal
    description: str = ""
    dimensions: Mapping[str, str] = field(default_factory=dict)
    po_number: str | None = None

    def __post_init__(self) -> None:
        _money("PostableInvoiceLine", "amount", self.amount)
        # Keys are usually DimensionType values (an ERP may add its own, e.g. SYSPRO's
        # analysis slots); a StrEnum key is stored as its plain string.
        plain = {str(k): v for k, v in self.dimensions.items()}
        object.__setattr__(self, "dimensions", _frozen_map(plain))


@dataclass(frozen=True)
class PostableInvoice:
    """An approved invoice, mapped and ready to post: everything the ERP document needs.

    The lines plus tax must equal the total exactly (P5): an invoice that does not balance is
    refused here, before anything could reach an ERP.

    Sign convention (the only place it is stated and enforced): amounts are the document's own,
    so `total` is never negative and `document_type` carries the direction. A credit memo
    given with a negative total (Stampli exports credit memos negative) is normalised here:
    total, tax and every line change sign together, so a negative line of a credit memo (a
    correction inside it) stays a correction. An invoice with a negative total is refused: a
    negative invoice is a credit memo, and guessing would post it in the wrong direction.
    `external_ref` is computed by the caller from the source's signed amounts and is untouched.

    Tax is Stampli's computed amount; how an ERP books it is `expense_lines`.

    Raises:
        BadInputError: no lines, lines plus tax differ from the total, or an invoice's total
            is negative.
    """

    tenant: str
    external_ref: str
    record_id: int
    vendor_code: str
    invoice_number: str
    document_type: DocumentType
    invoice_date: date
    due_date: date | None
    posting_date: date
    currency: str
    total: Decimal
    tax: Decimal
    lines: tuple[PostableInvoiceLine, ...]
    lineage: SourceLineage

    def __post_init__(self) -> None:
        _money("PostableInvoice", "total", self.total)
        _money("PostableInvoice", "tax", self.tax)
        object.__setattr__(self, "document_type", DocumentType(self.document_type))
        object.__setattr__(self, "lines", tuple(self.lines))
        if not self.lines:
            raise BadInputError(f"invoice {self.invoice_number}: no lines to post")
        net = sum((line.amount for line in self.lines), Decimal(0))
        if net + self.tax != self.total:
            raise BadInputError(
                f"invoice {self.invoice_number}: lines {net} + tax {self.tax} != total {self.total}"
            )
        if self.total < 0:
            if self.document_type is not DocumentType.CREDIT_MEMO:
                raise BadInputError(
                    f"invoice {self.invoice_number}: total {self.total} is negative; "
                    "a negative invoice must come as a credit memo"
                )
            object.__setattr__(self, "total", -self.total)
            object.__setattr__(self, "tax", -self.tax)
            object.__setattr__(
                self, "lines", tuple(replace(line, amount=-line.amount) for line in self.lines)
            )

    def expense_lines(self, tax_account: str | None = None) -> tuple["PostableInvoiceLine", ...]:
        """The lines to book, Stampli's tax included, the same way for every ERP.

        The default is what a US AP team expects of sales and use tax on a vendor invoice: it
        is part of the cost, so it is expensed with the lines, spread over them in proportion
        to their amounts (cents by largest remainder, so the lines add up to the total exactly).
        With `tax_account` (a tenant that books tax separately) the tax is one more line,
        "Sales tax", on that account, without dimensions. No tax, no change. Amounts follow
        the class's sign convention; the lines always sum to `total`.
        """
        if not self.tax:
            return self.lines
        if tax_account:
            return (*self.lines, PostableInvoiceLine(tax_account, self.tax, TAX_LINE_TEXT))
        shares = allocate(self.tax, [line.amount for line in self.lines])
        return tuple(
            replace(line, amount=line.amount + share)
            for line, share in zip(self.lines, shares, strict=True)
        )

    @property
    def posting_period(self) -> PostingPeriod:
        """The ERP period this document belongs in: its posting date's month, never moved."""
        return PostingPeriod.of(self.posting_date)

    @property
    def ref(self) -> ExternalRef:
        """The reference to search this invoice by in the ERP."""
        return ExternalRef(self.external_ref, self.vendor_code, self.invoice_number)


@dataclass(frozen=True)
class ErpPayment:
    """A payment the ERP made against a supplier invoice (for Stampli's payment status)."""

    payment_id: str
    vendor_code: str
    invoice_number: str
    amount: Decimal
    currency: str
    paid_on: date
    reference: str | None = None
    method: str | None = None

    def __post_init__(self) -> None:
        _money("ErpPayment", "amount", self.amount)


@dataclass(frozen=True)
class PaymentApplication:
    """One posted document a payment settles, and how much of it.

    `invoice` is the document's own reference as it was posted (our external reference, the
    ERP supplier code and the vendor's invoice number); `erp_doc_id` is the ERP document it
    became, from the ledger. A payment is only ever applied to a document the ledger knows as
    posted, never to one found by guessing. `amount` is positive and in the payment's currency;
    for a credit memo it is the credit taken, and `document_type` carries the direction.
    """

    invoice: ExternalRef
    document_type: DocumentType
    amount: Decimal
    erp_doc_id: str | None = None

    def __post_init__(self) -> None:
        _money("PaymentApplication", "amount", self.amount)
        object.__setattr__(self, "document_type", DocumentType(self.document_type))
        if self.amount <= 0:
            raise BadInputError(
                f"payment on {self.invoice.document_number}: applied amount {self.amount} "
                "must be positive"
            )


@dataclass(frozen=True)
class PostablePayment:
    """A Stampli payment, mapped and ready to record in the ERP against posted documents.

    One payment (Stampli's `payment_id`) may settle several documents of one vendor; each is
    an application. `total` is what leaves the bank: invoices applied minus credit memos taken.
    `external_ref` is the payment's own deterministic reference (`payment_external_ref`),
    written into a searchable field of the ERP payment, so `find_payment` finds it after a
    crash, exactly as for invoices.

    Raises:
        BadInputError: no applications, or the applications net to zero or less.
    """

    tenant: str
    external_ref: str
    record_ids: tuple[int, ...]
    payment_id: str
    vendor_code: str
    payment_date: date
    currency: str
    method: str
    reference: str | None
    applications: tuple[PaymentApplication, ...]
    lineage: SourceLineage

    def __post_init__(self) -> None:
        object.__setattr__(self, "applications", tuple(self.applications))
        object.__setattr__(self, "record_ids", tuple(self.record_ids))
        if not self.applications:
            raise BadInputError(f"payment {self.payment_id}: settles no document")
        if self.total <= 0:
            raise BadInputError(
                f"payment {self.payment_id}: applications net to {self.total}; "
                "a payment must pay out a positive amount"
            )

    @property
    def total(self) -> Decimal:
        """The amount paid: invoices applied minus credit memos taken."""
        signs = {DocumentType.INVOICE: 1, DocumentType.CREDIT_MEMO: -1}
        return sum((a.amount * signs[a.document_type] for a in self.applications), Decimal(0))

    @property
    def posting_period(self) -> PostingPeriod:
        """The ERP period the payment belongs in: its payment date's month."""
        return PostingPeriod.of(self.payment_date)

    @property
    def ref(self) -> ExternalRef:
        """The reference to search this payment by in the ERP."""
        return ExternalRef(self.external_ref, self.vendor_code, self.payment_id)


@dataclass(frozen=True)
class ErpOpenBalance:
    """A posted AP document's balance as the ERP holds it, to compare with Stampli's view.

    `total` and `open_amount` are positive amounts of the document as issued (a credit memo
    too); `open_amount` is zero once it is fully paid (or fully taken).
    """

    doc_id: str
    external_ref: str | None
    vendor_code: str | None
    document_number: str | None
    currency: str
    total: Decimal
    open_amount: Decimal

    def __post_init__(self) -> None:
        _money("ErpOpenBalance", "total", self.total)
        _money("ErpOpenBalance", "open_amount", self.open_amount)

    @property
    def paid(self) -> bool:
        """Whether nothing is left open."""
        return self.open_amount == 0


def rejected_by_erp(message: str, response: str | None) -> RejectedByErpError:
    """A `RejectedByErpError` carrying the ERP's answer as `response` (kept in the ledger)."""
    return RejectedByErpError(message, response)


def period_closed_by_erp(message: str, response: str | None) -> PeriodClosedError:
    """A `PeriodClosedError`: the ERP refused the posting period; its answer kept as `response`."""
    return PeriodClosedError(message, response)


def retryable(message: str, retry_after: float | None = None) -> RetryableError:
    """A `RetryableError` carrying the ERP's `Retry-After` in seconds, when it sent one."""
    return RetryableError(message, retry_after)


@runtime_checkable
class ErpAdapter(Protocol):
    """One tenant's connection to one ERP company; a context manager that closes its session.

    `lookup_is_read_after_write_consistent` is True only when a document the ERP has committed
    is always found by `find_by_external_ref` right away. Only then may a reference that is not
    found after an uncertain attempt be sent again; otherwise it goes to review.
    """

    @property
    def lookup_is_read_after_write_consistent(self) -> bool:
        """Whether a committed document is always found by the next lookup."""
        ...

    def read_vendors(self) -> Iterator[ErpVendor]:
        """Every supplier of the company."""
        ...

    def read_gl_accounts(self) -> Iterator[ErpGlAccount]:
        """Every GL account the company posts to."""
        ...

    def read_dimensions(self) -> Iterator[ErpDimension]:
        """Every analysis code (cost centers, subaccounts, projects, branches)."""
        ...

    def read_open_pos(self) -> Iterator[ErpPurchaseOrderLine]:
        """Open purchase-order lines.

        Raises:
            NotSupportedError: the ERP or its API has no purchase orders for us.
        """
        ...

    def upsert_vendor(self, vendor: VendorChange) -> UpsertResult:
        """Create the supplier, or update it when `vendor.code` exists."""
        ...

    def find_by_external_ref(self, ref: ExternalRef) -> list[ErpDocumentRef]:
        """Every document carrying `ref`: none, one, or (a past duplicate) several.

        Raises:
            BridgeError: the lookup could not be answered; the caller must not assume "none".
        """
        ...

    def post_invoice(self, invoice: PostableInvoice) -> ErpDocumentRef:
        """Send the invoice once, with `invoice.external_ref` in a searchable field.

        Raises:
            RejectedByErpError: refused by the ERP; `response` holds its answer.
            NeedsLookupError: it may have landed (timeout, reset, 5xx, garbage).
            RetryableError: nothing reached the ERP, or 429 (`retry_after` when known).
            ConfigError: credentials, URL or company are wrong.
        """
        ...

    def read_payments(self, since: datetime) -> Iterator[ErpPayment]:
        """Payments made since `since` (tz-aware).

        Raises:
            NotSupportedError: the ERP exposes no payments to us.
        """
        ...

    def post_payment(self, payment: PostablePayment) -> ErpDocumentRef:
        """Record the payment once against its posted documents, its reference searchable.

        Fails exactly as `post_invoice` does (the same error classes decide the same next
        step). An ERP that refuses an over-payment answers `RejectedByErpError`.

        Raises:
            NotSupportedError: the connector does not record payments in this ERP.
        """
        ...

    def find_payment(self, ref: ExternalRef) -> list[ErpDocumentRef]:
        """Every ERP payment carrying `ref.value`: none, one, or (a past duplicate) several.

        Raises:
            NotSupportedError: the connector does not record payments in this ERP.
            BridgeError: the lookup could not be answered; the caller must not assume "none".
        """
        ...

    def read_open_balances(self, refs: Sequence[ExternalRef]) -> Iterator[ErpOpenBalance]:
        """The open balance of each posted document among `refs` the ERP holds.

        A reference the ERP does not hold is simply absent from the answer.

        Raises:
            NotSupportedError: the ERP exposes no balances to us.
            BridgeError: the ERP could not be read.
        """
        ...

    def read_posted_payments(self, since: date | None = None) -> Iterator[ErpDocumentRef]:
        """Every ERP payment carrying one of our references (payment-side reconciliation).

        Raises:
            NotSupportedError: the connector does not record payments in this ERP.
            BridgeError: the ERP could not be read; the caller must not assume "none".
        """
        ...

    def read_posted_documents(self, since: date | None = None) -> Iterator[ErpDocumentRef]:
        """Every document carrying one of our references, for the ERP-to-ledger reconciliation.

        "Ours" is the shape of `erps/external_ref.py` (`is_external_ref`). With `since`,
        only documents dated that day or later. Each carries `external_ref` and, where the
        ERP gives them, its totals.

        Raises:
            NotSupportedError: the ERP cannot list documents by our reference.
            BridgeError: the ERP could not be read; the caller must not assume "none".
        """
        ...

    def close(self) -> None:
        """End the ERP session (sessions hold licence seats) and close connections."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class Closing:
    """A context manager that calls `close()` on the way out (adapters, clients)."""

    def close(self) -> None:
        """Nothing to close unless a subclass overrides this."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AdapterBase(Closing):
    """Behaviour every adapter shares: the context manager and the optional capabilities.

    Subclass it and override what the ERP has; the optional calls (`read_open_pos`,
    `read_payments`, `read_posted_documents` and the payment calls `post_payment`,
    `find_payment`, `read_open_balances`, `read_posted_payments`) raise `NotSupportedError`
    until overridden. Lookups are assumed
    not read-after-write consistent unless the adapter says otherwise: the safe default sends
    uncertain postings to review.
    """

    lookup_is_read_after_write_consistent: bool = False
    pays_partial_amounts: bool = True
    """Whether a payment may apply less than a document's open amount. An ERP that only pays
    the open amount says False: its adapter refuses a partial payment (`RejectedByErpError`,
    held for review) and the payment conformance suite expects exactly that."""

    def read_open_pos(self) -> Iterator[ErpPurchaseOrderLine]:
        """No purchase orders unless the adapter overrides this."""
        raise NotSupportedError(f"{type(self).__name__} does not read purchase orders")

    def read_payments(self, since: datetime) -> Iterator[ErpPayment]:
        """No payments unless the adapter overrides this."""
        raise NotSupportedError(f"{type(self).__name__} does not read payments")

    def post_payment(self, payment: PostablePayment) -> ErpDocumentRef:
        """No payments recorded unless the adapter overrides this."""
        raise NotSupportedError(f"{type(self).__name__} does not record payments")

    def find_payment(self, ref: ExternalRef) -> list[ErpDocumentRef]:
        """No payments recorded unless the adapter overrides this."""
        raise NotSupportedError(f"{type(self).__name__} does not record payments")

    def read_open_balances(self, refs: Sequence[ExternalRef]) -> Iterator[ErpOpenBalance]:
        """No balances unless the adapter overrides this."""
        raise NotSupportedError(f"{type(self).__name__} does not read open balances")

    def read_posted_payments(self, since: date | None = None) -> Iterator[ErpDocumentRef]:
        """No payments recorded unless the adapter overrides this."""
        raise NotSupportedError(f"{type(self).__name__} does not record payments")

    def read_posted_documents(self, since: date | None = None) -> Iterator[ErpDocumentRef]:
        """Not readable unless the adapter overrides this: reconciliation says so."""
        raise NotSupportedError(f"{type(self).__name__} does not list posted documents")
