"""Alerts: failed runs, long waits, `reconciled`, unreachable SFTP or ERP, a slow ERP.

A failed run, invoices waiting too long, `reconciled` failing, a tenant whose SFTP or ERP
stays unreachable, and an ERP posting rate far below its normal.

Each alert names the tenant, what, how many, and the command or UI page to act on, and goes
to the tenant's routes (`alerts:` in its tenant file), else the machine's (`defs.notify`).

- `bridge_run_failure_alerts`: a run-failure sensor over every job of the code location; the
  tenant comes from the run's `bridge/*` tags (a broken tenant file's placeholder included).
- `<tenant>_alerts`: every minute, the tenant's standing problems; each is sent once (the
  sensor's cursor remembers what was said) and again only when it changes.
"""

import json
from collections.abc import Iterator
from datetime import timedelta
from functools import lru_cache
from typing import Any

import dagster as dg

from bridge_pipelines.defs.notify import Alert, AlertSettings, route_for, send
from bridge_pipelines.defs.postings import posted_invoices_key
from bridge_pipelines.defs.reconcile import RECONCILED_CHECK
from bridge_pipelines.defs.resources import BridgeResource
from bridge_pipelines.defs.sensors import LISTINGS, clock
from bridge_pipelines.errors import BridgeError
from bridge_pipelines.intake.runtime import Runtime
from bridge_pipelines.ledger.states import PostingState
from bridge_pipelines.posting.review import queue_rows
from bridge_pipelines.redaction import redact
from bridge_pipelines.settings import bridge_env
from bridge_pipelines.tenants.loader import inspect_tenants
from bridge_pipelines.tenants.models import TenantConfig

ALERTS_INTERVAL_S = 60
TENANT_TAGS = ("bridge/tenant", "bridge/tenant-of", "bridge/review")
RATE_WINDOW = timedelta(hours=1)
RATE_HISTORY = timedelta(days=7)
RATE_MIN_NORMAL = 5.0


def _tenant(tenant_id: str | None) -> TenantConfig | None:
    if not tenant_id:
        return None
    return next((t for t in inspect_tenants().tenants if t.id == tenant_id), None)


def _deliver(runtime: Runtime, alert: Alert, tenant: TenantConfig | None) -> list[str]:
    return send(alert, route_for(tenant, runtime.keyring if tenant else None))


@lru_cache(maxsize=4)
def _ui_url(env: tuple[tuple[str, str], ...]) -> str:
    # Read once per environment, not per tenant and tick: settings cost milliseconds of CPU.
    return AlertSettings().ui_url.rstrip("/")


def run_failure_alert(run: dg.DagsterRun, message: str) -> Alert:
    """What a failed run tells the tenant's people."""
    ui = AlertSettings().ui_url.rstrip("/")
    tenant_id = next((run.tags[t] for t in TENANT_TAGS if t in run.tags), "(no tenant)")
    what = run.tags.get("bridge/what") or (
        "a tenant file that does not load" if run.tags.get("bridge/config") else run.job_name
    )
    partition = run.tags.get("dagster/partition")
    return Alert(
        tenant=tenant_id,
        what=f"run failed: {what}" + (f" for {partition}" if partition else ""),
        count=1,
        detail=redact(" ".join(message.split()))[:600],
        act=f"open {ui}/runs/{run.run_id} ; `bridge status {tenant_id}`",
        links=(f"{ui}/runs/{run.run_id}",),
    )


@dg.run_failure_sensor(
    name="bridge_run_failure_alerts",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Sends each failed run to its tenant's Slack webhook and e-mail (tenant file "
    "`alerts:`), else the machine's (`BRIDGE_ALERTS_*`).",
)
def run_failure_alerts(context: dg.RunFailureSensorContext) -> None:
    """One alert per failed run, routed by its tenant tag."""
    run = context.dagster_run
    alert = run_failure_alert(run, context.failure_event.message or "")
    runtime = BridgeResource().intake()
    delivered = _deliver(runtime, alert, _tenant(alert.tenant))
    context.log.info("run %s failure alert: %s", run.run_id, ", ".join(delivered) or "no route")


def tenant_findings(
    runtime: Runtime,
    instance: dg.DagsterInstance,
    tenant: TenantConfig,
    sftp_failures: int = 0,
    sftp_error: str = "",
) -> list[tuple[str, str, Alert]]:
    """Every alert-worthy condition of the tenant now: (kind, key, alert)."""
    ui = _ui_url(bridge_env())
    found: list[tuple[str, str, Alert]] = []
    settings = tenant.alerts
    now = runtime.ledger.database_now()
    # Invoices waiting longer than the threshold.
    limit = now - timedelta(minutes=settings.held_after_minutes)
    old = [r for r in queue_rows(runtime, tenant.id) if r.since <= limit]
    if old:
        oldest = min(r.since for r in old)
        names = "; ".join(f"#{r.posting} {r.invoice_name}: {r.reason}" for r in old[:5])
        found.append(
            (
                "held",
                ",".join(str(r.posting) for r in old),
                Alert(
                    tenant=tenant.id,
                    what=f"invoices waiting for review longer than "
                    f"{settings.held_after_minutes} min (since {oldest:%Y-%m-%d %H:%M} UTC)",
                    count=len(old),
                    detail=names,
                    act=f"`bridge review list {tenant.id}`, or launch `release_posting` / "
                    f"`dismiss_posting` from {ui}/assets/{tenant.id}/review/review_queue",
                    links=(f"{ui}/assets/{tenant.id}/review/review_queue",),
                ),
            )
        )
    if tenant.erp.kind != "none":
        found.extend(_reconciled(instance, tenant, ui))
        found.extend(_posting_rate(runtime, tenant, now, ui))
    found.extend(_unreachable(instance, tenant, ui, sftp_failures, sftp_error))
    return found


def _reconciled(
    instance: dg.DagsterInstance, tenant: TenantConfig, ui: str
) -> Iterator[tuple[str, str, Alert]]:
    key = dg.AssetCheckKey(posted_invoices_key(tenant.id), RECONCILED_CHECK)
    records = instance.event_log_storage.get_asset_check_execution_history(key, limit=1)
    if not records or records[0].event is None or records[0].event.dagster_event is None:
        return
    evaluation = records[0].event.dagster_event.event_specific_data
    if not isinstance(evaluation, dg.AssetCheckEvaluation) or evaluation.passed:
        return
    if evaluation.severity != dg.AssetCheckSeverity.ERROR:
        return  # WARN: invoices wait for review, alerted as such
    partition = getattr(evaluation, "partition", None) or ""
    checks = evaluation.metadata.get("checks")
    statuses = checks.value if checks is not None and isinstance(checks.value, dict) else {}
    failing = sum(1 for c in statuses.values() if isinstance(c, dict) and c.get("status") == "fail")
    yield (
        "reconciled",
        str(records[0].id),
        Alert(
            tenant=tenant.id,
            what=f"`reconciled` fails{' for ' + partition if partition else ''}",
            count=failing or 1,
            act=f"`bridge verify {tenant.id}" + (f" --day {partition}`" if partition else "`"),
            links=(f"{ui}/assets/{tenant.id}/erp/posted_invoices?view=checks",),
        ),
    )


def sftp_reachable(runtime: Runtime, tenant: TenantConfig) -> str | None:
    """None when the tenant's SFTP server lists its invoices folder, else why not."""
    try:
        with runtime.sftp(tenant) as client:
            client.list_files(tenant.folders.invoices)
    except (BridgeError, OSError) as exc:
        return redact(" ".join(str(exc).split()))[:400] or type(exc).__name__
    return None


def _unreachable(
    instance: dg.DagsterInstance, tenant: TenantConfig, ui: str, sftp_failures: int, error: str
) -> Iterator[tuple[str, str, Alert]]:
    n = tenant.alerts.unreachable_ticks
    if sftp_failures >= n:
        yield (
            "sftp",
            "down",
            Alert(
                tenant=tenant.id,
                what=f"SFTP {tenant.sftp.host}:{tenant.sftp.port} unreachable for "
                f"{sftp_failures} ticks",
                count=sftp_failures,
                detail=error,
                act=f"`bridge ping {tenant.id}` ; {ui}/automation",
            ),
        )
    runs = instance.get_run_records(
        filters=dg.RunsFilter(tags={"bridge/tenant": tenant.id}), limit=n
    )
    failed = [r for r in runs if r.dagster_run.status == dg.DagsterRunStatus.FAILURE]
    if len(runs) >= n and len(failed) == len(runs):
        yield (
            "runs",
            runs[0].dagster_run.run_id,
            Alert(
                tenant=tenant.id,
                what="the last runs all failed (ERP or SFTP unreachable?)",
                count=len(failed),
                act=f"`bridge ping {tenant.id}` ; {ui}/runs?q[]=tag:bridge/tenant={tenant.id}",
            ),
        )


def _posting_rate(
    runtime: Runtime, tenant: TenantConfig, now: Any, ui: str
) -> Iterator[tuple[str, str, Alert]]:
    posted = [
        p.posted_at
        for p in runtime.ledger.postings(tenant.id, states=[PostingState.POSTED])
        if p.posted_at is not None and p.posted_at >= now - RATE_HISTORY
    ]
    recent = sum(1 for at in posted if at >= now - RATE_WINDOW)
    history_hours = (RATE_HISTORY - RATE_WINDOW) / RATE_WINDOW
    normal = (len(posted) - recent) / history_hours
    if normal >= RATE_MIN_NORMAL and recent < tenant.alerts.posting_rate_floor * normal:
        hour = now.strftime("%Y-%m-%dT%H")
        yield (
            "rate",
            hour,
            Alert(
                tenant=tenant.id,
                what=f"ERP postings far below normal: {recent} in the last hour, normally "
                f"{normal:.1f}",
                count=recent,
                act=f"`bridge status {tenant.id}` ; `bridge review list {tenant.id}` ; "
                f"{ui}/assets/{tenant.id}/erp/posted_invoices",
            ),
        )


def sftp_error(runtime: Runtime, tenant: TenantConfig) -> str | None:
    """Why the tenant's SFTP server failed its last listing, or None when it answered.

    The intake sensor's listing of the last minute when there is one (`LISTINGS`): listing
    again for the alert would double the SFTP cost of an idle tenant.
    """
    listing = LISTINGS.get(tenant.id)
    if listing is not None and clock() - listing.at <= ALERTS_INTERVAL_S:
        return listing.error
    return sftp_reachable(runtime, tenant)


def alert_tenant(
    runtime: Runtime,
    instance: dg.DagsterInstance,
    tenant: TenantConfig,
    state: dict[str, Any],
) -> tuple[dict[str, Any], list[str]]:
    """One alerts tick of a tenant: its new state (what was said) and what was sent now."""
    said: dict[str, str] = state.get("said", {})
    error = sftp_error(runtime, tenant)
    failures = int(state.get("sftp_failures", 0)) + 1 if error else 0
    now_said: dict[str, str] = {}
    sent: list[str] = []
    for kind, key, alert in tenant_findings(runtime, instance, tenant, failures, error or ""):
        now_said[kind] = key
        if said.get(kind) == key:
            continue
        channels = _deliver(runtime, alert, tenant)
        sent.append(f"{alert.what} ({alert.count}) -> {', '.join(channels) or 'no route'}")
    return {"said": now_said, "sftp_failures": failures}, sent


def build_tenant_alerts_sensor(tenant: TenantConfig) -> dg.SensorDefinition:
    """The tenant's standing problems, each alerted once (and again when it changes)."""

    @dg.sensor(
        name=f"{tenant.id}_alerts",
        minimum_interval_seconds=ALERTS_INTERVAL_S,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Alerts {tenant.name}'s people: invoices waiting for review longer than "
        f"{tenant.alerts.held_after_minutes} min, `reconciled` failing, SFTP unreachable for "
        f"{tenant.alerts.unreachable_ticks} ticks or as many failed runs in a row (ERP), "
        "postings far below normal.",
    )
    def _sensor(context: dg.SensorEvaluationContext, bridge: BridgeResource) -> dg.SkipReason:
        state: dict[str, Any] = json.loads(context.cursor) if context.cursor else {}
        state, sent = alert_tenant(bridge.intake(), context.instance, tenant, state)
        context.update_cursor(json.dumps(state, sort_keys=True))
        return dg.SkipReason("; ".join(sent) if sent else "nothing new to alert")

    return _sensor
