"""Requests per minute (a token bucket) and concurrent requests, as configured per sandbox.

The bucket refills at `requests_per_minute / 60` tokens a second and holds `burst` tokens, so a
client pacing itself at the limit never sees a refusal and one that bursts does. The limiter
uses the real monotonic clock, not the sandbox clock: throughput is measured in real time.
"""

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator


class RateLimiter:
    """A token bucket plus a concurrency gate; both off (0) by default."""

    def __init__(self) -> None:
        self.requests_per_minute = 0
        self.burst = 0
        self.max_concurrent = 0
        self.queue_concurrent = True
        self._tokens = 0.0
        self._stamp = time.monotonic()
        self._active = 0
        self._released = asyncio.Condition()

    def configure(
        self,
        *,
        requests_per_minute: int,
        burst: int | None,
        max_concurrent: int,
        queue_concurrent: bool,
    ) -> None:
        self.requests_per_minute = max(0, requests_per_minute)
        per_second = self.requests_per_minute / 60
        self.burst = burst if burst and burst > 0 else max(1, math.ceil(per_second))
        self._tokens = float(self.burst)
        self._stamp = time.monotonic()
        self.max_concurrent = max(0, max_concurrent)
        self.queue_concurrent = queue_concurrent

    def try_acquire(self) -> float | None:
        """Take a token; None when allowed, else the seconds until one is available."""
        if not self.requests_per_minute:
            return None
        now = time.monotonic()
        rate = self.requests_per_minute / 60
        self._tokens = min(float(self.burst), self._tokens + (now - self._stamp) * rate)
        self._stamp = now
        if self._tokens >= 1:
            self._tokens -= 1
            return None
        return (1 - self._tokens) / rate

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[bool]:
        """A concurrency slot: waits for one (queue mode) or yields False when none is free."""
        limited = self.max_concurrent > 0
        granted = True
        if limited:
            async with self._released:
                if self._active >= self.max_concurrent and not self.queue_concurrent:
                    granted = False
                else:
                    await self._released.wait_for(lambda: self._active < self.max_concurrent)
                    self._active += 1
        try:
            yield granted
        finally:
            if limited and granted:
                async with self._released:
                    self._active = max(0, self._active - 1)
                    self._released.notify_all()
