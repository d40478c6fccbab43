"""An in-memory ERP for engine tests: scripted answers, documents optionally kept in a file.

Unit tests drive the engine's decisions with it; the SYSPRO sandbox tests the real wire later.
With `path`, documents survive the process, so a test can SIGKILL a worker and look again.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from bridge_pipelines.erps.base import (
    AdapterBase,
    DocumentType,
    ErpAdapter,
    ErpDimension,
    ErpDocumentRef,
    ErpGlAccount,
    ErpVendor,
    ExternalRef,
    PostableInvoice,
    PostableInvoiceLine,
    SourceLineage,
    UpsertResult,
    VendorChange,
    period_closed_by_erp,
    rejected_by_erp,
    retryable,
)
from bridge_pipelines.erps.external_ref import external_ref
from bridge_pipelines.errors import BadInputError, ConfigError, NeedsLookupError, RetryableError
from bridge_pipelines.ledger.models import DocumentIn, PlannedPosting, PostingRow, RecordRow
from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.posting.payload_hash import payload_hash

TARGET = "fake:C1"
TENANT = "acme"


@dataclass(frozen=True)
class Entry:
    name: str
    size: int
    mtime: int


class FakeErp(AdapterBase):
    """Post answers follow `script` (then "ok"); lookups follow `lookup_script` (then "ok")."""

    def __init__(self, *, consistent: bool = True, path: Path | None = None) -> None:
        self.lookup_is_read_after_write_consistent = consistent
        self.path = path
        self.script: list[str] = []
        self.lookup_script: list[str] = []
        self.posts = 0
        self.lookups = 0
        self.closed = False
        self._docs: dict[str, list[str]] = {}
        if path is not None and path.exists():
            self._docs = json.loads(path.read_text())

    # -- documents --------------------------------------------------------------------------

    def documents(self, ref: str | None = None) -> list[str]:
        if self.path is not None and self.path.exists():
            self._docs = json.loads(self.path.read_text())
        if ref is not None:
            return list(self._docs.get(ref, []))
        return [d for docs in self._docs.values() for d in docs]

    def add_document(self, ref: str) -> str:
        self.documents()
        doc_id = f"DOC-{sum(len(v) for v in self._docs.values()) + 1}"
        self._docs.setdefault(ref, []).append(doc_id)
        if self.path is not None:
            self.path.write_text(json.dumps(self._docs))
        return doc_id

    # -- ErpAdapter -------------------------------------------------------------------------

    def read_vendors(self) -> Iterator[ErpVendor]:
        yield ErpVendor("V-1", "Vendor One")

    def read_gl_accounts(self) -> Iterator[ErpGlAccount]:
        yield ErpGlAccount("5000", "Office")

    def read_dimensions(self) -> Iterator[ErpDimension]:
        return iter(())

    def upsert_vendor(self, vendor: VendorChange) -> UpsertResult:
        return UpsertResult(vendor.code or "V-NEW", created=vendor.code is None)

    def find_by_external_ref(self, ref: ExternalRef) -> list[ErpDocumentRef]:
        self.lookups += 1
        action = self.lookup_script.pop(0) if self.lookup_script else "ok"
        if action == "error":
            raise RetryableError("lookup answered 503")
        if action == "stale":
            return []
        if action == "incomplete":
            return [ErpDocumentRef("DOC-X", complete=False, status="On Hold")]
        return [
            ErpDocumentRef(d, ref.vendor_code, ref.document_number, ref.value)
            for d in self.documents(ref.value)
        ]

    def post_invoice(self, invoice: PostableInvoice) -> ErpDocumentRef:
        self.posts += 1
        action = self.script.pop(0) if self.script else "ok"
        if action == "reject":
            raise rejected_by_erp(
                "Supplier 'V-1' not on file", "<ERROR>Supplier 'V-1' not on file</ERROR>"
            )
        if action == "period_closed":
            raise period_closed_by_erp(
                "Posting period locked; specify an alternative date (-4013)",
                '{"error":{"code":-4013,"message":"Posting period locked"}}',
            )
        if action == "retryable":
            raise retryable("connection refused")
        if action == "429":
            raise retryable("429 Too Many Requests", retry_after=2.0)
        if action == "config":
            raise ConfigError("operator password refused")
        if action == "too_long":
            raise BadInputError("notation over 30 characters")
        if action == "timeout_before":
            raise NeedsLookupError("read timeout")
        doc_id = self.add_document(invoice.external_ref)
        if action == "landed_then_timeout":
            raise NeedsLookupError("read timeout after the request was sent")
        if action == "crash":
            raise RuntimeError("parser bug after the ERP answered")
        return ErpDocumentRef(
            doc_id, invoice.vendor_code, invoice.invoice_number, invoice.external_ref, response="ok"
        )

    def close(self) -> None:
        self.closed = True


def _adapter_is_an_erp_adapter(fake: FakeErp) -> ErpAdapter:
    return fake  # mypy checks the protocol here


# -- ledger helpers ------------------------------------------------------------------------

_counter = iter(range(1, 1_000_000))


def seed_records(ledger: Ledger, count: int, *, tenant: str = TENANT) -> list[RecordRow]:
    """`count` accepted invoice records from one parsed file."""
    n = next(_counter)
    name = f"invoices_{n}.csv"
    entries = [Entry(name, 100, 1_700_000_000)]
    t0 = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)
    settle = timedelta(seconds=30)
    zone = ZoneInfo("UTC")
    ledger.observe_listing(tenant, "invoices", "/out", entries, settle=settle, zone=zone, now=t0)
    (row,) = ledger.observe_listing(
        tenant, "invoices", "/out", entries, settle=settle, zone=zone, now=t0 + settle
    )
    ledger.mark_downloaded(row.id, sha256=f"{n:064x}", size=100, archive_path=f"/a/{name}")
    docs = [
        DocumentIn(
            kind="invoice",
            identity=f"V-1|INV-{n}-{i}|Invoice",
            content_hash=f"h{n}-{i}",
            rows=(i + 1,),
            payload={
                "vendor": "V-1",
                "number": f"INV-{n}-{i}",
                "date": "2025-03-01",
                "total": "110.00",
                "tax": "10.00",
                "currency": "USD",
                "file": name,
            },
            document_day=date(2025, 3, 1),
            amount=Decimal("110.00"),
            currency="USD",
        )
        for i in range(count)
    ]
    ledger.complete_parse(row.id, documents=docs, rows_total=count)
    return ledger.records(tenant, file_id=row.id)


def ref_of(record: RecordRow) -> str:
    p = record.payload
    return external_ref(
        record.tenant,
        p["vendor"],
        p["number"],
        DocumentType.INVOICE,
        date.fromisoformat(p["date"]),
        p["currency"],
        Decimal(p["total"]),
    )


def build_invoice(record: RecordRow) -> PostableInvoice:
    """The test mapping: one line to ledger code 5000."""
    p = record.payload
    total, tax = Decimal(p["total"]), Decimal(p["tax"])
    return PostableInvoice(
        tenant=record.tenant,
        external_ref=ref_of(record),
        record_id=record.id,
        vendor_code="0000" + p["vendor"],
        invoice_number=p["number"],
        document_type=DocumentType.INVOICE,
        invoice_date=date.fromisoformat(p["date"]),
        due_date=None,
        posting_date=date.fromisoformat(p["date"]),
        currency=p["currency"],
        total=total,
        tax=tax,
        lines=(PostableInvoiceLine("5000", total - tax, "office chairs", {"cost_center": "CC1"}),),
        lineage=SourceLineage(p["file"], record.rows),
    )


def plan(ledger: Ledger, count: int = 1, *, tenant: str = TENANT) -> list[PostingRow]:
    records = seed_records(ledger, count, tenant=tenant)
    items = [PlannedPosting(r.id, ref_of(r), payload_hash(build_invoice(r))) for r in records]
    return ledger.plan_postings(tenant, TARGET, items)
