"""HTTP pieces every ERP client shares: pacing under a known rate limit, bounded backoff.

Kept ERP-neutral so one adapter never imports another's client.
"""

import logging
import random
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
)

from bridge_pipelines.errors import RetryableError
from bridge_pipelines.faultpoints import armed, fault_point

log = logging.getLogger(__name__)
T = TypeVar("T")


class TransientError(RetryableError):
    """Retried inside the client's own backoff; a caller sees a plain `RetryableError`."""


class BackoffSettings(Protocol):
    """The retry budget every ERP client's settings carry."""

    @property
    def max_attempts(self) -> int: ...
    @property
    def retry_budget(self) -> float: ...
    @property
    def backoff_initial(self) -> float: ...
    @property
    def backoff_max(self) -> float: ...


def with_backoff(settings: BackoffSettings, call: Callable[[], T]) -> T:
    """`call()`, repeated on `TransientError` with capped exponential backoff or Retry-After."""

    def wait(state: RetryCallState) -> float:
        outcome = state.outcome
        error = outcome.exception() if outcome is not None else None
        hinted = error.retry_after if isinstance(error, TransientError) else None
        if hinted is not None:
            return float(min(hinted, settings.backoff_max))
        ceiling = settings.backoff_initial * (2 ** (state.attempt_number - 1))
        return float(min(settings.backoff_max, ceiling) * (0.5 + random.random() / 2))

    def before_sleep(state: RetryCallState) -> None:
        outcome = state.outcome
        error = outcome.exception() if outcome is not None else None
        sleep = state.next_action.sleep if state.next_action else 0.0
        log.warning("%s; retrying in %.2fs", error, sleep)

    retrying = Retrying(
        retry=retry_if_exception_type(TransientError),
        stop=stop_after_attempt(settings.max_attempts) | stop_after_delay(settings.retry_budget),
        wait=wait,
        before_sleep=before_sleep,
        reraise=True,
    )
    return retrying(call)


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


_RESPONSE_AWAITED = frozenset(
    {"http11.receive_response_headers.started", "http2.receive_response_headers.started"}
)


def _trace(event: str, info: dict[str, Any]) -> None:
    if event in _RESPONSE_AWAITED:
        fault_point("after_request_sent")


def write_extensions(kind: str) -> dict[str, Any] | None:
    """Request extensions for one httpx call: a kill point once a write is on the wire.

    With `FAULT_AT=after_request_sent`, a write's process dies when its whole request has been
    handed to the socket and the response is awaited: the ERP may have received it, the
    client has read nothing. None (no extension, one comparison) otherwise.
    """
    if kind != "write" or not armed("after_request_sent"):
        return None
    return {"trace": _trace}
