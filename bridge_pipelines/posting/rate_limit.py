"""A per-connection rate limiter: ERPs throttle (SYSPRO sites, B1 and Acumatica licences).

Staying under the ERP's limit is cheaper than meeting its 429s: each 429 costs a backoff and
a lease extension. One limiter per ERP connection, shared by every call on it.
"""

import threading
import time
from collections.abc import Callable
from typing import Protocol


class RateLimiter(Protocol):
    """Blocks until one more request may be sent."""

    def acquire(self) -> None:
        """Wait for the next request slot."""
        ...


class TokenBucket:
    """At most `per_minute` requests a minute on average, with bursts of up to `burst`.

    Thread-safe; the clock and sleep are injectable for tests.
    """

    def __init__(
        self,
        per_minute: float,
        *,
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_minute <= 0 or burst < 1:
            raise ValueError("per_minute must be positive and burst at least 1")
        self._rate = per_minute / 60.0
        self._burst = float(burst)
        self._tokens = float(burst)
        self._clock = clock
        self._sleep = sleep
        self._last = clock()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Take one token, sleeping until one is available."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
            self._last = now
            self._tokens -= 1.0
            wait = -self._tokens / self._rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
