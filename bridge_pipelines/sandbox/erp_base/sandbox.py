"""`ErpSandbox`: what one ERP sandbox provides on top of the shared machinery.

A subclass gives its schema, seed, routes, its documents for `/_sandbox/documents`, and the ERP's
own answers to the faults that have an ERP-specific shape (expired session, bad credentials,
field validation). Settings (`config`) merge the shared defaults, the ERP's defaults and what a
test posted to `/_sandbox/config`; they are kept in the state file.
"""

from pathlib import Path
from typing import Any, ClassVar

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute

from bridge_pipelines.sandbox.erp_base import calendar
from bridge_pipelines.sandbox.erp_base.clock import SandboxClock
from bridge_pipelines.sandbox.erp_base.faults import Fault, FaultEngine
from bridge_pipelines.sandbox.erp_base.ratelimit import RateLimiter
from bridge_pipelines.sandbox.erp_base.store import StateStore

BASE_CONFIG: dict[str, Any] = {
    # Token bucket: 0 = unlimited. `burst` 0 = one second's worth of requests.
    "requests_per_minute": 0,
    "burst": 0,
    # Concurrent requests: 0 = unlimited; "queue" waits for a slot, "reject" answers as the
    # rate limit does.
    "max_concurrent": 0,
    "concurrency_mode": "queue",
    # Added to every ERP request (server think time), in milliseconds.
    "latency_ms": 0,
    # How a refused request is answered: the status and whether Retry-After is sent.
    "rate_limit_status": 429,
    "rate_limit_retry_after": True,
    # The posting-period calendar's months set open or closed ("YYYY-MM" -> "open"|"closed");
    # the others follow the sandbox's `period_rule` (erp_base/calendar.py).
    "periods": {},
}


class ErpSandbox:
    """Base of every ERP sandbox; subclasses override the class attributes and hooks."""

    name: ClassVar[str] = "erp"
    schema: ClassVar[str] = ""
    default_config: ClassVar[dict[str, Any]] = {}
    period_rule: ClassVar[calendar.CalendarRule] = calendar.CalendarRule()

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.store = StateStore(state_dir, self.schema)
        self.clock = SandboxClock(self.store)
        self.faults = FaultEngine(self.store)
        self.limiter = RateLimiter()
        if self.store.is_empty:
            self._seed_fresh()
        self.config: dict[str, Any] = {}
        self._load_config()

    def _seed_fresh(self) -> None:
        self.seed()
        self.store.set_json("seeded", True)

    def _load_config(self) -> None:
        stored = self.store.get_json("config", {})
        self.config = {**BASE_CONFIG, **self.default_config, **stored}
        self.limiter.configure(
            requests_per_minute=int(self.config["requests_per_minute"]),
            burst=int(self.config["burst"]),
            max_concurrent=int(self.config["max_concurrent"]),
            queue_concurrent=self.config["concurrency_mode"] != "reject",
        )

    def update_config(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Apply posted settings; unknown keys are refused so a typo is not silently ignored."""
        known = {**BASE_CONFIG, **self.default_config}
        unknown = set(changes) - set(known)
        if unknown:
            raise ValueError(f"unknown settings: {sorted(unknown)}; known: {sorted(known)}")
        if changes.get("concurrency_mode", "queue") not in ("queue", "reject"):
            raise ValueError("concurrency_mode must be 'queue' or 'reject'")
        stored = {**self.store.get_json("config", {}), **changes}
        self.store.set_json("config", stored)
        self._load_config()
        return self.config

    def period_status(self, year: int, month: int) -> str:
        """`open`, `closed` or `not_open`: whether a month takes postings, on the sandbox clock."""
        today = self.clock.now().date()
        return calendar.status_of(self.config, today, year, month, self.period_rule)

    def periods(self) -> list[dict[str, str]]:
        """The period calendar around the sandbox clock's month."""
        return calendar.listing(self.config, self.clock.now().date(), self.period_rule)

    def set_period(self, period: str, status: str) -> None:
        """Open or close one month (`YYYY-MM`); kept in the state file until a reset."""
        self.update_config({"periods": calendar.with_period(self.config, period, status)})

    def reset(self) -> None:
        """Back to the freshly seeded demo company: state, faults, clock, log and settings."""
        self.store.wipe()
        self.clock.reload()
        self._seed_fresh()
        self._load_config()

    # Hooks a subclass provides.
    def seed(self) -> None:
        """Write the demo company into a fresh store."""

    def routes(self) -> list[BaseRoute]:
        return []

    def documents(self) -> list[dict[str, Any]]:
        """Every document the ERP holds, with its lines, for assertions."""
        return []

    def seed_info(self) -> dict[str, Any]:
        """What the sandbox was seeded with (codes and mappings), for the demo and tests."""
        return {}

    def answer_rate_limit(self, request: Request, retry_after: float | None) -> Response:
        headers = {}
        if retry_after is not None:
            headers["Retry-After"] = str(max(1, round(retry_after + 0.4999)))
        return PlainTextResponse(
            "Too Many Requests", status_code=int(self.config["rate_limit_status"]), headers=headers
        )

    def answer_server_error(self, request: Request, status: int) -> Response:
        return PlainTextResponse(f"Simulated server error {status}", status_code=status)

    def answer_expire_session(self, request: Request, fault: Fault) -> Response:
        return PlainTextResponse("Session expired", status_code=401)

    def answer_auth_fail(self, request: Request, fault: Fault) -> Response:
        return PlainTextResponse("Unauthorized", status_code=401)

    def answer_validation(self, request: Request, fault: Fault) -> Response:
        return PlainTextResponse(fault.message or "Validation error", status_code=400)
