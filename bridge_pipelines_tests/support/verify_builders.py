"""A tenant's ledger built row by row, and an ERP that lists documents, for verify tests."""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from bridge_pipelines.erps.base import (
    AdapterBase,
    ErpDimension,
    ErpDocumentRef,
    ErpGlAccount,
    ErpVendor,
    ExternalRef,
    PostableInvoice,
    UpsertResult,
    VendorChange,
)
from bridge_pipelines.ledger.models import (
    DocumentIn,
    FileRow,
    PlannedPosting,
    PostingRow,
    RecordRow,
)
from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.posting.run import invoice_external_ref, posting_target
from bridge_pipelines.stampli.invoice_record import InvoiceRecord
from bridge_pipelines.tenants.models import TenantConfig

HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
FAKE_SECRET = "enc:v1:k1:QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"
DAY = date(2026, 5, 4)
FOLDER = "/outbound/invoices"


def tenant_config(tenant_id: str = "acme", erp: str = "syspro") -> TenantConfig:
    """A tenant in UTC whose ERP (if any) is SYSPRO company DEMO."""
    erp_section: dict[str, Any] = {"kind": "none"}
    if erp != "none":
        erp_section = {
            "kind": erp,
            "base_url": "http://127.0.0.1:1",
            "company": "DEMO",
            "username": "BRIDGE",
            "password": FAKE_SECRET,
        }
    return TenantConfig.model_validate(
        {
            "id": tenant_id,
            "name": tenant_id.title(),
            "sftp": {"host": "127.0.0.1", "username": "stampli", "host_key": HOST_KEY,
                     "password": FAKE_SECRET, "settle_seconds": 5},
            "erp": erp_section,
        }
    )  # fmt: skip


@dataclass(frozen=True)
class Entry:
    """A listed remote file (the SFTP client's `RemoteEntry` shape)."""

    name: str
    size: int
    mtime: int


@dataclass
class Listing:
    """A Stampli server as verify lists it: folder -> entries (and refused names)."""

    folders: dict[str, list[Entry]] = field(default_factory=dict)
    refused: dict[str, list[Entry]] = field(default_factory=dict)

    def list_files(self, folder: str) -> tuple[list[Entry], list[Entry]]:
        return list(self.folders.get(folder, [])), list(self.refused.get(folder, []))


class ListingErp(AdapterBase):
    """An ERP that only lists documents (what verify reads); everything else is unused."""

    def __init__(self, documents: Sequence[ErpDocumentRef] = ()) -> None:
        self.documents = list(documents)
        self.asked_since: list[date | None] = []

    def read_posted_documents(self, since: date | None = None) -> Iterator[ErpDocumentRef]:
        self.asked_since.append(since)
        return iter(list(self.documents))

    def read_vendors(self) -> Iterator[ErpVendor]:
        return iter(())

    def read_gl_accounts(self) -> Iterator[ErpGlAccount]:
        return iter(())

    def read_dimensions(self) -> Iterator[ErpDimension]:
        return iter(())

    def upsert_vendor(self, vendor: VendorChange) -> UpsertResult:
        raise AssertionError("verify never writes")

    def find_by_external_ref(self, ref: ExternalRef) -> list[ErpDocumentRef]:
        raise AssertionError("verify lists, it does not look up")

    def post_invoice(self, invoice: PostableInvoice) -> ErpDocumentRef:
        raise AssertionError("verify never writes")


class UnlistableErp(ListingErp):
    """An adapter without `read_posted_documents` (AdapterBase's default refuses)."""

    read_posted_documents = AdapterBase.read_posted_documents  # type: ignore[assignment]


_files = iter(range(1, 1_000_000))


@dataclass
class TenantLedger:
    """One tenant's ledger, filled the way intake and posting fill it."""

    ledger: Ledger
    tenant: TenantConfig

    @property
    def target(self) -> str:
        return posting_target(self.tenant)

    def file(self, *, day: date = DAY, name: str | None = None, size: int = 100) -> FileRow:
        """A file observed twice (so it is `stable`) on `day`, partition `day`."""
        n = next(_files)
        entry = Entry(name or f"invoices_{n}.csv", size, 1_777_000_000 + n)
        t0 = datetime.combine(day, time(9), tzinfo=UTC)
        settle = self.tenant.settle
        self.ledger.observe_listing(
            self.tenant.id,
            "invoices",
            FOLDER,
            [entry],
            settle=settle,
            zone=self.tenant.zone,
            now=t0,
        )
        (row,) = self.ledger.observe_listing(
            self.tenant.id, "invoices", FOLDER, [entry], settle=settle, zone=self.tenant.zone,
            now=t0 + settle,
        )  # fmt: skip
        return row

    def invoices(
        self, count: int, *, day: date = DAY, totals: Sequence[str] | None = None
    ) -> list[RecordRow]:
        """A parsed file of `count` accepted invoices on `day`."""
        row = self.file(day=day)
        self.ledger.mark_downloaded(
            row.id, sha256=f"{row.id:064x}", size=row.size, archive_path=f"/a/{row.name}"
        )
        docs = []
        for i in range(count):
            number = f"INV-{row.id}-{i}"
            total = (totals or ["115.00"] * count)[i]
            payload = {
                "vendor_id": "V-0001",
                "invoice_number": number,
                "document_type": "Invoice" if not total.startswith("-") else "CreditMemo",
                "invoice_date": "2026-05-01",
                "currency": "USD",
                "invoice_total": total,
                "tax_amount": "15.00",
                "lines": [],
            }
            docs.append(
                DocumentIn(
                    kind="invoices",
                    identity=f"V-0001|{number}|{payload['document_type']}",
                    content_hash=f"h-{number}",
                    rows=(i + 2,),
                    payload=payload,
                    document_day=date(2026, 5, 1),
                    amount=Decimal(total),
                    currency="USD",
                )
            )
        self.ledger.complete_parse(row.id, documents=docs, rows_total=count)
        return self.ledger.records(self.tenant.id, file_id=row.id)

    def ref(self, record: RecordRow) -> str:
        return invoice_external_ref(self.tenant, InvoiceRecord.from_payload(record.payload))

    def plan(self, records: Sequence[RecordRow]) -> list[PostingRow]:
        items = [PlannedPosting(r.id, self.ref(r), f"hash-{r.id}") for r in records]
        return self.ledger.plan_postings(self.tenant.id, self.target, items)

    def claim(self) -> list[PostingRow]:
        return self.ledger.claim_postings(
            self.tenant.id, self.target, owner="test", ttl=timedelta(minutes=5), limit=1000
        )

    def post(self, records: Sequence[RecordRow]) -> list[ErpDocumentRef]:
        """Plan, claim and mark posted; returns the documents the ERP would list."""
        self.plan(records)
        claimed = {p.record_id: p for p in self.claim()}
        docs = []
        for record in records:
            posting = claimed[record.id]
            doc_id = f"SUP00001/{record.payload['invoice_number']}"
            self.ledger.mark_posted(posting.id, "test", doc_id)
            docs.append(document(doc_id, posting.external_ref, record.payload["invoice_total"]))
        return docs


def document(
    doc_id: str,
    ref: str,
    total: str | None = None,
    *,
    debits: str | None = None,
    credits: str | None = None,
) -> ErpDocumentRef:
    """An ERP document of ours as `read_posted_documents` lists it."""
    return ErpDocumentRef(
        doc_id=doc_id,
        vendor_code="SUP00001",
        document_number=doc_id.rsplit("/", 1)[-1],
        external_ref=ref,
        total=Decimal(total) if total is not None else None,
        debit_total=Decimal(debits) if debits is not None else None,
        credit_total=Decimal(credits) if credits is not None else None,
    )
