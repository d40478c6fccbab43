"""A tenant-day's postings: map every accepted invoice, plan it, post it exactly once.

What does not map (unknown vendor, GL account or cost center) is planned all the same, under a
hash of its reasons, and the engine holds it for review instead of sending it: an operator
fixes the mapping, resolves the posting (`bridge review resolve`), and the next run posts it.
The ERP's master data is read at the start of every run, so a mapping never points at a code
the ERP no longer has.
"""

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from typing import Any

from bridge_pipelines.erps.base import (
    DimensionType,
    DocumentType,
    ErpAdapter,
    PostableInvoice,
    PostableInvoiceLine,
    SourceLineage,
)
from bridge_pipelines.erps.external_ref import external_ref
from bridge_pipelines.errors import BadInputError
from bridge_pipelines.intake.runtime import Runtime
from bridge_pipelines.ledger.models import PlannedPosting, PostingRow, RecordRow
from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.ledger.states import PostingState, RecordState
from bridge_pipelines.mapping.matching import names_of
from bridge_pipelines.mapping.resolve import resolve_invoice
from bridge_pipelines.mapping.tables import ErpCodes, MappingTables, build_tables, load_overrides
from bridge_pipelines.posting.engine import Outcome, PostingOutcome, post_pending
from bridge_pipelines.posting.payload_hash import payload_hash
from bridge_pipelines.stampli.invoice_record import InvoiceRecord
from bridge_pipelines.tenants.erp import build_adapter
from bridge_pipelines.tenants.models import TenantConfig

CLAIM_LIMIT = 100
LEASE_TTL = timedelta(minutes=5)


@dataclass
class DayPostingReport:
    """What one posting run did for a tenant (and day)."""

    tenant: str
    day: date | None
    target: str
    planned: int = 0
    mapping_problems: tuple[str, ...] = ()
    outcomes: list[PostingOutcome] = field(default_factory=list)
    aborted: str | None = None

    def count(self, outcome: Outcome) -> int:
        return sum(1 for o in self.outcomes if o.outcome == outcome)


def posting_target(tenant: TenantConfig) -> str:
    """The ERP company a tenant posts to; part of every posting's identity."""
    return f"{tenant.erp.kind}:{tenant.erp.company or '-'}"


def invoice_external_ref(tenant: TenantConfig, invoice: InvoiceRecord) -> str:
    """The deterministic reference written into the ERP document (from Stampli's identity)."""
    return external_ref(
        tenant.id,
        invoice.vendor_id,
        invoice.invoice_number,
        invoice.document_type,
        invoice.invoice_date,
        invoice.currency,
        invoice.total,
    )


def load_mapping(
    ctx: Runtime, tenant: TenantConfig, adapter: ErpAdapter, records: Iterable[RecordRow]
) -> MappingTables:
    """Mapping tables from the ERP's live master data, Stampli's hints and the tenant's file."""
    dimensions = list(adapter.read_dimensions())
    suppliers = [v for v in adapter.read_vendors() if v.active]
    erp = ErpCodes(
        vendors=frozenset(v.code for v in suppliers),
        gl_accounts=frozenset(a.code for a in adapter.read_gl_accounts() if a.active),
        cost_centers=frozenset(
            d.code for d in dimensions if d.active and d.type == DimensionType.COST_CENTER
        ),
    )
    invoices = [InvoiceRecord.from_payload(r.payload) for r in records]
    vendor_records = ctx.ledger.records(tenant.id, kind="vendors", states=[RecordState.ACCEPTED])
    hints = {
        str(r.payload["vendor_id"]): str(r.payload["erp_vendor_code"])
        for r in vendor_records
        if r.payload.get("erp_vendor_code")
    }
    # Names for the match by name of a vendor no code links (`mapping.matching`).
    names = names_of(
        [
            (str(r.payload.get("vendor_id") or ""), r.payload.get("vendor_name"))
            for r in vendor_records
        ]
        + [(p.vendor_id, p.vendor_name) for p in invoices]
    )
    return build_tables(
        erp,
        stampli_vendors=[p.vendor_id for p in invoices],
        stampli_vendor_hints=hints,
        stampli_gl_accounts=[line.gl_account for p in invoices for line in p.lines],
        stampli_cost_centers=[
            line.cost_center for p in invoices for line in p.lines if line.cost_center
        ],
        overrides=load_overrides(ctx.settings.resolved_mappings_dir / f"{tenant.id}.yaml"),
        vendor_names=names,
        erp_vendor_names={v.code: v.name for v in suppliers},
    )


def build_postable(
    tenant: TenantConfig, record: RecordRow, tables: MappingTables, source_file: str
) -> PostableInvoice:
    """The ERP document for one recorded invoice.

    Amounts go in as Stampli exports them (a credit memo negative); `PostableInvoice` turns
    them into the document's own amounts (positive, the type carrying the direction), the one
    place that sign convention is enforced. `external_ref` hashes the source's signed gross.

    Raises:
        BadInputError: a code does not map; the message lists every reason (held for review).
            Also an invoice (not a credit memo) with a negative total.
    """
    invoice = InvoiceRecord.from_payload(record.payload)
    resolution = resolve_invoice(invoice, tables)
    if not resolution.ok or resolution.erp_vendor is None:
        raise BadInputError("unmapped: " + "; ".join(resolution.reasons))
    lines = tuple(
        PostableInvoiceLine(
            ledger_code=line.erp_gl_account,
            amount=line.amount,
            description=line.description,
            dimensions=(
                {DimensionType.COST_CENTER: line.erp_cost_center} if line.erp_cost_center else {}
            ),
            po_number=invoice.po_number,
        )
        for line in resolution.lines
    )
    return PostableInvoice(
        tenant=tenant.id,
        external_ref=invoice_external_ref(tenant, invoice),
        record_id=record.id,
        vendor_code=resolution.erp_vendor,
        invoice_number=invoice.invoice_number,
        document_type=DocumentType(invoice.document_type),
        invoice_date=invoice.invoice_date,
        due_date=invoice.due_date,
        posting_date=invoice.posting_date,
        currency=invoice.currency,
        total=invoice.total,
        tax=invoice.tax,
        lines=lines,
        lineage=SourceLineage(file_name=source_file, rows=record.rows),
    )


def post_tenant_day(
    ctx: Runtime,
    tenant: TenantConfig,
    day: date | None,
    *,
    owner: str,
    adapter: ErpAdapter | None = None,
    limit: int = CLAIM_LIMIT,
) -> DayPostingReport:
    """Plan the day's accepted invoices and post every open posting of the tenant.

    Safe to run any number of times, concurrently too: the ledger's claims and the lookups
    before any retry decide what is sent, never this function's caller.
    """
    ledger = ctx.ledger
    target = posting_target(tenant)
    report = DayPostingReport(tenant=tenant.id, day=day, target=target)
    records = ledger.records(
        tenant.id, kind="invoices", partition_day=day, states=[RecordState.ACCEPTED]
    )
    open_postings = ledger.postings(
        tenant.id,
        target=target,
        states=[PostingState.PLANNED, PostingState.UNKNOWN, PostingState.SENDING],
    )
    if not records and not open_postings:
        return report
    with adapter if adapter is not None else build_adapter(tenant, keyring=ctx.keyring) as erp:
        tables = load_mapping(ctx, tenant, erp, records)
        report.mapping_problems = tables.problems
        file_name = _file_names(ledger)

        def build(record: RecordRow) -> PostableInvoice:
            return build_postable(tenant, record, tables, file_name(record.file_id))

        report.planned = len(_plan(ledger, tenant, target, records, build))
        while True:
            run = post_pending(
                ledger, erp, tenant.id, target, build, owner=owner, ttl=LEASE_TTL, limit=limit
            )
            report.outcomes.extend(run.outcomes)
            if run.aborted or run.claimed < limit:
                report.aborted = run.aborted
                break
    return report


def _plan(
    ledger: Ledger,
    tenant: TenantConfig,
    target: str,
    records: list[RecordRow],
    build: Any,
) -> list[PostingRow]:
    items: list[PlannedPosting] = []
    for record in records:
        ref = invoice_external_ref(tenant, InvoiceRecord.from_payload(record.payload))
        try:
            digest = payload_hash(build(record))
        except BadInputError as exc:
            # Planned all the same: the engine holds it for review with these reasons.
            digest = "unmapped-" + hashlib.sha256(str(exc).encode()).hexdigest()[:40]
        items.append(PlannedPosting(record.id, ref, digest))
    return ledger.plan_postings(tenant.id, target, items) if items else []


def _file_names(ledger: Ledger) -> Any:
    @cache
    def name(file_id: int) -> str:
        return ledger.get_file(file_id).name

    return name
