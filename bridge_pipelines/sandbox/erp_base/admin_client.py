"""A small client for the `/_sandbox/` admin routes, for tests, the demo and benchmarks."""

import functools
from typing import Any

import httpx


@functools.cache
def _client() -> httpx.Client:
    # Shared by every admin handle: building an httpx.Client loads a CA bundle (tens of ms).
    return httpx.Client(trust_env=False)


class SandboxAdmin:
    """Calls the admin routes of one sandbox; every method raises on a non-2xx answer."""

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = _client().request(
            method, f"{self.base_url}/_sandbox/{path}", timeout=self.timeout, **kwargs
        )
        response.raise_for_status()
        return response.json()

    def documents(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", "documents")["documents"]
        return result

    def arm_fault(self, action: str, **spec: Any) -> dict[str, Any]:
        """Arm one fault, e.g. `arm_fault("error_after_commit", path="*/Transaction/Post")`."""
        armed: dict[str, Any] = self._call("POST", "faults", json={"action": action, **spec})[
            "armed"
        ][0]
        return armed

    def faults(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", "faults")["faults"]
        return result

    def clear_faults(self) -> None:
        self._call("DELETE", "faults")

    def advance_clock(self, seconds: float) -> str:
        now: str = self._call("POST", "clock", json={"advance_seconds": seconds})["now"]
        return now

    def reset(self) -> None:
        self._call("POST", "reset")

    def requests(self, since: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call(
            "GET", "requests", params={"since": since, "limit": limit}
        )["requests"]
        return result

    def configure(self, **settings: Any) -> dict[str, Any]:
        config: dict[str, Any] = self._call("POST", "config", json=settings)["config"]
        return config

    def config(self) -> dict[str, Any]:
        config: dict[str, Any] = self._call("GET", "config")["config"]
        return config

    def periods(self) -> dict[str, str]:
        """The posting-period calendar around the sandbox's month: `YYYY-MM` -> status."""
        rows = self._call("GET", "periods")["periods"]
        return {str(row["period"]): str(row["status"]) for row in rows}

    def set_period(self, period: str, status: str) -> None:
        """Open or close one month of the posting-period calendar (`YYYY-MM`)."""
        self._call("POST", "periods", json={"period": period, "status": status})

    def seed(self) -> dict[str, Any]:
        seed: dict[str, Any] = self._call("GET", "seed")
        return seed
