"""One sensor per tenant: list its folders, let the ledger decide what is stable, request runs.

The sensor never downloads or posts. Its run key is the ledger's batch id, so a sensor that
fires twice (Dagster #26404) or a cursor saved late (#6941) cannot take a file twice.

It also resumes what a run left behind (P3), once no run of the tenant is active: files of a
batch whose run ended without taking them (the process was killed, the SFTP connection
dropped, a file was still changing) are requested again under a new run key, at most
`MAX_BATCH_RUNS` runs per batch; postings still open once their leases have run out (a worker
died mid-posting, a lookup sent one back to `planned`) get a posting run, with an
exponential backoff over the recent posting runs (an unreachable ERP leaves them planned run
after run: `_postings_backoff`). Without this a crashed run's files and postings waited for
an operator's replay.
"""

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import dagster as dg

from bridge_pipelines.defs.payments import posted_payments_key
from bridge_pipelines.defs.postings import posted_invoices_key
from bridge_pipelines.defs.resources import BridgeResource
from bridge_pipelines.errors import BridgeError
from bridge_pipelines.intake.runtime import Runtime
from bridge_pipelines.intake.scan import ScanResult, group_by_day, scan_tenant
from bridge_pipelines.ledger.models import FileRow
from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.ledger.states import PostingState
from bridge_pipelines.redaction import redact
from bridge_pipelines.tenants.models import MASTER_KINDS, TenantConfig

# Runs of one batch, the first included, before its files are left for an operator.
MAX_BATCH_RUNS = 5
# Posting runs for postings left open: 1 min after one such run, doubling up to an hour.
POSTINGS_BACKOFF_BASE = 60.0
POSTINGS_BACKOFF_MAX = 3600.0
POSTINGS_BACKOFF_WINDOW = timedelta(days=1)
_clock = time.time  # the instant backoffs are judged at (tests move it forward)
OPEN_POSTINGS = (PostingState.PLANNED, PostingState.SENDING, PostingState.UNKNOWN)


def clock() -> float:
    """The sensors' now (`_clock`, which tests move forward)."""
    return _clock()


@dataclass(frozen=True)
class IntakeTargets:
    """What a tenant's intake runs materialize; the same for both sensor layouts."""

    tenant: TenantConfig
    assets: list[dg.AssetsDefinition]
    transactional_keys: list[dg.AssetKey]
    master_keys: list[dg.AssetKey]
    # What a run that only resumes open postings materializes (nothing without an ERP).
    posting_keys: list[dg.AssetKey]


def intake_targets(
    tenant: TenantConfig,
    *,
    transactional: list[dg.AssetsDefinition],
    master: list[dg.AssetsDefinition],
) -> IntakeTargets:
    """The tenant's run targets: a day's batch, a master-data batch, a postings resume."""
    transactional_keys = [a.key for a in transactional]
    return IntakeTargets(
        tenant=tenant,
        assets=[*transactional, *master],
        transactional_keys=transactional_keys,
        master_keys=[a.key for a in master],
        posting_keys=[
            k
            for k in transactional_keys
            if k in (posted_invoices_key(tenant.id), posted_payments_key(tenant.id))
        ],
    )


@dataclass(frozen=True)
class Listing:
    """The last SFTP listing of a tenant in this process: when, and why it failed (or None)."""

    at: float
    error: str | None


# Written by the intake sensors, read by the alerts sensors: one listing per tenant and tick
# serves both (the code server evaluates every sensor of the location in one process).
LISTINGS: dict[str, Listing] = {}


def list_tenant(runtime: Runtime, tenant: TenantConfig) -> ScanResult:
    """List the tenant's folders into the ledger; the outcome is kept in `LISTINGS`."""
    try:
        with runtime.sftp(tenant) as client:
            result = scan_tenant(tenant, client, runtime.ledger)
    except (BridgeError, OSError) as exc:
        LISTINGS[tenant.id] = Listing(clock(), redact(" ".join(str(exc).split()))[:400])
        raise
    LISTINGS[tenant.id] = Listing(clock(), None)
    return result


@dataclass
class TenantTick:
    """One tenant's share of a tick: run requests, else why none, and warnings to log."""

    requests: list[dg.RunRequest] = field(default_factory=list)
    skip: str = ""
    warnings: list[str] = field(default_factory=list)


def evaluate_tenant(
    instance: dg.DagsterInstance, runtime: Runtime, targets: IntakeTargets, result: ScanResult
) -> TenantTick:
    """After the listing: batch what is newly stable, or resume what an earlier run left."""
    tenant = targets.tenant
    ledger = runtime.ledger
    pending = ledger.pending_files(tenant.id)
    # Files stable but not yet in a batch: new ones, and any left while a run was active.
    waiting = [row for row in pending if row.batch_id is None]
    tick = TenantTick()
    if waiting and _tenant_run_active(instance, tenant.id):
        # One run per tenant per cycle: the active run takes whatever is pending for its
        # day; what is left gets a batch on a later tick.
        tick.skip = f"{len(waiting)} files wait for the tenant's active run"
        return tick
    master_files = [row for row in waiting if row.kind in MASTER_KINDS]
    if master_files:
        batch_id = ledger.create_batch(tenant.id, [row.id for row in master_files])
        tick.requests.append(
            dg.RunRequest(
                run_key=batch_id,
                asset_selection=targets.master_keys,
                tags={
                    "bridge/tenant": tenant.id,
                    "bridge/batch": batch_id,
                    **_what(f"take {len(master_files)} master-data file(s)", master_files),
                },
            )
        )
    day_files = [row for row in waiting if row.kind not in MASTER_KINDS]
    for day, rows in sorted(group_by_day(day_files).items()):
        batch_id = ledger.create_batch(tenant.id, [row.id for row in rows])
        tick.requests.append(
            dg.RunRequest(
                run_key=batch_id,
                asset_selection=targets.transactional_keys,
                partition_key=day.isoformat(),
                tags={
                    "bridge/tenant": tenant.id,
                    "bridge/batch": batch_id,
                    **_what(f"take {len(rows)} file(s) of {day} and post them", rows),
                },
            )
        )
    if not tick.requests:
        stranded = [row for row in pending if row.batch_id is not None]
        tick.requests.extend(
            _resumed(
                instance, ledger, tenant, stranded, targets.master_keys,
                targets.transactional_keys, targets.posting_keys, tick.warnings,
            )
        )  # fmt: skip
    if tick.warnings and not tick.requests:
        tick.skip = "; ".join(tick.warnings)
    elif not tick.requests:
        tick.skip = f"listed {result.listed} files; none newly stable" + (
            f"; refused names: {result.quarantined_names}" if result.quarantined_names else ""
        )
    return tick


def build_intake_sensor(targets: IntakeTargets) -> dg.SensorDefinition:
    """The tenant's watcher; it requests intake runs and never touches file contents."""
    tenant = targets.tenant

    @dg.sensor(
        name=f"{tenant.id}_stampli_files",
        asset_selection=dg.AssetSelection.assets(*targets.assets),
        minimum_interval_seconds=tenant.schedules.sensor_interval_s,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            f"Lists {tenant.name}'s Stampli folders; a file is taken once its size and mtime are "
            f"unchanged for {tenant.sftp.settle_seconds:g} s. Requests one run per batch of "
            "newly stable files (run key = ledger batch id)."
        ),
    )
    def _sensor(
        context: dg.SensorEvaluationContext, bridge: BridgeResource
    ) -> Iterator[dg.RunRequest | dg.SkipReason]:
        runtime = bridge.intake()
        result = list_tenant(runtime, tenant)
        tick = evaluate_tenant(context.instance, runtime, targets, result)
        yield from tick.requests
        for note in tick.warnings:
            context.log.warning(note)
        if not tick.requests:
            # One SkipReason or some RunRequests, never both: Dagster fails a tick that mixes.
            yield dg.SkipReason(tick.skip)

    return _sensor


def _what(what: str, rows: list[FileRow]) -> dict[str, str]:
    """Tags that say what a run does, and its file when it takes one (run list filters)."""
    tags = {"bridge/what": what}
    if len(rows) == 1:
        tags["bridge/file"] = rows[0].name[:200]
    return tags


ACTIVE_STATUSES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def _tenant_run_active(instance: dg.DagsterInstance, tenant_id: str) -> bool:
    records = instance.get_run_records(
        filters=dg.RunsFilter(tags={"bridge/tenant": tenant_id}, statuses=ACTIVE_STATUSES),
        limit=1,
    )
    return bool(records)


def _runs_tagged(instance: dg.DagsterInstance, tags: dict[str, str]) -> int:
    return instance.get_runs_count(dg.RunsFilter(tags=tags))


def _postings_backoff(instance: dg.DagsterInstance, tags: dict[str, str]) -> float | None:
    """Seconds still to wait before another posting run, or None to ask now.

    A posting run an unreachable ERP fails, or ends with the postings still `planned`, would
    otherwise be asked for again every tick. Each posting run the sensor asked for in the last
    `POSTINGS_BACKOFF_WINDOW` doubles the wait after the newest one ended, from
    `POSTINGS_BACKOFF_BASE` up to `POSTINGS_BACKOFF_MAX`.
    """
    now = _clock()
    since = datetime.fromtimestamp(now - POSTINGS_BACKOFF_WINDOW.total_seconds(), UTC)
    recent = instance.get_run_records(
        filters=dg.RunsFilter(tags=tags, created_after=since), limit=64
    )
    if not recent:
        return None
    newest = max(r.end_time or r.update_timestamp.timestamp() for r in recent)
    wait = min(POSTINGS_BACKOFF_BASE * 2 ** (len(recent) - 1), POSTINGS_BACKOFF_MAX)
    left = newest + wait - now
    return left if left > 0 else None


def _resumed(
    instance: dg.DagsterInstance,
    ledger: Ledger,
    tenant: TenantConfig,
    stranded: list[FileRow],
    master_keys: list[dg.AssetKey],
    transactional_keys: list[dg.AssetKey],
    posting_keys: list[dg.AssetKey],
    given_up: list[str],
) -> Iterator[dg.RunRequest]:
    """Runs for work an earlier run left behind; nothing while a run of the tenant is active.

    Run keys count the runs already made for the same work, so a tick evaluated twice asks
    for the same key (deduplicated) and a later tick, after that run ended, for a new one.
    A batch that already had `MAX_BATCH_RUNS` runs is left for an operator: said in
    `given_up`, while the other batches and open postings are still resumed.
    """
    open_postings: list[int] = []
    if posting_keys:
        postings = ledger.postings(tenant.id, states=OPEN_POSTINGS)
        if postings:
            now = ledger.database_now()
            open_postings = [
                p.record_id
                for p in postings
                if p.state == PostingState.PLANNED or p.lease_until is None or p.lease_until < now
            ]
    failed_day = None if open_postings else _failed_posting_day(instance, tenant.id, posting_keys)
    if not stranded and not open_postings and failed_day is None:
        return
    if _tenant_run_active(instance, tenant.id):
        return
    batches: dict[str, list[FileRow]] = {}
    for row in stranded:
        assert row.batch_id is not None
        batches.setdefault(row.batch_id, []).append(row)
    resumed_days = set()
    for batch_id, rows in sorted(batches.items()):
        runs = _runs_tagged(instance, {"bridge/batch": batch_id})
        if runs >= MAX_BATCH_RUNS:
            given_up.append(
                f"batch {batch_id}: {len(rows)} files still pending after {runs} runs; "
                "left for an operator (`bridge status`)"
            )
            continue
        master = rows[0].kind in MASTER_KINDS
        day = None if master else rows[0].partition_day
        resumed_days.add(day)
        yield dg.RunRequest(
            run_key=f"{batch_id}:resume:{runs}",
            asset_selection=master_keys if master else transactional_keys,
            partition_key=day.isoformat() if day else None,
            tags={
                "bridge/tenant": tenant.id,
                "bridge/batch": batch_id,
                "bridge/resume": "files",
                "bridge/what": f"resume {len(rows)} file(s) left by an earlier run",
            },
        )
    if (open_postings or failed_day) and not resumed_days - {None}:
        # Any day's posting run takes every open posting of the tenant: the oldest one's day.
        # With none open, the day whose posting run failed before planning (a configuration
        # error: no retry by Dagster, the alert sent) is asked again, under the same backoff,
        # so the day posts once the operator has fixed the tenant file.
        day = ledger.get_record(min(open_postings)).partition_day if open_postings else failed_day
        if day is None:
            return
        tags = {"bridge/tenant": tenant.id, "bridge/resume": "postings"}
        wait = _postings_backoff(instance, tags)
        if wait is not None:
            given_up.append(
                f"{len(open_postings)} open postings: the last posting runs left them open "
                f"(the ERP unreachable?); the next in {wait:.0f}s"
            )
            return
        runs = _runs_tagged(instance, tags)
        yield dg.RunRequest(
            run_key=f"{tenant.id}:postings:resume:{runs}",
            asset_selection=posting_keys,
            partition_key=day.isoformat(),
            tags={
                **tags,
                "bridge/what": f"post {len(open_postings)} open posting(s)"
                if open_postings
                else f"post {day} again after its posting run failed",
            },
        )


def _failed_posting_day(
    instance: dg.DagsterInstance, tenant_id: str, posting_keys: list[dg.AssetKey]
) -> date | None:
    """The partition of the tenant's newest run when that run failed while posting, else None."""
    if not posting_keys:
        return None
    records = instance.get_run_records(
        filters=dg.RunsFilter(tags={"bridge/tenant": tenant_id}), limit=1
    )
    if not records:
        return None
    run = records[0].dagster_run
    if run.status != dg.DagsterRunStatus.FAILURE:
        return None
    if not set(run.asset_selection or ()) & set(posting_keys):
        return None
    partition = run.tags.get("dagster/partition")
    try:
        return date.fromisoformat(partition) if partition else None
    except ValueError:
        return None
