"""The tenant sensor beside the runs it asked for: nothing new means no run, a tenant's active
run makes new files wait, and a batch whose run ended without its files is asked for again."""

import dagster as dg
import pytest

from bridge_pipelines.defs.sensors import MAX_BATCH_RUNS
from bridge_pipelines.ledger.repository import batch_id_for
from bridge_pipelines.ledger.states import FileState
from bridge_pipelines_tests.integration.sensors.conftest import (
    DAY_SELECTION,
    EXPORT,
    TENANT,
    SensorWorld,
)

pytestmark = pytest.mark.e2e

NAME = "approved_invoices_20260504_101500.csv"
FAILURE = dg.DagsterRunStatus.FAILURE


def _requested(world: SensorWorld, name: str = NAME) -> dg.RunRequest:
    """Drop a file and tick until its batch is requested."""
    world.drop(name, EXPORT)
    world.tick()
    world.settle()
    [request] = world.tick().requests
    return request


def _bridge_tags(request: dg.RunRequest) -> dict[str, str]:
    return {k: v for k, v in request.tags.items() if k.startswith("bridge/")}


def test_a_tick_with_nothing_new_requests_no_run_and_leaves_the_cursor_alone(
    world: SensorWorld,
) -> None:
    request = _requested(world)
    world.add_run(_bridge_tags(request))  # the daemon launched it; it is running
    for cursor in (None, "a cursor an older version saved"):
        tick = world.tick(cursor=cursor)
        assert tick.requests == []
        assert tick.skip_message == "listed 1 files; none newly stable"
        assert tick.cursor == cursor, "the sensor keeps no cursor: the ledger decides"
    row = world.files()[NAME]
    assert (row.state, row.batch_id) == (FileState.STABLE, request.run_key)


def test_new_files_wait_while_a_run_of_the_tenant_is_active(world: SensorWorld) -> None:
    world.add_run({"bridge/tenant": "globex"})  # another tenant's run holds nobody back
    active = world.add_run({"bridge/tenant": TENANT, "bridge/batch": "b-earlier"})
    world.drop(NAME, EXPORT)
    world.tick()
    world.settle()
    tick = world.tick()
    assert tick.requests == []
    assert tick.skip_message == "1 files wait for the tenant's active run"
    row = world.files()[NAME]
    assert (row.state, row.batch_id) == (FileState.STABLE, None)

    world.instance.report_run_failed(active)
    [request] = world.tick().requests
    row = world.files()[NAME]
    assert request.run_key == row.batch_id == batch_id_for(TENANT, [row.id])


def test_a_stranded_batch_is_resumed_under_a_numbered_run_key(world: SensorWorld) -> None:
    first = _requested(world)
    batch = first.run_key
    assert batch is not None
    for attempt in (1, 2):
        # The run for the batch died without taking the file (run monitoring failed it).
        world.add_run(_bridge_tags(first), status=FAILURE)
        [resumed] = world.tick().requests
        assert resumed.run_key == f"{batch}:resume:{attempt}"
        assert _bridge_tags(resumed) == {
            "bridge/tenant": TENANT,
            "bridge/batch": batch,
            "bridge/resume": "files",
            "bridge/what": "resume 1 file(s) left by an earlier run",
        }
        assert resumed.partition_key == first.partition_key
        assert set(resumed.asset_selection or []) == DAY_SELECTION
    assert world.files()[NAME].batch_id == batch, "resumed, never batched again"


def test_a_batch_that_failed_every_allowed_run_is_left_for_an_operator(
    world: SensorWorld,
) -> None:
    first = _requested(world)
    for _ in range(MAX_BATCH_RUNS):
        world.add_run(_bridge_tags(first), status=FAILURE)
    tick = world.tick()
    assert tick.requests == []
    assert tick.skip_message == (
        f"batch {first.run_key}: 1 files still pending after {MAX_BATCH_RUNS} runs; "
        "left for an operator (`bridge status`)"
    )
    assert world.files()[NAME].state == FileState.STABLE


def test_a_batch_left_for_an_operator_does_not_stop_another_from_resuming(
    world: SensorWorld,
) -> None:
    # Found by this suite: the tick said "left for an operator" and asked for a run at once,
    # which Dagster refuses (one SkipReason or RunRequests), so nothing was ever resumed.
    first = _requested(world)
    for _ in range(MAX_BATCH_RUNS):
        world.add_run(_bridge_tags(first), status=FAILURE)
    second = _requested(world, "approved_invoices_20260504_111500.csv")
    world.add_run(_bridge_tags(second), status=FAILURE)
    tick = world.tick()
    [resumed] = tick.requests
    assert resumed.run_key == f"{second.run_key}:resume:1"
    assert tick.skip_message is None
    assert world.files()[NAME].state == FileState.STABLE  # the exhausted batch still waits
