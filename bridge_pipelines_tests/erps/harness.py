"""The conformance harness: one connector under test, through its descriptor and sandbox profile.

Nothing here names an ERP. What a test needs comes from the `ErpPlugin` (kind, factory) and its
`SandboxProfile` (app, tenant block, mapping, the write and login matches, documents), so a new
connector runs the suite by being registered.
"""

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bridge_pipelines.erps.base import (
    DimensionType,
    DocumentType,
    ErpAdapter,
    ErpDocumentRef,
    PaymentApplication,
    PostableInvoice,
    PostableInvoiceLine,
    PostablePayment,
    SourceLineage,
)
from bridge_pipelines.erps.external_ref import external_ref, payment_external_ref
from bridge_pipelines.erps.plugin import ErpPlugin
from bridge_pipelines.ledger.models import PlannedPosting, PostingRow, RecordRow
from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.posting.engine import PostingReport, RetryPolicy, post_pending
from bridge_pipelines.posting.payload_hash import payload_hash
from bridge_pipelines.sandbox.erp_base.admin_client import SandboxAdmin
from bridge_pipelines.sandbox.erp_base.faults import Fault, FaultAction
from bridge_pipelines.sandbox.erp_base.profile import (
    SandboxDocument,
    SandboxPayment,
    SandboxProfile,
)
from bridge_pipelines.sandbox.erp_base.runner import RunningSandbox
from bridge_pipelines.tenants import erp as tenant_erp
from bridge_pipelines.tenants.models import SftpConfig, TenantConfig
from bridge_pipelines.tenants.secrets import Keyring
from bridge_pipelines_tests.support.fake_erp import seed_records

TENANT = "conformance"
HOST_KEY = (
    Ed25519PrivateKey.generate()
    .public_key()
    .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    .decode()
)
FAST: dict[str, Any] = {
    # Quick backoff so faults cost fractions of a second; timeouts stay generous for a loaded
    # machine (no armed fault here hangs).
    "backoff_initial": 0.05,
    "backoff_max": 0.5,
    "retry_budget": 10.0,
    "connect_timeout": 5.0,
    "read_timeout": 20.0,
    "call_deadline": 30.0,
}
ENGINE_RETRY = RetryPolicy(base_delay=0.05, max_delay=1.0)
_numbers = itertools.count(1)
TODAY = date.today()  # once per session: a test that crosses midnight keeps its references


def matches(match: Mapping[str, str], request: Mapping[str, Any]) -> bool:
    """Whether a logged request matches a fault match (the sandbox's own matching rules)."""
    rule = Fault(FaultAction.LATENCY, **dict(match))
    return rule.matches(request["method"], request["path"], request["query"])


@dataclass
class ErpUnderTest:
    """One registered connector, its sandbox (reset for this test) and a keyring."""

    plugin: ErpPlugin
    profile: SandboxProfile
    running: RunningSandbox
    keyring: Keyring

    @property
    def kind(self) -> str:
        return self.plugin.kind

    @property
    def admin(self) -> SandboxAdmin:
        return self.running.admin

    # --- tenant and adapter ------------------------------------------------------------------

    def tenant(self, **erp: object) -> TenantConfig:
        """A tenant on the sandbox's seeded integration user; `erp` overrides fields."""
        encrypt = self.encrypt
        section = {**self.profile.erp_section(self.running.base_url, encrypt), **erp}
        return TenantConfig(
            id=TENANT,
            name="Conformance",
            sftp=SftpConfig(
                host="127.0.0.1",
                username="stampli",
                host_key=HOST_KEY,
                password=encrypt("sftp.password", "unused-by-these-tests"),
            ),
            erp=section,
        )

    def encrypt(self, field: str, plain: str) -> str:
        return self.keyring.encrypt(TENANT, field, plain)

    def adapter(self, tenant: TenantConfig | None = None, **options: Any) -> ErpAdapter:
        """The adapter `tenants.erp.build_adapter` builds, with quick backoff."""
        chosen = tenant if tenant is not None else self.tenant()
        return tenant_erp.build_adapter(chosen, keyring=self.keyring, **{**FAST, **options})

    @cached_property
    def target(self) -> str:
        """The posting target the ledger plans against: kind and company."""
        return f"{self.kind}:{self.tenant().erp.company or '-'}"

    # --- invoices ----------------------------------------------------------------------------

    def _first(self, table: str) -> str | None:
        values = list(self.profile.mapping.get(table, {}).values())
        return values[0] if values else None

    def invoice(
        self,
        document_type: DocumentType = DocumentType.INVOICE,
        *,
        number: str | None = None,
        total: str = "115.00",
        tax: str = "15.00",
        day: date | None = None,
    ) -> PostableInvoice:
        """A valid document on the seeded company: first vendor and account, a cost center.

        Dated `day` (invoice and posting date; today by default).
        """
        vendor, account = self._first("vendors"), self._first("gl_accounts")
        assert vendor and account, f"{self.kind}: the profile maps no vendor or GL account"
        center = self._first("cost_centers")
        number = number or f"CF-{next(_numbers):05d}"
        day = day or TODAY
        gross, vat = Decimal(total), Decimal(tax)
        return PostableInvoice(
            tenant=TENANT,
            external_ref=external_ref(TENANT, vendor, number, document_type, day, "USD", gross),
            record_id=0,
            vendor_code=vendor,
            invoice_number=number,
            document_type=document_type,
            invoice_date=day,
            due_date=day + timedelta(days=30),
            posting_date=day,
            currency="USD",
            total=gross,
            tax=vat,
            lines=(
                PostableInvoiceLine(
                    ledger_code=account,
                    amount=gross - vat,
                    description="Conformance supplies",
                    dimensions={DimensionType.COST_CENTER: center} if center else {},
                ),
            ),
            lineage=SourceLineage("approved_invoices_conformance.csv", (2,)),
        )

    def credit_memo(self, *, positive: bool = False) -> PostableInvoice:
        """A valid credit memo, its amounts given negative as Stampli exports them.

        `PostableInvoice` normalises them to positive (the one sign convention, `erps/base.py`),
        so an adapter receives the same document either way; `positive` gives them positive.
        """
        sign = "" if positive else "-"
        return self.invoice(DocumentType.CREDIT_MEMO, total=f"{sign}57.50", tax=f"{sign}7.50")

    def build_from_record(self, record: RecordRow) -> PostableInvoice:
        """The engine's `build_invoice`: a seeded ledger record as a document on this ERP."""
        p = record.payload
        made = self.invoice(number=p["number"], total=p["total"], tax=p["tax"])
        return replace(
            made,
            record_id=record.id,
            lineage=SourceLineage(p["file"], record.rows),
            external_ref=external_ref(
                record.tenant,
                p["vendor"],
                p["number"],
                DocumentType.INVOICE,
                made.invoice_date,
                p["currency"],
                Decimal(p["total"]),
            ),
        )

    # --- payments (issue 15) -----------------------------------------------------------------

    def payment(
        self,
        applied: list[tuple[PostableInvoice, ErpDocumentRef, str]],
        *,
        payment_id: str | None = None,
        day: date | None = None,
    ) -> PostablePayment:
        """A payment of posted documents: (document, what posting it answered, amount)."""
        payment_id = payment_id or f"PAY-CF-{next(_numbers):05d}"
        day = day or TODAY
        applications = tuple(
            PaymentApplication(
                invoice=document.ref,
                document_type=document.document_type,
                amount=Decimal(amount),
                erp_doc_id=posted.doc_id,
            )
            for document, posted, amount in applied
        )
        signs = {DocumentType.INVOICE: 1, DocumentType.CREDIT_MEMO: -1}
        gross = sum((a.amount * signs[a.document_type] for a in applications), Decimal(0))
        vendor = applied[0][0].vendor_code
        return PostablePayment(
            tenant=TENANT,
            external_ref=payment_external_ref(TENANT, vendor, payment_id, day, "USD", gross),
            record_ids=(0,),
            payment_id=payment_id,
            vendor_code=vendor,
            payment_date=day,
            currency="USD",
            method="ACH",
            reference=f"Conformance {payment_id}",
            applications=applications,
            lineage=SourceLineage("payments_conformance.csv", (2,)),
        )

    def payments(self, reference: str | None = None) -> list[SandboxPayment]:
        """The sandbox's payments in one shape (those carrying `reference`, if given)."""
        found = self.profile.payments(self.admin.documents())
        return [p for p in found if reference is None or p.reference == reference]

    def payment_writes(self, since: int = 0) -> list[dict[str, Any]]:
        return [r for r in self.requests(since) if matches(self.profile.payment_match, r)]

    # --- the ledger and the engine -----------------------------------------------------------

    def plan(self, ledger: Ledger, count: int = 1) -> list[PostingRow]:
        """`count` accepted invoice records, planned for posting to this ERP."""
        return self.plan_records(ledger, self.seed(ledger, count))

    @staticmethod
    def seed(ledger: Ledger, count: int = 1) -> list[RecordRow]:
        """`count` accepted invoice records of one parsed Stampli file."""
        return seed_records(ledger, count, tenant=TENANT)

    def plan_records(self, ledger: Ledger, records: list[RecordRow]) -> list[PostingRow]:
        """Plan each record's posting (planning one again returns the same posting)."""
        items = []
        for record in records:
            invoice = self.build_from_record(record)
            items.append(PlannedPosting(record.id, invoice.external_ref, payload_hash(invoice)))
        return ledger.plan_postings(TENANT, self.target, items)

    def post_pending(self, ledger: Ledger, *, runs: int = 5) -> list[PostingReport]:
        """`post_pending` runs, one adapter each, until a run claims nothing (at most `runs`).

        A posting given back after an uncertain answer (looked up, absent) waits for the next
        run, as it would for the next sensor tick.
        """
        reports = []
        for _ in range(runs):
            with self.adapter() as adapter:
                report = post_pending(
                    ledger,
                    adapter,
                    TENANT,
                    self.target,
                    self.build_from_record,
                    owner="conformance",
                    ttl=timedelta(minutes=5),
                    limit=50,
                    retry=ENGINE_RETRY,
                )
            reports.append(report)
            if report.claimed == 0:
                break
        return reports

    # --- what the sandbox holds --------------------------------------------------------------

    def documents(self, reference: str | None = None) -> list[SandboxDocument]:
        """The sandbox's AP documents in one shape (those carrying `reference`, if given)."""
        found = self.profile.documents(self.admin.documents())
        return [d for d in found if reference is None or d.reference == reference]

    def mark(self) -> int:
        """The id of the last logged request: later requests are `requests(since=mark)`."""
        logged = self.requests()
        return logged[-1]["id"] if logged else 0

    def requests(self, since: int = 0) -> list[dict[str, Any]]:
        everything: list[dict[str, Any]] = []
        while True:
            batch = self.admin.requests(since=since, limit=1000)
            everything += batch
            if len(batch) < 1000:
                return everything
            since = batch[-1]["id"]

    def logins(self, since: int = 0) -> list[dict[str, Any]]:
        return [r for r in self.requests(since) if matches(self.profile.login_match, r)]

    def writes(self, since: int = 0) -> list[dict[str, Any]]:
        return [r for r in self.requests(since) if matches(self.profile.write_match, r)]


def open_ledger(path: Path) -> Ledger:
    ledger = Ledger(f"sqlite:///{path}")
    ledger.migrate()
    return ledger
