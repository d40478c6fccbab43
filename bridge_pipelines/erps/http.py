"""HTTP pieces every ERP client shares: request pacing under a known rate limit.

Kept ERP-neutral so one adapter never imports another's client.
"""

import time
from typing import Protocol


class RequestLimiter(Protocol):
    """Blocks until one more request may be sent (`posting.rate_limit.TokenBucket` fits)."""

    def acquire(self) -> None:
        """Wait for the next request slot."""
        ...


class Pacer:
    """Spaces requests evenly to stay under a known rate limit (no 429s, no wasted waits).

    A client that waits for 429s loses at least a whole `Retry-After` second per refusal; one
    paced at the limit keeps the server's bucket just full enough. None = no pacing.
    """

    def __init__(self, requests_per_minute: float | None) -> None:
        self._interval = 60.0 / requests_per_minute if requests_per_minute else 0.0
        self._next = time.monotonic()

    def acquire(self) -> None:
        """Sleep until this request's slot."""
        if not self._interval:
            return
        now = time.monotonic()
        if self._next > now:
            time.sleep(self._next - now)
        self._next = max(now, self._next) + self._interval
