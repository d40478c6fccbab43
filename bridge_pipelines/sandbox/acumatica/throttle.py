"""The licence's request throttle: delayed past half the per-minute limit, declined past the queue.

[C: IS__con_License_Restrictions_API_Users.md] Once 50 % of the per-minute limit is used, each
request is delayed by the remaining time divided by the remaining requests; a request is
declined (429, no Retry-After) once more than 20 wait, or after 10 minutes of waiting.
[I] "Delayed by" is read as spacing: a delayed request is admitted that long after the one
admitted before it, so the rest of the minute's requests spread evenly over the rest of the
minute, whatever the number of clients. The minute is a fixed window from its first request.
Real (monotonic) time, as throughput is measured in real time.
"""

import asyncio
import time


class LicenceThrottle:
    """Per-minute admission with delays and a bounded queue; off while `limit` is 0."""

    def __init__(self) -> None:
        self.limit = 0
        self.queue_limit = 20
        self.max_wait = 600.0
        self._start = 0.0
        self._count = 0
        self._last = 0.0
        self._waiting = 0
        self.delayed = 0
        self.declined = 0

    def configure(self, limit: int, queue_limit: int, max_wait: float) -> None:
        self.limit = max(0, limit)
        self.queue_limit = max(0, queue_limit)
        self.max_wait = max_wait
        self._start = time.monotonic()
        self._count = 0
        self._last = self._start

    def _roll(self, now: float) -> None:
        if now - self._start >= 60:
            self._start = now
            self._count = 0

    async def admit(self) -> bool:
        """Wait for this request's turn; False when it is declined (answer 429)."""
        if not self.limit:
            return True
        now = time.monotonic()
        self._roll(now)
        if self._count < self.limit / 2:
            self._count += 1
            self._last = now
            return True
        if self._waiting >= self.queue_limit:
            self.declined += 1
            return False
        self._waiting += 1
        waited = 0.0
        try:
            while True:
                now = time.monotonic()
                self._roll(now)
                if self._count < self.limit / 2:
                    self._count += 1
                    self._last = now
                    return True
                left = self._start + 60 - now
                remaining = self.limit - self._count
                if remaining <= 0:
                    if waited + left > self.max_wait:
                        self.declined += 1
                        return False
                    waited += left
                    await asyncio.sleep(left)
                    continue
                slot = max(now, self._last + left / remaining)
                if waited + slot - now > self.max_wait:
                    self.declined += 1
                    return False
                self._count += 1
                self._last = slot
                if slot > now:
                    self.delayed += 1
                    await asyncio.sleep(slot - now)
                return True
        finally:
            self._waiting -= 1
