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

A worker forked from a process that imported this module already (a fork server preloading
the product) arms its point with `arm(name)` instead of the environment.
"""

import os
import signal

# One slot, so `arm` can change it without a `global`.
_FAULT_AT: list[str | None] = [os.environ.get("FAULT_AT") or None]


def fault_point(name: str) -> None:
    """Die here, at once and uncleanly, if `FAULT_AT` names this point."""
    at = _FAULT_AT[0]
    if at is not None and name == at:
        os.kill(os.getpid(), signal.SIGKILL)


def armed(name: str) -> bool:
    """Whether `fault_point(name)` would kill: for points that need a hook installed first."""
    at = _FAULT_AT[0]
    return at is not None and name == at


def arm(name: str | None) -> None:
    """Set (or with None, clear) the point this process dies at, as `FAULT_AT` would."""
    _FAULT_AT[0] = name or None
