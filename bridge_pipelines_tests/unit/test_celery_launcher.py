"""The Celery run launcher's health check: a run whose worker is gone is reported FAILED.

The Celery app is replaced by a stand-in answering what the result backend and the workers
would; the whole path (RabbitMQ, two workers, a SIGKILL) is
`bridge_pipelines_tests/e2e/test_celery_workers.py`.
"""

from dataclasses import dataclass, field
from typing import Any

import pytest
from dagster import DagsterRun
from dagster._core.launcher import WorkerStatus
from dagster_celery.tags import DAGSTER_CELERY_TASK_ID_TAG

from bridge_pipelines.runs.celery_launcher import BridgeCeleryRunLauncher

WORKER = "w1@host"


@dataclass
class _Result:
    state: str
    info: Any = None


@dataclass
class _Inspect:
    replies: dict[str, list[dict[str, str]]] | None

    def active(self) -> dict[str, list[dict[str, str]]] | None:
        return self.replies


@dataclass
class _App:
    """What the backend holds for the task, and what the workers answer (None: nobody)."""

    state: str
    replies: dict[str, list[dict[str, str]]] | None = None
    asked: list[list[str]] = field(default_factory=list)

    def AsyncResult(self, task_id: str) -> _Result:
        return _Result(self.state, {"pid": 7, "hostname": WORKER} if self.state == "STARTED" else 0)

    @property
    def control(self) -> "_App":
        return self

    def inspect(self, destination: list[str], timeout: float) -> _Inspect:
        self.asked.append(destination)
        return _Inspect(self.replies)


def _check(app: _App) -> WorkerStatus:
    launcher = BridgeCeleryRunLauncher(default_queue="q", broker="memory://", backend="rpc://")
    launcher.celery = app  # type: ignore[assignment]
    run = DagsterRun(job_name="job", run_id="r1", tags={DAGSTER_CELERY_TASK_ID_TAG: "task-1"})
    return launcher.check_run_worker_health(run).status


def test_a_run_on_a_worker_that_answers_with_it_is_running() -> None:
    app = _App("STARTED", {WORKER: [{"id": "task-1"}]})
    assert _check(app) == WorkerStatus.RUNNING
    assert app.asked == [[WORKER]]  # only the worker that took the run is asked


def test_a_run_whose_worker_does_not_answer_is_failed_after_asking_twice() -> None:
    app = _App("STARTED", None)
    assert _check(app) == WorkerStatus.FAILED
    assert len(app.asked) == 2


def test_a_run_its_worker_no_longer_executes_is_failed() -> None:
    assert _check(_App("STARTED", {WORKER: [{"id": "another-task"}]})) == WorkerStatus.FAILED


@pytest.mark.parametrize("state", ["SUCCESS", "FAILURE", "REVOKED"])
def test_a_task_that_ended_while_its_run_is_started_is_failed(state: str) -> None:
    """A redelivered copy that Dagster ignored ends SUCCESS: the run must not stay started."""
    assert _check(_App(state)) == WorkerStatus.FAILED


def test_a_task_not_yet_recorded_is_unknown_not_failed_by_us() -> None:
    assert _check(_App("PENDING")) == WorkerStatus.UNKNOWN
