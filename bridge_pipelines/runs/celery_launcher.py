"""dagster-celery's run launcher, made to notice a Celery worker that died holding a run.

`CeleryRunLauncher` runs each Dagster run as a Celery task inside a long-lived worker (the
code location imported once per worker, not once per run). Its health check trusts the task
state alone: a worker SIGKILLed mid-run never writes a final state, so the task stays
STARTED, run monitoring sees RUNNING for ever, the run holds its tenant's concurrency slot
(`bridge/tenant`, limit 1) and that tenant posts nothing again. With `task_acks_late` (so a
dead worker's run goes back to the queue instead of being lost) the redelivered copy runs on
another worker, which Dagster ignores as a duplicate ("Ignoring a duplicate run ...") and the
task ends SUCCESS while the run is still STARTED: stuck as well.

`BridgeCeleryRunLauncher.check_run_worker_health` answers FAILED in both cases, so run
monitoring (`max_resume_run_attempts: 0`) fails the run, the tenant's slot frees, and the
intake sensor asks again for the run's files and open postings (ledger leases and the ERP
lookup before any resend keep the repost exactly-once). It needs a result backend every
process can read (`db+postgresql://...`, the instance's PostgreSQL: no new service), because
the task's STARTED state carries the hostname of the worker that took it; the worker is then
asked over the broker which tasks it is executing.

Importing this module needs the `celery` extra (`dagster-celery`); nothing else in the
product imports it, so a deployment on Dagster's default launcher never does.
"""

from typing import Any

from celery import states
from dagster import DagsterRun
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus
from dagster_celery.launcher import CeleryRunLauncher
from dagster_celery.tags import DAGSTER_CELERY_TASK_ID_TAG

# A busy worker answers control messages from its main process (the run executes in a pool
# child), but on a loaded machine a reply can take seconds: ask twice before calling it gone.
REPLY_TIMEOUT_S = 5.0
ATTEMPTS = 2


class BridgeCeleryRunLauncher(CeleryRunLauncher):
    """`CeleryRunLauncher` whose health check fails runs whose worker is gone."""

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        """RUNNING only while the worker that took the run's task answers and still executes it.

        Run monitoring asks only about runs in STARTED, and re-reads the run before acting on
        anything but RUNNING/SUCCESS, so a run that finished meanwhile is left alone.
        """
        task_id = run.tags.get(DAGSTER_CELERY_TASK_ID_TAG)
        if not task_id:
            return CheckRunHealthResult(WorkerStatus.UNKNOWN, "no Celery task id on the run")
        result = self.celery.AsyncResult(task_id)
        state = result.state
        if state in states.READY_STATES:
            # The task's body returns only after the run is finished in Dagster, so a run still
            # STARTED means this execution ended without it: a redelivered duplicate that
            # Dagster ignored, or a pool process that died (WorkerLostError).
            return CheckRunHealthResult(
                WorkerStatus.FAILED,
                f"the Celery task ended ({state}) while the run was still started: "
                "the worker that executed the run is gone",
            )
        if state != states.STARTED:
            return CheckRunHealthResult(WorkerStatus.UNKNOWN, f"Celery task state {state}")
        info: Any = result.info
        hostname = info.get("hostname") if isinstance(info, dict) else None
        if not hostname:
            return CheckRunHealthResult(WorkerStatus.RUNNING)
        active = self._active_task_ids(str(hostname))
        if active is None:
            return CheckRunHealthResult(
                WorkerStatus.FAILED,
                f"Celery worker {hostname}, which took the run, does not answer",
            )
        if task_id in active:
            return CheckRunHealthResult(WorkerStatus.RUNNING)
        if self.celery.AsyncResult(task_id).state != states.STARTED:
            return CheckRunHealthResult(WorkerStatus.UNKNOWN, "the Celery task just ended")
        return CheckRunHealthResult(
            WorkerStatus.FAILED,
            f"Celery worker {hostname} answers but no longer executes the run's task",
        )

    def _active_task_ids(self, hostname: str) -> set[str] | None:
        """The ids of the tasks `hostname` is executing, or None when it does not answer."""
        for _ in range(ATTEMPTS):
            inspector = self.celery.control.inspect(destination=[hostname], timeout=REPLY_TIMEOUT_S)
            replies = inspector.active() or {}
            if hostname in replies:
                return {str(task.get("id")) for task in replies[hostname] or []}
        return None
