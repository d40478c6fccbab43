"""One headless demo cycle: sensor ticks and intake runs until every file is settled.

This is what `bridge demo --once` runs and what the e2e test asserts on. It drives the real
Dagster definitions (sensor evaluation, then the intake job in-process on the demo instance), so
the runs it makes are visible in the UI afterwards.
"""

import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from bridge_pipelines.defs import build_defs
from bridge_pipelines.defs.masterdata import (
    JOB_NAME,
    MASTER_KINDS,
    OPEN_POS,
    erp_key,
    master_data_keys,
    open_purchase_orders_keys,
)
from bridge_pipelines.defs.resources import BridgeResource
from bridge_pipelines.demo.partner_cycle import export_last_month
from bridge_pipelines.erps import registry
from bridge_pipelines.errors import BridgeError, FieldProblem
from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.ledger.states import TERMINAL_FILE_STATES, PostingKind, PostingState
from bridge_pipelines.posting.payment_run import records_payments
from bridge_pipelines.tenants.models import TenantConfig
from bridge_pipelines.verify.payments import payment_checks
from bridge_pipelines.verify.report import (
    OPEN_BALANCES,
    PAYMENTS_APPLIED,
    CheckStatus,
    VerifyReport,
)

Clerk = Callable[[list[TenantConfig], Ledger], Mapping[str, list[str]]]
"""Pays, in each reconcile-only ERP, what Stampli paid; what the ERP refused, per tenant."""

# Headless runs print warnings and errors only; the UI keeps the full event log.
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
INBOUND_NAMES = {
    "vendors": "vendors",
    "gl_accounts": "GL accounts",
    "dimensions": "dimensions",
    OPEN_POS: "open POs",
}


@dataclass
class TenantSummary:
    """What one tenant's cycle did, printed by `bridge demo --once`."""

    tenant: str
    files: Counter[str] = field(default_factory=Counter)
    documents: Counter[str] = field(default_factory=Counter)
    row_errors: int = 0
    postings: Counter[str] = field(default_factory=Counter)
    payments: Counter[str] = field(default_factory=Counter)  # payment postings by state
    waiting: list[str] = field(default_factory=list)  # why each waiting payment waits
    erp: str = "none"
    erp_company: str | None = None
    vendor_sync: dict[str, Any] | None = None  # the last vendor_sync metadata, if it ran
    inbound: dict[str, int] = field(default_factory=dict)  # ERP master data sent to Stampli
    inbound_folder: str = ""
    runs: int = 0
    failed_runs: int = 0
    partners: list[str] = field(default_factory=list)  # files sent to partners (issue 14)
    partner_problems: list[str] = field(default_factory=list)
    # A reconcile-only ERP (it makes payments): Stampli's payments compared with its own.
    reconciled: VerifyReport | None = None
    clerk_refused: list[str] = field(default_factory=list)  # checks the ERP refused, and why

    @property
    def problems(self) -> list[str]:
        """Why the cycle is not OK; empty when it is.

        The demo's data either posts or is held for review on purpose (an unmapped vendor),
        so an ERP rejection, a posting left open or no posting at all is a problem to see.
        """
        found: list[str] = []
        if self.failed_runs:
            found.append(f"{self.failed_runs} failed runs")
        if any(state not in TERMINAL_FILE_STATES for state in self.files):
            found.append("files not settled")
        open_postings = sum(self.postings.get(s, 0) for s in ("planned", "sending", "unknown"))
        if open_postings:
            found.append(f"{open_postings} postings still open")
        if self.postings.get("rejected", 0):
            found.append(f"{self.postings['rejected']} rejected by {self.erp}")
        open_payments = sum(self.payments.get(s, 0) for s in ("planned", "sending", "unknown"))
        if open_payments:
            found.append(f"{open_payments} payments still open")
        if self.payments.get("rejected", 0):
            found.append(f"{self.payments['rejected']} payments rejected by {self.erp}")
        if self.reconciled is not None:
            differ = self.reconciled.check(PAYMENTS_APPLIED).count
            balances = self.reconciled.check(OPEN_BALANCES).count
            if differ or balances:
                found.append(f"{differ + balances} payment differences with {self.erp}")
        if self.clerk_refused:
            found.extend(self.clerk_refused)
        failed_vendors = len((self.vendor_sync or {}).get("failed") or [])
        if failed_vendors:
            found.append(f"{failed_vendors} vendors refused by {self.erp}")
        accepted = self.documents.get("invoices accepted", 0)
        if self.erp != "none" and accepted and not self.postings.get("posted", 0):
            found.append(f"nothing posted to {self.erp}")
        return found + self.partner_problems

    @property
    def ok(self) -> bool:
        return not self.problems

    def _postings(self) -> str:
        if self.erp == "none":
            return "no ERP configured"
        held = self.postings.get("needs_review", 0)
        return (
            f"{self.postings.get('posted', 0)} posted to {self.erp}, {held} held for review, "
            f"{self.postings.get('rejected', 0)} rejected"
            + (f" (`bridge review list {self.tenant}`)" if held else "")
        )

    def _payments(self) -> str:
        if self.erp == "none":
            return "no ERP configured"
        if self.reconciled is not None:
            return self._reconciled(self.reconciled)
        if not self.payments:
            return "none recorded (reconcile-only, or no payment file yet)"
        held = self.payments.get("needs_review", 0)
        text = (
            f"{self.payments.get('posted', 0)} recorded in {self.erp}, "
            f"{self.payments.get('waiting', 0)} waiting, {held} held for review"
        )
        return text + "".join(f"\n              waits: {reason}" for reason in self.waiting[:3])

    def _reconciled(self, report: VerifyReport) -> str:
        """Reconcile-only: how Stampli's payments compare with the ERP's, differences listed."""
        applied, balances = report.check(PAYMENTS_APPLIED), report.check(OPEN_BALANCES)
        if applied.status == CheckStatus.NOT_CHECKABLE:
            return f"not reconciled with {self.erp}: {applied.note}"
        lag = report.counts.get("payment_rows_not_comparable", 0)
        text = (
            f"reconciled with {self.erp} (reconcile-only): "
            f"{report.counts.get('payments', 0)} Stampli payments, "
            f"{report.counts.get('erp_payments', 0)} {self.erp} payment lines, "
            f"{applied.count + balances.count} differ; "
            f"{lag} rows on invoices not in {self.erp}"
        )
        return text + "".join(
            f"\n              differs: {item['message']}"
            for item in [*applied.items, *balances.items][:3]
        )

    def _erp(self) -> str:
        if self.erp == "none":
            return "none"
        company = f", company {self.erp_company}" if self.erp_company else ""
        found = registry.find(self.erp)
        name = found.display_name if found is not None else self.erp
        return f"{name} ({self.erp}{company})"

    def _vendors(self) -> str:
        if self.erp == "none":
            return "no ERP configured"
        if self.vendor_sync is None:
            return "not synced in this cycle (no Stampli vendors file)"
        sync = self.vendor_sync
        without = list(sync.get("needs_erp_code") or [])
        failed = list(sync.get("failed") or [])
        return (
            f"{sync.get('created', 0)} created, {sync.get('updated', 0)} updated in {self.erp}"
            + (f", {len(without)} without an ERP code ({', '.join(without)})" if without else "")
            + (f", {len(failed)} refused" if failed else "")
        )

    def _inbound(self) -> str:
        if self.erp == "none":
            return "no ERP configured"
        if not self.inbound:
            return "nothing sent"
        sent = ", ".join(f"{n} {INBOUND_NAMES.get(k, k)}" for k, n in self.inbound.items())
        return f"{sent} (`{self.inbound_folder}`)"

    def lines(self) -> list[str]:
        files = ", ".join(f"{n} {s}" for s, n in sorted(self.files.items())) or "none"
        docs = ", ".join(f"{n} {s}" for s, n in sorted(self.documents.items())) or "none"
        problems = self.problems
        return [
            f"tenant {self.tenant}: "
            + ("OK" if not problems else f"PROBLEM ({'; '.join(problems)})"),
            f"  erp:        {self._erp()}",
            f"  files:      {sum(self.files.values())} ({files})",
            f"  documents:  {docs}",
            f"  row errors: {self.row_errors} (located; `bridge status {self.tenant}`)",
            f"  to Stampli: {self._inbound()}",
            f"  vendors:    {self._vendors()}",
            f"  postings:   {self._postings()}",
            f"  payments:   {self._payments()}",
            f"  runs:       {self.runs} ({self.failed_runs} failed)",
            *(f"  partner:    {line}" for line in self.partners),
        ]


def run_cycle(
    tenants: list[TenantConfig],
    ledger: Ledger,
    *,
    instance: dg.DagsterInstance,
    timeout_s: float = 120.0,
    quiet_ticks: int = 2,
    problems: Sequence[FieldProblem] = (),
    clerk: Clerk | None = None,
) -> list[TenantSummary]:
    """Tick every sensor and run what it asks until nothing is pending (or the timeout).

    `problems`: tenant files that did not load; the definitions carry their failing
    placeholders, as the code location does, and every other tenant runs. `clerk` then pays
    in reconcile-only ERPs what Stampli paid (the demo's AP clerk), and those tenants'
    payments are reconciled with the ERP's, as `bridge verify` does.
    """
    defs = build_defs(tenants, problems)
    summaries = {t.id: TenantSummary(tenant=t.id) for t in tenants}
    for tenant_id, ok in materialize_master_data(tenants, instance, defs).items():
        summaries[tenant_id].runs += 1
        summaries[tenant_id].failed_runs += 0 if ok else 1
    deadline = time.monotonic() + timeout_s
    quiet = 0
    while time.monotonic() < deadline:
        launched = 0
        for tenant in tenants:
            launched += _tick(defs, tenant, instance, summaries[tenant.id])
        open_files = [
            f for t in tenants for f in ledger.files(t.id) if f.state not in TERMINAL_FILE_STATES
        ]
        quiet = quiet + 1 if not launched and not open_files else 0
        if quiet >= quiet_ticks:
            break
        time.sleep(max(1.0, min(t.sftp.settle_seconds for t in tenants) / 2))
    refused = clerk(tenants, ledger) if clerk is not None else {}
    for tenant in tenants:
        # The review queue table, as its sensor would refresh it (not counted as an intake run).
        if tenant.erp.kind != "none":
            _tick(defs, tenant, instance, TenantSummary(tenant.id), f"{tenant.id}_review_queue")
    for tenant in tenants:
        summary = summaries[tenant.id]
        summary.clerk_refused = list(refused.get(tenant.id, []))
        if tenant.erp.kind != "none" and not records_payments(tenant):
            try:
                summary.reconciled = _reconcile(tenant, ledger)
            except BridgeError as exc:
                summary.clerk_refused.append(f"payments not reconciled: {exc}")
        summary.partners, summary.partner_problems = export_last_month(
            defs, tenant, ledger, instance
        )
        summary.files = Counter(f.state.value for f in ledger.files(tenant.id))
        summary.documents = Counter(f"{r.kind} {r.state.value}" for r in ledger.records(tenant.id))
        summary.row_errors = len(ledger.row_errors(tenant.id))
        summary.erp = tenant.erp.kind
        summary.erp_company = tenant.erp.company
        invoices = ledger.postings(tenant.id, kind=PostingKind.INVOICE)
        payments = ledger.postings(tenant.id, kind=PostingKind.PAYMENT)
        summary.postings = Counter(p.state.value for p in invoices)
        summary.payments = Counter(p.state.value for p in payments)
        summary.waiting = [p.reason or "" for p in payments if p.state == PostingState.WAITING]
        if tenant.erp.kind != "none":
            summary.vendor_sync = _metadata(instance, erp_key(tenant.id, "vendor_sync"))
            summary.inbound = _inbound_counts(instance, tenant)
            summary.inbound_folder = tenant.folders.inbound
    return list(summaries.values())


def materialize_master_data(
    tenants: Sequence[TenantConfig],
    instance: dg.DagsterInstance,
    defs: dg.Definitions | None = None,
) -> dict[str, bool]:
    """Reference data before postings, as the schedule does.

    ERP master data (and open POs, where the tenant asks for them) to Stampli's inbound
    folder, and the mapping rebuilt. The live demo runs this at start too, so the lineage
    into postings is never "never materialized" while the hourly cron waits. Returns
    tenant -> run succeeded.
    """
    defs = defs or build_defs(list(tenants))
    results: dict[str, bool] = {}
    for tenant in tenants:
        keys = [*master_data_keys(tenant), *open_purchase_orders_keys(tenant)]
        if keys:
            # The schedules' job, so these runs sit in the UI with the scheduled ones.
            job = defs.resolve_job_def(JOB_NAME)
            result = job.execute_in_process(
                asset_selection=keys,
                instance=instance,
                tags={
                    "bridge/tenant": tenant.id,
                    "bridge/what": "export ERP master data to Stampli (demo start)",
                },
                run_config=QUIET_RUN_CONFIG,
                raise_on_error=False,
            )
            results[tenant.id] = result.success
    return results


def _tick(
    defs: dg.Definitions,
    tenant: TenantConfig,
    instance: dg.DagsterInstance,
    summary: TenantSummary,
    sensor_name: str | None = None,
) -> int:
    sensor = defs.resolve_sensor_def(sensor_name or f"{tenant.id}_stampli_files")
    context = dg.build_sensor_context(
        instance=instance,
        resources={"bridge": BridgeResource()},
        sensor_name=sensor.name,
        definitions=defs,
    )
    data = sensor.evaluate_tick(context)
    job = defs.resolve_implicit_global_asset_job_def()
    launched = 0
    for request in data.run_requests or []:
        result = job.execute_in_process(
            asset_selection=request.asset_selection,
            instance=instance,
            partition_key=request.partition_key,
            tags=dict(request.tags),
            run_config=QUIET_RUN_CONFIG,
            raise_on_error=False,
        )
        launched += 1
        summary.runs += 1
        summary.failed_runs += 0 if result.success else 1
    return launched


def _reconcile(tenant: TenantConfig, ledger: Ledger) -> VerifyReport:
    """`bridge verify`'s payment checks for a reconcile-only tenant, against its ERP."""
    from bridge_pipelines.intake.runtime import Runtime
    from bridge_pipelines.tenants.erp import build_adapter

    report = VerifyReport(tenant=tenant.id, day=None)
    with build_adapter(tenant, keyring=Runtime.from_env().keyring) as adapter:
        payment_checks(report, tenant, ledger, adapter, day=None, recorded=False)
    return report


def _metadata(instance: dg.DagsterInstance, key: dg.AssetKey) -> dict[str, Any] | None:
    """The metadata of the asset's last materialization, if any."""
    event = instance.get_latest_materialization_event(key)
    materialization = event.asset_materialization if event is not None else None
    if materialization is None:
        return None
    return {name: value.value for name, value in materialization.metadata.items()}


def _inbound_counts(instance: dg.DagsterInstance, tenant: TenantConfig) -> dict[str, int]:
    """What the ERP master-data exports sent to Stampli's inbound folder: rows per kind."""
    counts: dict[str, int] = {}
    for name in (*MASTER_KINDS, OPEN_POS):
        metadata = _metadata(instance, erp_key(tenant.id, name))
        if metadata is not None:
            count = metadata.get("purchase_orders" if name == OPEN_POS else "dagster/row_count")
            counts[name] = int(count or 0)
    return counts
