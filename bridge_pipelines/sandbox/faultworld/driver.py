"""One pass of the real pipeline in its own process, which a kill point may end with SIGKILL.

A pass does what the Dagster daemon does for a tenant, with the code location's definitions:
tick the tenant's sensor, launch each run it requests (the one implicit asset job, in process,
on the instance in `DAGSTER_HOME`), and tick again until nothing is left to do or the tick
budget runs out. Run keys are deduplicated per sensor as the daemon does. After a crash the
next pass first does what run monitoring does: a run still marked in progress whose process
is gone is reported failed.

Importing the product costs ~5 s, so passes are forked from a fork server that imported it
once (`PassRunner`); each child arms its kill point with `faultpoints.arm` and sets its own
environment, then behaves exactly as a fresh process would.
"""

import contextlib
import json
import multiprocessing
import multiprocessing.context
import os
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PRELOAD = [
    "bridge_pipelines.sandbox.faultworld.preload",
    "bridge_pipelines.sandbox.faultworld.driver",
]
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
KILLED = -9


@dataclass(frozen=True)
class PassSpec:
    """What one pass does.

    Attributes:
        env: `BRIDGE_*` and `DAGSTER_HOME` for the pass (the child sets them).
        log_path: the child's stdout and stderr go here.
        result_path: the child writes its `PassResult` here as JSON.
        fault_at: kill point armed in the child; `fault_nth`: the occurrence that kills.
        max_ticks: sensor ticks at most.
        tick_interval: seconds between ticks (the tenant's settle time must fit in two).
        recover: first report runs still marked in progress as failed (run monitoring).
        master_data: first run the ERP master-data export (uploads to Stampli's inbound).
        posting_days: instead of ticking, run the posting asset for these partitions (the
            race case: runs requested by hand beside the sensor's).
        scan_only: list the folders `max_ticks` times and record what settles, as the sensor
            does, but create no batch and launch no run (a listing that a run follows later).
    """

    env: dict[str, str]
    log_path: str
    result_path: str
    fault_at: str | None = None
    fault_nth: int = 1
    max_ticks: int = 12
    tick_interval: float = 0.6
    recover: bool = False
    master_data: bool = False
    posting_days: tuple[str, ...] = ()
    scan_only: bool = False


@dataclass
class PassResult:
    """What a pass did; `exitcode` is filled in by the parent (-9: killed)."""

    exitcode: int | None = None
    ticks: int = 0
    runs: int = 0
    failed_runs: int = 0
    step_failures: int = 0  # retried ones too: a failed step may have left leases behind
    recovered_runs: int = 0
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def killed(self) -> bool:
        return self.exitcode == KILLED


def run_pass(spec: PassSpec) -> None:
    """The child's body: set up like a fresh process, run, write the result."""
    log = os.open(spec.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    for name in [n for n in os.environ if n.startswith(("BRIDGE_", "DAGSTER_"))]:
        del os.environ[name]
    os.environ.update(spec.env)
    from bridge_pipelines import faultpoints

    faultpoints.arm(spec.fault_at, spec.fault_nth)
    result = PassResult()
    started = time.monotonic()
    try:
        _run(spec, result)
    except Exception:  # the pass itself broke: report it, the parent decides
        result.errors.append(traceback.format_exc())
    result.seconds = time.monotonic() - started
    Path(spec.result_path).write_text(json.dumps(asdict(result)))
    sys.stdout.flush()
    sys.stderr.flush()


def _run(spec: PassSpec, result: PassResult) -> None:
    import dagster as dg

    from bridge_pipelines.defs import build_defs
    from bridge_pipelines.defs.masterdata import master_data_keys
    from bridge_pipelines.intake.runtime import Runtime
    from bridge_pipelines.tenants.loader import load_tenants

    t0 = time.monotonic()
    tenants = load_tenants()
    defs = build_defs(tenants)
    job = defs.resolve_implicit_global_asset_job_def()
    instance = dg.DagsterInstance.get()
    ctx = Runtime.from_env()
    result.notes.append(f"setup {time.monotonic() - t0:.2f}s")
    if spec.recover:
        result.recovered_runs = _fail_dead_runs(instance, [t.id for t in tenants])
    if spec.master_data:
        for tenant in tenants:
            keys = master_data_keys(tenant)
            if keys:
                _execute(job, instance, result, keys, None, {"bridge/tenant": tenant.id})
    if spec.posting_days:
        from bridge_pipelines.defs.postings import posted_invoices_key

        for tenant in tenants:
            for day in spec.posting_days:
                tags = {"bridge/tenant": tenant.id}
                _execute(job, instance, result, [posted_invoices_key(tenant.id)], day, tags)
        return
    if spec.scan_only:
        from bridge_pipelines.intake.scan import scan_tenant

        for tick in range(spec.max_ticks):
            for tenant in tenants:
                with ctx.sftp(tenant) as client:
                    scan_tenant(tenant, client, ctx.ledger)
            result.ticks += 1
            if tick + 1 < spec.max_ticks:
                time.sleep(spec.tick_interval)
        return
    for _ in range(spec.max_ticks):
        t0 = time.monotonic()
        launched = sum(_tick(defs, job, tenant, instance, result) for tenant in tenants)
        result.ticks += 1
        result.notes.append(f"tick {result.ticks}: {time.monotonic() - t0:.2f}s, {launched} runs")
        if not launched and _settled(ctx, tenants):
            return
        time.sleep(spec.tick_interval)


def _settled(ctx: Any, tenants: list[Any]) -> bool:
    """No file waiting to settle or be taken, no posting open."""
    from bridge_pipelines.ledger.states import TERMINAL_FILE_STATES, PostingState

    open_states = {PostingState.PLANNED, PostingState.SENDING, PostingState.UNKNOWN}
    for tenant in tenants:
        if any(f.state not in TERMINAL_FILE_STATES for f in ctx.ledger.files(tenant.id)):
            return False
        if any(p.state in open_states for p in ctx.ledger.postings(tenant.id)):
            return False
    return True


def _tick(defs: Any, job: Any, tenant: Any, instance: Any, result: PassResult) -> int:
    import dagster as dg

    from bridge_pipelines.defs.resources import BridgeResource

    sensor = defs.resolve_sensor_def(f"{tenant.id}_stampli_files")
    context = dg.build_sensor_context(
        instance=instance,
        resources={"bridge": BridgeResource()},
        sensor_name=sensor.name,
        definitions=defs,
    )
    data = sensor.evaluate_tick(context)
    result.notes.extend([data.skip_message] if data.skip_message else [])
    launched = 0
    for request in data.run_requests or []:
        tags = dict(request.tags)
        if request.run_key:
            seen = instance.get_runs_count(
                dg.RunsFilter(
                    tags={"dagster/sensor_name": sensor.name, "dagster/run_key": request.run_key}
                )
            )
            if seen:
                continue  # the daemon launches a run key once per sensor
            tags |= {"dagster/sensor_name": sensor.name, "dagster/run_key": request.run_key}
        _execute(job, instance, result, request.asset_selection, request.partition_key, tags)
        launched += 1
    return launched


def _execute(
    job: Any,
    instance: Any,
    result: PassResult,
    selection: Any,
    partition: str | None,
    tags: dict[str, str],
) -> None:
    outcome = job.execute_in_process(
        asset_selection=selection,
        instance=instance,
        partition_key=partition,
        tags=tags,
        run_config=QUIET_RUN_CONFIG,
        raise_on_error=False,
    )
    result.runs += 1
    result.failed_runs += 0 if outcome.success else 1
    for event in outcome.all_events:
        if event.event_type_value in ("STEP_FAILURE", "STEP_UP_FOR_RETRY"):
            result.step_failures += 1
            error = getattr(event.event_specific_data, "error", None)
            result.errors.append(error.to_string() if error else event.event_type_value)


def _fail_dead_runs(instance: Any, tenant_ids: list[str]) -> int:
    """Run monitoring: runs left in progress by a killed process are reported failed."""
    import dagster as dg

    from bridge_pipelines.defs.sensors import ACTIVE_STATUSES

    count = 0
    for tenant_id in tenant_ids:
        records = instance.get_run_records(
            filters=dg.RunsFilter(tags={"bridge/tenant": tenant_id}, statuses=ACTIVE_STATUSES)
        )
        for record in records:
            instance.report_run_failed(record.dagster_run, "the run's process died (SIGKILL)")
            count += 1
    return count


class PassRunner:
    """Runs passes in processes forked from a fork server that imported the product once."""

    def __init__(self) -> None:
        self._ctx: multiprocessing.context.ForkServerContext = multiprocessing.get_context(
            "forkserver"
        )
        self._ctx.set_forkserver_preload(PRELOAD)
        self._running: list[multiprocessing.process.BaseProcess] = []

    def start(self, spec: PassSpec) -> multiprocessing.process.BaseProcess:
        """Start a pass in the background (the race and restart cases)."""
        with contextlib.suppress(FileNotFoundError):
            Path(spec.result_path).unlink()
        process = self._ctx.Process(target=run_pass, args=(spec,), daemon=True)
        process.start()
        self._running.append(process)
        return process

    def wait(
        self, process: multiprocessing.process.BaseProcess, spec: PassSpec, timeout: float
    ) -> PassResult:
        """Wait for a pass; one still running after `timeout` is killed and reported so."""
        process.join(timeout)
        if process.is_alive():
            process.kill()
            process.join(10)
            result = PassResult(exitcode=KILLED, errors=[f"pass still running after {timeout}s"])
            self._running.remove(process)
            return result
        self._running.remove(process)
        path = Path(spec.result_path)
        result = PassResult()
        if path.exists():
            data = json.loads(path.read_text())
            result = PassResult(**data)
        result.exitcode = process.exitcode
        return result

    def run(self, spec: PassSpec, timeout: float = 120.0) -> PassResult:
        """Run a pass to its end (or its death)."""
        return self.wait(self.start(spec), spec, timeout)

    def close(self) -> None:
        """Kill passes still running (a failed test)."""
        for process in self._running:
            if process.is_alive():
                process.kill()
                process.join(5)
        self._running.clear()
