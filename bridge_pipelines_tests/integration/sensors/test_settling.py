"""The tenant sensor from its first tick until a file is settled: only a file that stopped
changing for the settle interval is batched, and its run key is the ledger's batch id."""

from datetime import datetime

import pytest

from bridge_pipelines.ledger.repository import batch_id_for
from bridge_pipelines.ledger.states import FileState
from bridge_pipelines_tests.integration.sensors.conftest import (
    DAY_SELECTION,
    EXPORT,
    SENSOR,
    TENANT,
    SensorWorld,
)

pytestmark = pytest.mark.e2e

NAME = "approved_invoices_20260504_101500.csv"


def test_first_tick_without_a_cursor_lists_and_requests_nothing(world: SensorWorld) -> None:
    tick = world.tick(cursor=None)
    assert tick.requests == []
    assert tick.skip_message == "listed 0 files; none newly stable"
    assert tick.cursor is None, "the ledger, not a cursor, holds what was seen"
    assert world.files() == {}


def test_a_file_seen_once_is_recorded_but_not_taken(world: SensorWorld) -> None:
    world.drop(NAME, EXPORT)
    tick = world.tick()
    assert tick.requests == []
    assert tick.skip_message == "listed 1 files; none newly stable"
    row = world.files()[NAME]
    assert (row.state, row.size, row.batch_id, row.partition_day) == (
        FileState.SEEN,
        len(EXPORT),
        None,
        None,
    )
    # Listed again at once: still inside the settle interval.
    assert world.tick().requests == []
    assert world.files()[NAME].state == FileState.SEEN


def test_a_file_unchanged_for_the_settle_interval_is_batched_and_requested(
    world: SensorWorld,
) -> None:
    world.drop(NAME, EXPORT)
    world.tick()
    world.settle()
    tick = world.tick()
    today = datetime.now(world.tenant.zone).date()

    row = world.files()[NAME]
    assert row.state == FileState.STABLE
    assert row.partition_day == today, "the day of the listing in the tenant's zone"
    assert row.batch_id == batch_id_for(TENANT, [row.id])
    assert tick.skip_message is None
    [request] = tick.requests
    assert request.run_key == row.batch_id
    assert request.partition_key == today.isoformat()
    assert set(request.asset_selection or []) == DAY_SELECTION
    assert {k: v for k, v in request.tags.items() if k.startswith("bridge/")} == {
        "bridge/tenant": TENANT,
        "bridge/batch": row.batch_id,
        # What the run does, and its file: the run list filters by either.
        "bridge/what": f"take 1 file(s) of {today.isoformat()} and post them",
        "bridge/file": NAME,
    }
    assert request.tags["dagster/sensor_name"] == SENSOR


def test_a_file_still_growing_is_not_taken_until_it_stops(world: SensorWorld) -> None:
    path = world.drop(NAME, EXPORT[:20])
    world.tick()
    with path.open("ab") as out:
        out.write(EXPORT[20:])
    world.settle()
    tick = world.tick()
    assert tick.requests == []
    assert tick.skip_message == "listed 1 files; none newly stable"
    row = world.files()[NAME]
    assert (row.state, row.size, row.batch_id) == (FileState.SEEN, len(EXPORT), None)

    world.settle()
    [request] = world.tick().requests
    row = world.files()[NAME]
    assert (row.state, row.size) == (FileState.STABLE, len(EXPORT))
    assert request.run_key == row.batch_id
