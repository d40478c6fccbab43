"""One intake, one alerts and one review-queue sensor per code location (`BRIDGE_SENSORS=shared`).

Each Dagster sensor tick costs the daemon a state read, a gRPC call, a tick record and a
cursor write, and the code server an evaluation, whatever the body does: three sensors per
tenant cannot reach the idle goal (issue 19). These evaluate every tenant of the location per
tick with the per-tenant bodies (`evaluate_tenant`, `alert_tenant`, `queue_refresh`), so run
keys, tags, asset selections and partitions are the same as with per-tenant sensors.

Isolation: a tenant whose listing fails or raises is logged naming the tenant and reported in
the tick's message; the other tenants' runs are still requested. Listings run in a small
thread pool under one deadline (`LISTING_BUDGET_S`), so a slow server cannot push a tick past
Dagster's sensor timeout (60 s); a listing still running is reported and not started again
until it ends. Each tenant's `sensor_interval_s` is honoured through the cursor, which keeps
when each tenant was last evaluated.
"""

import json
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from functools import cache
from typing import Any

import dagster as dg

from bridge_pipelines.defs.alerts import ALERTS_INTERVAL_S, alert_tenant
from bridge_pipelines.defs.resources import BridgeResource
from bridge_pipelines.defs.review import QUEUE_REFRESH_S, queue_refresh, review_queue_key
from bridge_pipelines.defs.sensors import IntakeTargets, clock, evaluate_tenant, list_tenant
from bridge_pipelines.intake.runtime import Runtime
from bridge_pipelines.intake.scan import ScanResult
from bridge_pipelines.redaction import redact
from bridge_pipelines.tenants.models import TenantConfig

INTAKE_SENSOR = "bridge_stampli_files"
ALERTS_SENSOR = "bridge_alerts"
REVIEW_SENSOR = "bridge_review_queue"
# Concurrent SFTP listings: they wait on the network, not the CPU.
LISTING_THREADS = 4
# Every listing of a tick ends within this, well inside Dagster's 60 s sensor timeout.
LISTING_BUDGET_S = 30.0
# A tick a little early (the daemon's loop jitters) still evaluates a tenant that is due.
INTERVAL_SLACK_S = 1.0
# Problems named in a tick's message; the rest are counted (the log has them all).
MAX_NAMED = 10

# Listings started by an earlier tick and not ended: not started again until they end.
_in_flight: dict[str, Future[ScanResult]] = {}


@cache
def _pool() -> ThreadPoolExecutor:
    """One per process, started on the first tick (building the definitions starts no thread)."""
    return ThreadPoolExecutor(LISTING_THREADS, thread_name_prefix="bridge-listing")


def _why(exc: BaseException) -> str:
    return redact(" ".join(str(exc).split()))[:400] or type(exc).__name__


def list_tenants(
    runtime: Runtime, tenants: Sequence[TenantConfig], budget_s: float = LISTING_BUDGET_S
) -> dict[str, ScanResult | str]:
    """Each tenant's listing, or why there is none (an error, or still running at the deadline)."""
    out: dict[str, ScanResult | str] = {}
    started: dict[str, Future[ScanResult]] = {}
    for tenant in tenants:
        running = _in_flight.get(tenant.id)
        if running is not None and not running.done():
            out[tenant.id] = "the listing of an earlier tick is still running"
            continue
        started[tenant.id] = _in_flight[tenant.id] = _pool().submit(list_tenant, runtime, tenant)
    wait(started.values(), timeout=budget_s)
    for tenant_id, future in started.items():
        if not future.done():
            out[tenant_id] = f"listing not done within {budget_s:g} s (slow SFTP server?)"
            continue
        del _in_flight[tenant_id]
        exc = future.exception()
        out[tenant_id] = _why(exc) if exc is not None else future.result()
    return out


def _due(
    tenants: Sequence[TenantConfig], last: dict[str, float], intervals: dict[str, float]
) -> list[TenantConfig]:
    now = clock()
    return [
        t
        for t in tenants
        if now - last.get(t.id, 0.0) + INTERVAL_SLACK_S >= intervals.get(t.id, 0.0)
    ]


def _summary(evaluated: int, total: int, problems: list[str], *parts: str) -> str:
    named = problems[:MAX_NAMED]
    more = len(problems) - len(named)
    text = f"{evaluated} of {total} tenants evaluated"
    text += "".join(f"; {p}" for p in parts if p)
    if problems:
        text += "; problems: " + " | ".join(named) + (f" | {more} more" if more else "")
    return text


def build_shared_intake_sensor(targets: Sequence[IntakeTargets]) -> dg.SensorDefinition:
    """Lists every tenant of the location that is due and requests its runs."""
    by_id = {t.tenant.id: t for t in targets}
    intervals = {t.tenant.id: float(t.tenant.schedules.sensor_interval_s) for t in targets}

    @dg.sensor(
        name=INTAKE_SENSOR,
        asset_selection=dg.AssetSelection.assets(*[a for t in targets for a in t.assets]),
        minimum_interval_seconds=min(int(v) for v in intervals.values()),
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            f"Lists the Stampli folders of the location's {len(targets)} tenants, each at its "
            "own `sensor_interval_s`, and requests one run per batch of newly stable files "
            "(run key = ledger batch id; tag `bridge/tenant`). One tenant's failure is "
            "reported here and stops no other tenant."
        ),
    )
    def _sensor(context: dg.SensorEvaluationContext, bridge: BridgeResource) -> dg.SensorResult:
        runtime = bridge.intake()
        state: dict[str, Any] = json.loads(context.cursor) if context.cursor else {}
        last: dict[str, float] = {k: v for k, v in state.get("at", {}).items() if k in by_id}
        due = _due([t.tenant for t in targets], last, intervals)
        listings = list_tenants(runtime, due)
        requests: list[dg.RunRequest] = []
        problems: list[str] = []
        notes: list[str] = []
        now = clock()
        for tenant in due:
            listing = listings[tenant.id]
            last[tenant.id] = now
            if isinstance(listing, str):
                context.log.warning("tenant %s: %s", tenant.id, listing)
                problems.append(f"{tenant.id}: {listing}")
                continue
            try:
                tick = evaluate_tenant(context.instance, runtime, by_id[tenant.id], listing)
            except Exception as exc:  # one tenant's failure must not stop the others
                context.log.exception("tenant %s: intake evaluation failed", tenant.id)
                problems.append(f"{tenant.id}: {_why(exc)}")
                continue
            for note in tick.warnings:
                context.log.warning("tenant %s: %s", tenant.id, note)
            requests.extend(tick.requests)
            if tick.warnings:
                notes.append(f"{tenant.id}: {'; '.join(tick.warnings)}")
        cursor = json.dumps({"at": last}, sort_keys=True)
        if requests:
            return dg.SensorResult(run_requests=requests, cursor=cursor)
        skip = _summary(len(due), len(targets), problems, "; ".join(notes[:MAX_NAMED]))
        return dg.SensorResult(skip_reason=dg.SkipReason(skip), cursor=cursor)

    return _sensor


def build_shared_alerts_sensor(tenants: Sequence[TenantConfig]) -> dg.SensorDefinition:
    """Every tenant's standing problems, each alerted once (and again when it changes)."""
    by_id = {t.id: t for t in tenants}

    @dg.sensor(
        name=ALERTS_SENSOR,
        minimum_interval_seconds=ALERTS_INTERVAL_S,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Alerts the people of the location's {len(tenants)} tenants: invoices "
        "waiting for review too long, `reconciled` failing, SFTP unreachable or runs failing "
        "tick after tick, postings far below normal (thresholds in each tenant file).",
    )
    def _sensor(context: dg.SensorEvaluationContext, bridge: BridgeResource) -> dg.SkipReason:
        runtime = bridge.intake()
        states: dict[str, Any] = json.loads(context.cursor) if context.cursor else {}
        kept: dict[str, Any] = {}
        sent: list[str] = []
        problems: list[str] = []
        for tenant_id, tenant in by_id.items():
            try:
                kept[tenant_id], said = alert_tenant(
                    runtime, context.instance, tenant, states.get(tenant_id, {})
                )
            except Exception as exc:  # one tenant's failure must not stop the others
                context.log.exception("tenant %s: alerts evaluation failed", tenant_id)
                problems.append(f"{tenant_id}: {_why(exc)}")
                kept[tenant_id] = states.get(tenant_id, {})
                continue
            sent += [f"{tenant_id}: {s}" for s in said]
        context.update_cursor(json.dumps(kept, sort_keys=True))
        return dg.SkipReason(
            _summary(len(by_id), len(by_id), problems, "; ".join(sent) or "nothing new to alert")
        )

    return _sensor


def build_shared_review_sensor(tenants: Sequence[TenantConfig]) -> dg.SensorDefinition | None:
    """Refreshes each ERP tenant's review queue table when its queue changed."""
    with_erp = [t for t in tenants if t.erp.kind != "none"]
    if not with_erp:
        return None

    @dg.sensor(
        name=REVIEW_SENSOR,
        asset_selection=dg.AssetSelection.assets(*[review_queue_key(t.id) for t in with_erp]),
        minimum_interval_seconds=QUEUE_REFRESH_S,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Refreshes `<tenant>/review/review_queue` of the location's {len(with_erp)} "
        "ERP tenants whenever an invoice joins or leaves a review queue.",
    )
    def _sensor(context: dg.SensorEvaluationContext, bridge: BridgeResource) -> dg.SensorResult:
        runtime = bridge.intake()
        digests: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
        kept: dict[str, str] = {}
        requests: list[dg.RunRequest] = []
        problems: list[str] = []
        for tenant in with_erp:
            try:
                digest, request, _ = queue_refresh(runtime, tenant, digests.get(tenant.id))
            except Exception as exc:  # one tenant's failure must not stop the others
                context.log.exception("tenant %s: review queue evaluation failed", tenant.id)
                problems.append(f"{tenant.id}: {_why(exc)}")
                if tenant.id in digests:
                    kept[tenant.id] = digests[tenant.id]
                continue
            kept[tenant.id] = digest
            if request is not None:
                requests.append(request)
        cursor = json.dumps(kept, sort_keys=True)
        if requests:
            return dg.SensorResult(run_requests=requests, cursor=cursor)
        skip = _summary(len(with_erp), len(with_erp), problems, "no review queue changed")
        return dg.SensorResult(skip_reason=dg.SkipReason(skip), cursor=cursor)

    return _sensor


def build_shared_sensors(
    tenants: Sequence[TenantConfig], targets: Sequence[IntakeTargets]
) -> list[dg.SensorDefinition]:
    """The location's three sensors (none for a location without tenants)."""
    if not targets:
        return []
    review = build_shared_review_sensor(tenants)
    return [
        build_shared_intake_sensor(targets),
        build_shared_alerts_sensor(tenants),
        *([review] if review is not None else []),
    ]
