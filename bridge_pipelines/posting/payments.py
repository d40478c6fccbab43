"""Stampli payments as ERP payments: grouped, judged against the ledger, built, ERP-neutral.

A payment is the accepted rows sharing a `payment_id` in the export that carried it; each row
applies an amount to one Stampli invoice (`invoice_id`). Before anything is sent, the ledger
judges every payment (`PaymentBook.assess`):

- **waiting** (the posting is `waiting`, with the reason): an invoice it settles is not posted
  yet: not in any file yet (payment file before invoice file), not planned, being posted,
  held for review, or rejected by the ERP. It moves to `planned` by itself once every invoice
  is posted; it is never applied to a document found any other way.
- **problems** (the posting is held for review with the reason): what the bridge will not
  decide for a person: a reversal or void (a row undoing an earlier payment: the ERP payment
  is cancelled by hand, never by us), a payment in another currency than its invoice (no
  conversion), an over-payment in Stampli's own figures (more applied to an invoice than its
  total, counting earlier payments), rows that disagree on vendor, date or currency, an
  invoice id matching two invoices, rows added to a payment already exported.
- otherwise it is **ready**: `build` makes the `PostablePayment`, each application carrying
  the posted invoice's reference and ERP document from the ledger.

A duplicate export of a payment is a `duplicate` record at intake and never reaches here; a
changed re-export (same payment and invoice, another amount) is a held record, as invoices'.
"""

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from bridge_pipelines.erps.base import (
    DocumentType,
    ExternalRef,
    PaymentApplication,
    PostablePayment,
    SourceLineage,
)
from bridge_pipelines.erps.external_ref import payment_external_ref
from bridge_pipelines.errors import BadInputError
from bridge_pipelines.ledger.models import PostingRow, RecordRow
from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.ledger.states import PostingKind, PostingState, RecordState
from bridge_pipelines.mapping.tables import MappingTables
from bridge_pipelines.stampli.invoice_record import InvoiceRecord
from bridge_pipelines.stampli.naming import payload_name
from bridge_pipelines.stampli.payment_record import PaymentRecord

PAYMENTS = "payments"
INVOICES = "invoices"
ZERO = Decimal(0)
_SIGN = {DocumentType.INVOICE: Decimal(1), DocumentType.CREDIT_MEMO: Decimal(-1)}


@dataclass(frozen=True)
class SourcePayment:
    """One Stampli payment: its accepted rows, in record order.

    `part` is set on rows of a payment id that an earlier export already carried (a later
    file adding invoices to it): they are never merged into the payment already planned.
    """

    payment_id: str
    records: tuple[RecordRow, ...]
    rows: tuple[PaymentRecord, ...]
    part: str | None = None

    @property
    def anchor(self) -> RecordRow:
        """The record the posting hangs on: the payment's first row."""
        return self.records[0]

    @property
    def gross(self) -> Decimal:
        """What Stampli says left the bank: the rows' amounts as exported (signed)."""
        return sum((row.amount for row in self.rows), ZERO)

    @property
    def name(self) -> str:
        """`payment PAY-1 of vendor V-0001` (and the export, for a later part)."""
        first = self.rows[0]
        tail = f" (rows added by {self.part})" if self.part else ""
        return f"payment {self.payment_id} of vendor {first.vendor_id}{tail}"


@dataclass(frozen=True)
class Applied:
    """A row resolved to the one invoice record it names, and that invoice's posting."""

    row: PaymentRecord
    invoice: RecordRow
    posting: PostingRow | None

    @property
    def document(self) -> InvoiceRecord:
        return InvoiceRecord.from_payload(self.invoice.payload)


@dataclass(frozen=True)
class Assessment:
    """What the ledger says of one payment: waiting, problems, or ready (neither)."""

    payment: SourcePayment
    external_ref: str
    applied: tuple[Applied, ...]
    waiting: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def ready(self) -> bool:
        return not self.waiting and not self.problems

    @property
    def waiting_reason(self) -> str | None:
        """The posting's reason while it waits (None once it waits no more)."""
        if self.problems or not self.waiting:
            return None
        return f"waits for {len(self.waiting)} invoice(s): " + "; ".join(self.waiting)


@dataclass
class PaymentBook:
    """One tenant's payments and the invoices they settle, as the ledger holds them now."""

    tenant: str
    target: str
    payments: list[SourcePayment]
    invoices_by_id: dict[str, list[RecordRow]]
    invoice_postings: dict[int, PostingRow]
    payment_postings: dict[int, PostingRow]
    file_names: dict[int, str] = field(default_factory=dict)
    # Per Stampli invoice id: (payment anchor, amount as exported) of every payment row.
    _rows_by_invoice: dict[str, list[tuple[int, Decimal]]] = field(
        default_factory=dict, init=False, repr=False
    )
    _by_anchor: dict[int, SourcePayment] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        rows: dict[str, list[tuple[int, Decimal]]] = defaultdict(list)
        for payment in self.payments:
            self._by_anchor[payment.anchor.id] = payment
            for row in payment.rows:
                rows[row.invoice_id].append((payment.anchor.id, row.amount))
        self._rows_by_invoice = dict(rows)

    @classmethod
    def load(cls, ledger: Ledger, tenant: str, target: str) -> "PaymentBook":
        """Every accepted payment and invoice of the tenant, and their postings to `target`."""
        invoices: dict[str, list[RecordRow]] = defaultdict(list)
        for record in ledger.records(tenant, kind=INVOICES, states=[RecordState.ACCEPTED]):
            invoice_id = str(record.payload.get("invoice_id") or "")
            if invoice_id:
                invoices[invoice_id].append(record)
        invoice_postings: dict[int, PostingRow] = {}
        payment_postings: dict[int, PostingRow] = {}
        for posting in ledger.postings(tenant, target=target):
            if posting.kind == PostingKind.PAYMENT:
                payment_postings[posting.record_id] = posting
            else:
                invoice_postings[posting.record_id] = posting
        records = ledger.records(tenant, kind=PAYMENTS, states=[RecordState.ACCEPTED])
        names = {f.id: f.name for f in ledger.files(tenant) if f.kind == PAYMENTS}
        return cls(
            tenant=tenant,
            target=target,
            payments=group_payments(records, names),
            invoices_by_id=dict(invoices),
            invoice_postings=invoice_postings,
            payment_postings=payment_postings,
            file_names=names,
        )

    def assess_all(self) -> list[Assessment]:
        """Every payment judged, in the order they were recorded."""
        return [self.assess(payment) for payment in self.payments]

    def assessment_of(self, record_id: int) -> Assessment | None:
        """The payment whose posting hangs on `record_id`, judged now."""
        payment = self._by_anchor.get(record_id)
        return None if payment is None else self.assess(payment)

    def assess(self, payment: SourcePayment) -> Assessment:
        """Waiting reasons and problems of one payment (see the module docstring)."""
        first = payment.rows[0]
        ref = payment_external_ref(
            self.tenant,
            first.vendor_id,
            payment.payment_id + (f"#{payment.part}" if payment.part else ""),
            first.payment_date,
            first.currency,
            payment.gross,
        )
        waiting: list[str] = []
        problems: list[str] = []
        if payment.part:
            problems.append(
                f"{payment.name}: payment {payment.payment_id} was exported before; the bridge "
                "never adds invoices to a payment already planned: record these in the ERP "
                "by hand, or have Stampli export them as a new payment"
            )
        for name in ("vendor_id", "payment_date", "currency"):
            values = {str(getattr(row, name)) for row in payment.rows}
            if len(values) > 1:
                problems.append(f"its rows disagree on {name}: {', '.join(sorted(values))}")
        applied: list[Applied] = []
        reversed_rows: list[PaymentRecord] = []
        for row in payment.rows:
            found = self.invoices_by_id.get(row.invoice_id, [])
            named = f"invoice {row.invoice_number or '?'} (Stampli {row.invoice_id})"
            if not found:
                waiting.append(
                    f"{named} of vendor {row.vendor_id} is not in the ledger: no Stampli "
                    "invoice export has carried it yet"
                )
                continue
            if len(found) > 1:
                problems.append(
                    f"Stampli {row.invoice_id} names {len(found)} invoices: "
                    + ", ".join(payload_name(r.payload, r.identity) for r in found)
                )
                continue
            (invoice,) = found
            document = InvoiceRecord.from_payload(invoice.payload)
            label = payload_name(invoice.payload, invoice.identity)
            mismatch = self._mismatch(row, document, label)
            if mismatch:
                problems.append(mismatch)
                continue
            sign = _SIGN[DocumentType(document.document_type)]
            settled = row.amount * sign
            if settled < 0:
                reversed_rows.append(row)
            elif settled == 0:
                problems.append(f"{label}: the payment applies 0.00")
            else:
                over = self._over_payment(payment, row, invoice, document, label)
                if over:
                    problems.append(over)
            posting = self.invoice_postings.get(invoice.id)
            applied.append(Applied(row, invoice, posting))
            wait = _invoice_wait(label, posting)
            if wait:
                waiting.append(wait)
        if reversed_rows:
            problems.append(self._reversal(payment, reversed_rows))
        return Assessment(payment, ref, tuple(applied), tuple(waiting), tuple(problems))

    @staticmethod
    def _mismatch(row: PaymentRecord, document: InvoiceRecord, label: str) -> str | None:
        if row.vendor_id != document.vendor_id:
            return f"{label} is vendor {document.vendor_id}'s; the payment names {row.vendor_id}"
        if row.invoice_number and row.invoice_number != document.invoice_number:
            return f"{label}: the payment names invoice number {row.invoice_number}"
        if row.currency != document.currency:
            return (
                f"{label} is in {document.currency}, the payment in {row.currency}: the bridge "
                "converts no currency; record it in the ERP by hand, then resolve the posting "
                "as posted"
            )
        return None

    def _over_payment(
        self,
        payment: SourcePayment,
        row: PaymentRecord,
        invoice: RecordRow,
        document: InvoiceRecord,
        label: str,
    ) -> str | None:
        """More applied to the invoice than its total, counting payments recorded earlier."""
        sign = _SIGN[DocumentType(document.document_type)]
        earlier = sum(
            (
                amount * sign
                for anchor, amount in self._rows_by_invoice.get(row.invoice_id, [])
                if anchor < payment.anchor.id
            ),
            ZERO,
        )
        total = abs(document.total)
        applied = row.amount * sign
        if earlier + applied <= total:
            return None
        return (
            f"over-payment of {label}: it totals {total} {document.currency}, payments recorded "
            f"earlier apply {earlier}, this one {applied}"
        )

    def _reversal(self, payment: SourcePayment, rows: list[PaymentRecord]) -> str:
        """A reversal or void: which earlier payments of those invoices the ERP holds."""
        invoices = {row.invoice_id for row in rows}
        earlier = []
        for other in self.payments:
            if other is payment or not invoices & {r.invoice_id for r in other.rows}:
                continue
            posting = self.payment_postings.get(other.anchor.id)
            where = f"ERP {posting.erp_doc_id}" if posting and posting.erp_doc_id else "not in ERP"
            earlier.append(f"{other.payment_id} ({where})")
        of = ", ".join(earlier) if earlier else "no payment the ledger knows"
        return (
            f"{payment.name} reverses (voids) earlier payments of {len(invoices)} invoice(s): "
            f"{of}. The bridge never cancels an ERP payment on its own: cancel it in the ERP, "
            "then resolve this posting as posted with the cancelled payment (`bridge review "
            "resolve <posting> --as posted --erp-doc <it> --reason ...`)"
        )


def _invoice_wait(label: str, posting: PostingRow | None) -> str | None:
    """Why the payment cannot be applied to this invoice yet, or None once it is posted."""
    if posting is None:
        return f"{label} is not planned for posting yet"
    if posting.state == PostingState.POSTED:
        return None
    if posting.state == PostingState.REJECTED:
        return (
            f"{label} was rejected by the ERP (posting #{posting.id}: {posting.reason}); "
            "the payment is applied once it is posted"
        )
    if posting.state == PostingState.NEEDS_REVIEW:
        return f"{label} is held for review (posting #{posting.id}: {posting.reason})"
    return f"{label} is being posted (posting #{posting.id} is {posting.state.value})"


def group_payments(records: Iterable[RecordRow], file_names: dict[int, str]) -> list[SourcePayment]:
    """Accepted payment rows as payments: by payment id, within the export that carried it."""
    groups: dict[tuple[str, int], list[RecordRow]] = defaultdict(list)
    first_file: dict[str, int] = {}
    for record in sorted(records, key=lambda r: r.id):
        payment_id = str(record.payload.get("payment_id"))
        first_file.setdefault(payment_id, record.file_id)
        groups[(payment_id, record.file_id)].append(record)
    payments = []
    for (payment_id, file_id), rows in groups.items():
        part = None
        if first_file[payment_id] != file_id:
            part = file_names.get(file_id, f"file #{file_id}")
        payments.append(
            SourcePayment(
                payment_id=payment_id,
                records=tuple(rows),
                rows=tuple(PaymentRecord.from_payload(r.payload) for r in rows),
                part=part,
            )
        )
    return sorted(payments, key=lambda p: p.anchor.id)


def build_payment(assessment: Assessment, tables: MappingTables, file_name: str) -> PostablePayment:
    """The ERP payment of a ready payment.

    Raises:
        BadInputError: it is not ready (a problem, or an invoice not posted), or its vendor
            does not map; the message gives every reason (the posting is held for review).
    """
    if assessment.problems:
        raise BadInputError("; ".join(assessment.problems))
    if assessment.waiting:
        raise BadInputError("not ready: " + "; ".join(assessment.waiting))
    payment = assessment.payment
    first = payment.rows[0]
    vendor = tables.lookup("vendors", first.vendor_id)
    if vendor is None:
        raise BadInputError(f"unmapped: vendor {first.vendor_id} has no ERP supplier")
    applications = []
    for applied in assessment.applied:
        posting = applied.posting
        assert posting is not None and posting.state == PostingState.POSTED  # not waiting
        document = applied.document
        applications.append(
            PaymentApplication(
                invoice=ExternalRef(posting.external_ref, vendor, document.invoice_number),
                document_type=DocumentType(document.document_type),
                amount=abs(applied.row.amount),
                erp_doc_id=posting.erp_doc_id,
            )
        )
    return PostablePayment(
        tenant=assessment.payment.anchor.tenant,
        external_ref=assessment.external_ref,
        record_ids=tuple(r.id for r in payment.records),
        payment_id=payment.payment_id,
        vendor_code=vendor,
        payment_date=first.payment_date,
        currency=first.currency,
        method=first.method,
        reference=first.reference,
        applications=tuple(applications),
        lineage=SourceLineage(file_name, tuple(n for r in payment.records for n in r.rows)),
    )


def payment_payload_hash(payment: PostablePayment) -> str:
    """SHA-256 (hex) of what the ERP receives for a payment (lineage left out)."""
    document = {
        "tenant": payment.tenant,
        "external_ref": payment.external_ref,
        "payment_id": payment.payment_id,
        "vendor_code": payment.vendor_code,
        "payment_date": payment.payment_date.isoformat(),
        "currency": payment.currency,
        "method": payment.method,
        "reference": payment.reference,
        "applications": [
            {
                "invoice": a.invoice.value,
                "document_type": a.document_type.value,
                "amount": str(a.amount),
                "erp_doc_id": a.erp_doc_id,
            }
            for a in payment.applications
        ],
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def held_hash(kind: str, reasons: Sequence[str]) -> str:
    """The payload hash of a payment that cannot be built yet: it changes with its reasons."""
    digest = hashlib.sha256("\n".join(reasons).encode("utf-8")).hexdigest()[:40]
    return f"{kind}-{digest}"
