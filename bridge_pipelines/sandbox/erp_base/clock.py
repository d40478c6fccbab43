"""The sandbox's clock: real time plus an offset that tests move forward.

Session and token lifetimes are measured against it, so a test expires a 20-minute session by
advancing the clock, not by sleeping. The offset is kept in the state file.
"""

from datetime import UTC, datetime, timedelta

from bridge_pipelines.sandbox.erp_base.store import StateStore

_KEY = "clock_offset_seconds"


class SandboxClock:
    """UTC now, shifted by an offset persisted in the store."""

    def __init__(self, store: StateStore) -> None:
        self._store = store
        self._offset = float(store.get_json(_KEY, 0.0))

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self._offset)

    @property
    def offset_seconds(self) -> float:
        return self._offset

    def advance(self, seconds: float) -> datetime:
        """Move the clock forward (never backward: sessions must not come back to life)."""
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        self._offset += seconds
        self._store.set_json(_KEY, self._offset)
        return self.now()

    def reload(self) -> None:
        self._offset = float(self._store.get_json(_KEY, 0.0))
