"""One headless demo cycle: sensor ticks and intake runs until every file is settled.

This is what `bridge demo --once` runs and what the e2e test asserts on. It drives the real
Dagster definitions (sensor evaluation, then the intake job in-process on the demo instance), so
the runs it makes are visible in the UI afterwards.
"""

import time
from collections import Counter
from dataclasses import dataclass, field

import dagster as dg

from bridge_pipelines.defs import build_defs
from bridge_pipelines.defs.masterdata import master_data_keys
from bridge_pipelines.defs.resources import BridgeResource
from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.ledger.states import TERMINAL_FILE_STATES
from bridge_pipelines.tenants.models import TenantConfig

# Headless runs print warnings and errors only; the UI keeps the full event log.
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@dataclass
class TenantSummary:
    """What one tenant's cycle did, printed by `bridge demo --once`."""

    tenant: str
    files: Counter[str] = field(default_factory=Counter)
    documents: Counter[str] = field(default_factory=Counter)
    row_errors: int = 0
    postings: Counter[str] = field(default_factory=Counter)
    erp: str = "none"
    runs: int = 0
    failed_runs: int = 0

    @property
    def ok(self) -> bool:
        open_postings = {"planned", "sending", "unknown"} & set(self.postings)
        return (
            self.failed_runs == 0
            and all(state in TERMINAL_FILE_STATES for state in self.files)
            and not open_postings
        )

    def _postings(self) -> str:
        if self.erp == "none":
            return "no ERP configured"
        held = self.postings.get("needs_review", 0)
        return (
            f"{self.postings.get('posted', 0)} posted to {self.erp}, {held} held for review, "
            f"{self.postings.get('rejected', 0)} rejected"
            + (f" (`bridge review list {self.tenant}`)" if held else "")
        )

    def lines(self) -> list[str]:
        files = ", ".join(f"{n} {s}" for s, n in sorted(self.files.items())) or "none"
        docs = ", ".join(f"{n} {s}" for s, n in sorted(self.documents.items())) or "none"
        return [
            f"tenant {self.tenant}: {'OK' if self.ok else 'PROBLEM'}",
            f"  files:      {sum(self.files.values())} ({files})",
            f"  documents:  {docs}",
            f"  row errors: {self.row_errors} (located; `bridge status {self.tenant}`)",
            f"  postings:   {self._postings()}",
            f"  runs:       {self.runs} ({self.failed_runs} failed)",
        ]


def run_cycle(
    tenants: list[TenantConfig],
    ledger: Ledger,
    *,
    instance: dg.DagsterInstance,
    timeout_s: float = 120.0,
    quiet_ticks: int = 2,
) -> list[TenantSummary]:
    """Tick every sensor and run what it asks until nothing is pending (or the timeout)."""
    defs = build_defs(tenants)
    summaries = {t.id: TenantSummary(tenant=t.id) for t in tenants}
    job = defs.resolve_implicit_global_asset_job_def()
    for tenant in tenants:
        # Reference data before postings, as the schedule does: ERP master data to Stampli's
        # inbound folder, and the mapping rebuilt.
        keys = master_data_keys(tenant)
        if keys:
            result = job.execute_in_process(
                asset_selection=keys,
                instance=instance,
                tags={"bridge/tenant": tenant.id},
                run_config=QUIET_RUN_CONFIG,
                raise_on_error=False,
            )
            summaries[tenant.id].runs += 1
            summaries[tenant.id].failed_runs += 0 if result.success else 1
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
    for tenant in tenants:
        summary = summaries[tenant.id]
        summary.files = Counter(f.state.value for f in ledger.files(tenant.id))
        summary.documents = Counter(f"{r.kind} {r.state.value}" for r in ledger.records(tenant.id))
        summary.row_errors = len(ledger.row_errors(tenant.id))
        summary.erp = tenant.erp.kind
        summary.postings = Counter(p.state.value for p in ledger.postings(tenant.id))
    return list(summaries.values())


def _tick(
    defs: dg.Definitions, tenant: TenantConfig, instance: dg.DagsterInstance, summary: TenantSummary
) -> int:
    sensor = defs.resolve_sensor_def(f"{tenant.id}_stampli_files")
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
