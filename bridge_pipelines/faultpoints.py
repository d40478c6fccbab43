"""Kill points for the fault matrix: `fault_point(name)` SIGKILLs this process on request.

With `FAULT_AT=<name>` in the environment, the process dies at that point with no cleanup,
exactly like `kill -9`, so tests can prove that a crash at any line loses nothing (P3).
The variable is read once at import: when it is unset a fault point costs one comparison.

Points in use:
- intake: `mid_download` (bytes already in the `.part` file), `after_download` (a whole local
  copy, nothing recorded), `after_parse` (parsed, nothing recorded);
- master-data export: `mid_upload` (part of a temporary file on the server, not renamed);
- posting: `after_claim` (claims committed, nothing sent), `after_request_sent` (the request is
  on the wire: the ERP may have received it, no answer read), `after_erp_response` (the ERP
  answered, the ledger does not know), `before_ledger_commit` (just before the ledger write
  that records the outcome).

`FAULT_AT=<name>@<n>` dies the n-th time the point is reached instead of the first (the soak
bench kills a pass in the middle of its work, not always at the first tenant). A worker forked
from a process that imported this module already (a fork server preloading the product) arms
its point with `arm(name, nth)` instead of the environment.
"""

import os
import signal

# Slots, so `arm` can change them without a `global`: the point, the occurrence that kills,
# and how many times the point was reached.
_FAULT_AT: list[str | None] = [None]
_NTH = [1]
_REACHED = [0]


def fault_point(name: str) -> None:
    """Die here, at once and uncleanly, if `FAULT_AT` names this point (and occurrence)."""
    at = _FAULT_AT[0]
    if at is not None and name == at:
        _REACHED[0] += 1
        if _REACHED[0] >= _NTH[0]:
            os.kill(os.getpid(), signal.SIGKILL)


def armed(name: str) -> bool:
    """Whether `fault_point(name)` may kill: for points that need a hook installed first."""
    at = _FAULT_AT[0]
    return at is not None and name == at


def arm(name: str | None, nth: int = 1) -> None:
    """Set (or with None, clear) the point this process dies at, as `FAULT_AT` would."""
    _FAULT_AT[0] = name or None
    _NTH[0] = max(1, nth)
    _REACHED[0] = 0


def _from_environment() -> None:
    name, _, nth = (os.environ.get("FAULT_AT") or "").partition("@")
    arm(name or None, int(nth) if nth.isdigit() else 1)


_from_environment()
