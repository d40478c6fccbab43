"""The token bucket keeps the average under the ERP's limit."""

import pytest

from bridge_pipelines.posting.rate_limit import TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_600_a_minute_means_one_request_every_100_ms() -> None:
    clock = Clock()
    bucket = TokenBucket(600, clock=clock, sleep=clock.sleep)
    for _ in range(11):
        bucket.acquire()
    assert clock.now == pytest.approx(1.0)  # the first is free, ten more take a second


def test_a_burst_is_allowed_after_a_quiet_spell() -> None:
    clock = Clock()
    bucket = TokenBucket(60, burst=3, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        bucket.acquire()
    assert clock.slept == []
    bucket.acquire()
    assert clock.slept == [pytest.approx(1.0)]


def test_nonsense_limits_are_refused() -> None:
    with pytest.raises(ValueError):
        TokenBucket(0)
