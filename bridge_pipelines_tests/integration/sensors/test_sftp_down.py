"""The tenant sensor while its SFTP server is down: the tick fails with a message an operator
can act on, nothing is recorded, attempts are paused, and ticks recover once it is back."""

import time

import pytest

from bridge_pipelines.errors import RetryableError
from bridge_pipelines.ledger.states import FileState
from bridge_pipelines_tests.integration.sensors.conftest import (
    EXPORT,
    PASSWORD,
    SensorWorld,
    Tick,
)

pytestmark = pytest.mark.e2e

NAME = "approved_invoices_20260504_101500.csv"


def test_a_server_that_is_down_fails_the_tick_then_the_sensor_recovers(
    world: SensorWorld,
) -> None:
    assert world.tick().skip_message == "listed 0 files; none newly stable"  # pooled connection
    world.drop(NAME, EXPORT)
    world.server.stop()

    with pytest.raises(RetryableError) as down:
        world.tick()
    message = str(down.value)
    assert message.startswith(f"could not reach SFTP server 127.0.0.1:{world.server.port}: ")
    assert PASSWORD not in message
    assert world.files() == {}
    # The next tick does not hammer the server: it says when the next attempt is.
    with pytest.raises(RetryableError, match=r"\(tenant acme: next attempt in \d+ s\)"):
        world.tick()

    world.server.start()
    deadline = time.monotonic() + 30
    tick: Tick | None = None
    while tick is None:
        try:
            tick = world.tick()
        except RetryableError:
            assert time.monotonic() < deadline, "the sensor did not recover"
            time.sleep(0.5)
    assert tick.skip_message == "listed 1 files; none newly stable"
    assert world.files()[NAME].state == FileState.SEEN
