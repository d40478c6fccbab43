"""Open postings an unreachable ERP leaves planned: the sensor backs its posting runs off
exponentially instead of asking again every tick (issue 16.14)."""

import time
from datetime import date, timedelta

import dagster as dg
import pytest
import sqlalchemy as sa

from bridge_pipelines.defs import sensors
from bridge_pipelines.ledger.models import PlannedPosting
from bridge_pipelines.ledger.tables import records as records_table
from bridge_pipelines.posting.run import posting_target
from bridge_pipelines_tests.integration.sensors.conftest import TENANT, SensorWorld
from bridge_pipelines_tests.support.fake_erp import seed_records

pytestmark = pytest.mark.e2e

FAILURE = dg.DagsterRunStatus.FAILURE
SUCCESS = dg.DagsterRunStatus.SUCCESS
TAGS = {"bridge/tenant": TENANT, "bridge/resume": "postings"}


def _plan(world: SensorWorld, count: int = 2) -> None:
    """Accepted records with `planned` postings, as a posting run that never reached the ERP
    leaves them."""
    ledger = world.ledger
    records = seed_records(ledger, count, tenant=TENANT)
    with ledger.engine.begin() as conn:  # a day the tenant's partitions hold
        conn.execute(
            sa.update(records_table)
            .where(records_table.c.id.in_([r.id for r in records]))
            .values(partition_day=date.today() - timedelta(days=2))
        )
    items = [PlannedPosting(r.id, f"BP{r.id:018d}", f"h{r.id}") for r in records]
    ledger.plan_postings(TENANT, posting_target(world.tenant), items)


class Clock:
    """The sensor's clock, moved forward by hand (the runs' own times stay real)."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def __call__(self) -> float:
        return time.time() + self.ahead

    def wait(self, seconds: float) -> None:
        self.ahead += seconds

    def now(self) -> None:
        """Back to the real clock: a run added next ends now."""
        self.ahead = 0.0


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    moved = Clock()
    monkeypatch.setattr(sensors, "_clock", moved)
    return moved


def test_postings_left_planned_are_asked_for_with_an_exponential_backoff(
    world: SensorWorld, clock: Clock
) -> None:
    base = sensors.POSTINGS_BACKOFF_BASE
    _plan(world)
    [first] = world.tick().requests
    assert {
        k: v for k, v in first.tags.items() if k.startswith("bridge/") and k != "bridge/what"
    } == TAGS
    assert first.tags["bridge/what"].startswith("post ")
    assert first.run_key == f"{TENANT}:postings:resume:0"

    # The run could not reach the ERP: the postings stay planned. The next ticks wait.
    world.add_run(TAGS, status=FAILURE)
    tick = world.tick()
    assert tick.requests == [] and "open postings" in (tick.skip_message or "")
    clock.wait(base * 0.9)
    assert world.tick().requests == []
    clock.wait(base * 0.2)
    [second] = world.tick().requests
    assert second.run_key == f"{TENANT}:postings:resume:1"

    # Two runs left them open: the wait doubles.
    clock.now()
    world.add_run(TAGS, status=SUCCESS)
    clock.wait(base * 1.5)
    assert world.tick().requests == []
    clock.wait(base * 0.7)
    [third] = world.tick().requests
    assert third.run_key == f"{TENANT}:postings:resume:2"


def test_the_backoff_is_capped(world: SensorWorld, clock: Clock) -> None:
    _plan(world, 1)
    for _ in range(12):
        world.add_run(TAGS, status=FAILURE)
    assert world.tick().requests == []
    clock.wait(sensors.POSTINGS_BACKOFF_MAX * 0.9)
    assert world.tick().requests == []
    clock.wait(sensors.POSTINGS_BACKOFF_MAX * 0.2)
    [request] = world.tick().requests
    assert request.run_key == f"{TENANT}:postings:resume:12"
