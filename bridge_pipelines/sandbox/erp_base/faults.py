"""Faults armed through `POST /_sandbox/faults` and taken by the requests they match.

A fault matches on method and path (a glob, e.g. `*/Transaction/Post`) and optionally on a
substring of the raw query string (`BusinessObject=APSTIN`). It lets the first `skip` matching
requests through (a fault in the middle of a batch, whatever the ERP's payload looks like),
then fires `count` times, or on each matching request with `probability`, or both (at most
`count` times, each with `probability`).
Armed faults live in the state file, so a restart of the sandbox keeps them.

Actions and what they promise:

- `latency` (`ms`): answer late; the request then proceeds (and may take another fault).
- `rate_limit` (`retry_after` seconds or null): the ERP's rate-limit answer; nothing is done.
- `error_before_commit` (`status`, default 500): an error, nothing written.
- `error_after_commit` (`status`): the request IS applied and committed, then an error.
- `hang_after_commit` (`seconds`, default 120): applied and committed, then no answer until the
  client gives up (or `seconds` pass); the connection is then closed.
- `reset_after_commit`: applied and committed, then the TCP connection is reset (RST).
- `expire_session`: the session the request carries is ended; the ERP's session-expired answer.
- `auth_fail`: the ERP's bad-credentials answer.
- `garbage`: applied and committed, then half of the real body is sent (truncated XML/JSON).
- `validation` (`message`): the ERP's own field-error answer; nothing written.
"""

import fnmatch
import json
import random
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from bridge_pipelines.sandbox.erp_base.store import StateStore


class FaultAction(StrEnum):
    """What an armed fault does to the request it takes."""

    LATENCY = "latency"
    RATE_LIMIT = "rate_limit"
    ERROR_BEFORE_COMMIT = "error_before_commit"
    ERROR_AFTER_COMMIT = "error_after_commit"
    HANG_AFTER_COMMIT = "hang_after_commit"
    RESET_AFTER_COMMIT = "reset_after_commit"
    EXPIRE_SESSION = "expire_session"
    AUTH_FAIL = "auth_fail"
    GARBAGE = "garbage"
    VALIDATION = "validation"


AFTER_COMMIT = frozenset(
    {
        FaultAction.ERROR_AFTER_COMMIT,
        FaultAction.HANG_AFTER_COMMIT,
        FaultAction.RESET_AFTER_COMMIT,
        FaultAction.GARBAGE,
    }
)
MAX_HANG_SECONDS = 600.0


@dataclass(frozen=True)
class Fault:
    """One armed fault, as posted to `/_sandbox/faults`."""

    action: FaultAction
    method: str = "*"
    path: str = "*"
    query_contains: str = ""
    count: int | None = 1
    probability: float | None = None
    ms: int = 0
    status: int = 500
    retry_after: int | None = None
    seconds: float = 120.0
    message: str = ""
    skip: int = 0
    id: int = 0

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Fault":
        """Validate a fault posted by a test; raises ValueError naming the bad field."""
        known = set(cls.__dataclass_fields__) - {"id"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        try:
            action = FaultAction(data["action"])
        except (KeyError, ValueError) as exc:
            raise ValueError(f"action must be one of {[a.value for a in FaultAction]}") from exc
        fields = {**data, "action": action}
        if "probability" in data and "count" not in data:
            fields["count"] = None
        fault = cls(**fields)
        if fault.count is not None and fault.count < 1:
            raise ValueError("count must be at least 1 (or null with a probability)")
        if fault.probability is not None and not 0 < fault.probability <= 1:
            raise ValueError("probability must be in (0, 1]")
        if fault.count is None and fault.probability is None:
            raise ValueError("a fault needs a count, a probability or both")
        if fault.skip < 0:
            raise ValueError("skip must be 0 or more")
        if not 0 < fault.seconds <= MAX_HANG_SECONDS:
            raise ValueError(f"seconds must be in (0, {MAX_HANG_SECONDS}]")
        return fault

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "action": self.action.value}

    def matches(self, method: str, path: str, query: str) -> bool:
        return (
            fnmatch.fnmatchcase(method.upper(), self.method.upper())
            and fnmatch.fnmatchcase(path, self.path)
            and self.query_contains in query
        )


class FaultEngine:
    """Arms, lists, clears and hands out faults; state kept in the store."""

    def __init__(self, store: StateStore, rng: random.Random | None = None) -> None:
        self._store = store
        self._rng = rng or random.Random()

    def arm(self, fault: Fault) -> Fault:
        spec = fault.to_json()
        spec.pop("id")
        cursor = self._store.execute(
            "INSERT INTO faults (spec, remaining) VALUES (?, ?)", (json.dumps(spec), fault.count)
        )
        return Fault(**{**spec, "action": fault.action, "id": int(cursor.lastrowid or 0)})

    def armed(self) -> list[dict[str, Any]]:
        """Every fault still armed, with how many times it fired and may still fire."""
        return [
            {**json.loads(r["spec"]), "id": r["id"], "remaining": r["remaining"]}
            | {"fired": r["fired"]}
            for r in self._store.rows("SELECT * FROM faults ORDER BY id")
        ]

    def clear(self, fault_id: int | None = None) -> int:
        if fault_id is None:
            return self._store.execute("DELETE FROM faults").rowcount
        return self._store.execute("DELETE FROM faults WHERE id = ?", (fault_id,)).rowcount

    def take(self, method: str, path: str, query: str) -> list[Fault]:
        """The faults this request triggers, oldest first; each firing is counted."""
        taken: list[Fault] = []
        rows = self._store.rows("SELECT * FROM faults ORDER BY id")
        if not rows:
            return taken
        with self._store.transaction() as conn:
            for row in rows:
                spec = json.loads(row["spec"])
                fault = Fault(**{**spec, "action": FaultAction(spec["action"]), "id": row["id"]})
                if not fault.matches(method, path, query):
                    continue
                if fault.skip > 0:
                    spec["skip"] = fault.skip - 1
                    conn.execute(
                        "UPDATE faults SET spec = ? WHERE id = ?", (json.dumps(spec), row["id"])
                    )
                    continue
                if fault.probability is not None and self._rng.random() >= fault.probability:
                    continue
                if row["remaining"] is None:
                    conn.execute("UPDATE faults SET fired = fired + 1 WHERE id = ?", (row["id"],))
                elif row["remaining"] <= 1:
                    conn.execute("DELETE FROM faults WHERE id = ?", (row["id"],))
                else:
                    conn.execute(
                        "UPDATE faults SET remaining = remaining - 1, fired = fired + 1 "
                        "WHERE id = ?",
                        (row["id"],),
                    )
                taken.append(fault)
        return taken
