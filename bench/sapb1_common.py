"""What the SAP B1 benches share: invoices the sandbox accepts, a ledger that planned them, the
engine loop, and the figures read back from the sandbox (request log, documents).

The invoices are a Stampli CSV export (the SYSPRO bench's generator, with the codes SAP B1's
seed maps), parsed by the real parser, recorded in a fresh SQLite ledger and planned; they are
posted by the real engine (`post_pending`) through the real `SapB1Adapter`.
"""

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bench.posting_throughput import (
    SeedMaps,
    all_requests,
    build_invoice_with,
    record_export,
    stampli_csv,
)
from bridge_pipelines.erps.base import (
    PostableInvoice,
)
from bridge_pipelines.erps.sap_b1.adapter import SapB1Adapter
from bridge_pipelines.erps.sap_b1.client import SapB1Settings
from bridge_pipelines.ledger.models import RecordRow
from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.ledger.states import PostingState, RecordState
from bridge_pipelines.posting.engine import PostingReport, post_pending
from bridge_pipelines.posting.plan import plan_invoices
from bridge_pipelines.sandbox.demo_company import DEMO_COMPANY
from bridge_pipelines.sandbox.erp_base.admin_client import SandboxAdmin
from bridge_pipelines.sandbox.erp_base.runner import RunningSandbox
from bridge_pipelines.sandbox.sap_b1.seed import SAP_B1_SEED

APP = "bridge_pipelines.sandbox.sap_b1.app:create_app"
TENANT = "bench"
TARGET = "sap_b1:SBODEMOUS"
CLAIM_LIMIT = 100
LEASE_TTL = timedelta(minutes=5)
EXPORT_NAME = "approved_invoices_bench.csv"


def known_codes() -> tuple[list[Any], list[str], list[str]]:
    """Demo vendors, Stampli GL codes and cost centers that map onto codes SAP B1 accepts."""
    partners = {bp["CardCode"] for bp in SAP_B1_SEED.business_partners if bp["Frozen"] == "tNO"}
    active = {a["Code"] for a in SAP_B1_SEED.accounts if a["ActiveAccount"] == "tYES"}
    centers = {p["CenterCode"] for p in SAP_B1_SEED.profit_centers if p["Active"] == "tYES"}
    vendors = [v for v in DEMO_COMPANY.vendors if SAP_B1_SEED.supplier_map.get(v.id) in partners]
    accounts = [
        a.code
        for a in DEMO_COMPANY.expense_accounts
        if SAP_B1_SEED.account_map.get(a.code) in active
    ]
    cost_centers = sorted(
        cc for cc, code in SAP_B1_SEED.profit_center_map.items() if code in centers
    )
    return vendors, accounts, cost_centers


SAP_B1_MAPS = SeedMaps(
    SAP_B1_SEED.supplier_map, SAP_B1_SEED.account_map, SAP_B1_SEED.profit_center_map
)


def build_invoice(record: RecordRow) -> PostableInvoice:
    """The SAP B1 document of one recorded invoice, mapped with the sandbox's tables."""
    return build_invoice_with(SAP_B1_MAPS, record, EXPORT_NAME)


def prepare(home: Path, invoices: int, *, seed: int = 11) -> tuple[Ledger, list[PostableInvoice]]:
    """A fresh ledger in `home` with `invoices` parsed, recorded and planned."""
    ledger = Ledger(f"sqlite:///{home / 'ledger.db'}")
    ledger.migrate()
    data = stampli_csv(invoices, seed=seed, codes=known_codes())
    record_export(ledger, data, EXPORT_NAME)
    records = ledger.records(TENANT, kind="invoices", states=[RecordState.ACCEPTED])
    planned = [build_invoice(r) for r in records]
    plan_invoices(ledger, TENANT, TARGET, planned)
    return ledger, planned


def settings_for(sandbox: RunningSandbox, *, rpm: float | None = None) -> SapB1Settings:
    """The bench's connection: the seeded `bridge` user, paced at `rpm` when given."""
    user = next(u for u in SAP_B1_SEED.users if u.user_name == "bridge")
    return SapB1Settings(
        base_url=sandbox.base_url,
        company=SAP_B1_SEED.company_db,
        username=user.user_name,
        password=SecretStr(user.password),
        max_requests_per_minute=rpm,
    )


def request_log_position(admin: SandboxAdmin) -> int:
    """The id of the newest logged request, so a run's own requests can be told apart."""
    log = all_requests(admin, 0)
    return int(log[-1]["id"]) if log else 0


@dataclass
class Run:
    """One posting run and what the sandbox saw of it."""

    label: str
    wall: float
    reports: list[PostingReport]
    requests: list[dict[str, Any]]
    documents: list[dict[str, Any]]
    posted_in_ledger: int
    not_posted_in_ledger: int
    client_logins: int
    by_call: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.by_call = Counter(
            f"{r['method']} {r['path'].split('/b1s/', 1)[-1].split('/', 1)[-1].split('(')[0]}"
            for r in self.requests
        )

    @property
    def posted(self) -> int:
        return sum(r.posted for r in self.reports)

    @property
    def logins(self) -> int:
        """Logins the sandbox answered (a refused one counts: it cost a round trip)."""
        return sum(v for k, v in self.by_call.items() if k.endswith(" Login"))

    @property
    def throttled(self) -> int:
        return sum(1 for r in self.requests if r.get("outcome") == "rate_limited")

    @property
    def throttle_statuses(self) -> set[int]:
        return {int(r["status"]) for r in self.requests if r.get("outcome") == "rate_limited"}

    @property
    def aborted(self) -> str | None:
        return next((r.aborted for r in self.reports if r.aborted), None)


def duplicates(documents: list[dict[str, Any]], expected: set[str]) -> tuple[int, int]:
    """(documents beyond one per supplier + reference, expected references SAP does not hold)."""
    keys = Counter(
        (d["CardCode"], d.get("JournalMemo") or d["NumAtCard"])  # ours (issue 16), or before
        for d in documents
        if d["kind"] != "JournalEntry"
    )
    keys.update(("", d["Reference"]) for d in documents if d["kind"] == "JournalEntry")
    held = {ref for _, ref in keys}
    return sum(c - 1 for c in keys.values() if c > 1), len(expected - held)


def post_all(
    label: str,
    sandbox: RunningSandbox,
    ledger: Ledger,
    adapter: SapB1Adapter,
    *,
    progress: Callable[[str], None] | None = None,
) -> Run:
    """Post every planned invoice through the engine with `adapter`, then read the sandbox."""
    admin = sandbox.admin
    since = request_log_position(admin)
    reports: list[PostingReport] = []
    started = time.perf_counter()
    with adapter:
        while True:
            report = post_pending(
                ledger,
                adapter,
                TENANT,
                TARGET,
                build_invoice,
                owner="bench",
                ttl=LEASE_TTL,
                limit=CLAIM_LIMIT,
            )
            reports.append(report)
            if progress and len(reports) % 5 == 0:
                done = sum(r.posted for r in reports)
                rate = done / (time.perf_counter() - started) * 60
                progress(f"  {label}: {done} posted, {rate:.0f}/min so far")
            if report.aborted or report.claimed < CLAIM_LIMIT:
                break
        logins = adapter.client.login_count
    wall = time.perf_counter() - started
    return Run(
        label=label,
        wall=wall,
        reports=reports,
        requests=all_requests(admin, since),
        documents=admin.documents(),
        posted_in_ledger=len(ledger.postings(TENANT, states=[PostingState.POSTED])),
        not_posted_in_ledger=len(
            ledger.postings(TENANT, states=[s for s in PostingState if s != PostingState.POSTED])
        ),
        client_logins=logins,
    )


def print_rows(rows: list[tuple[str, str]]) -> None:
    width = max(len(k) for k, _ in rows)
    print()
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
