"""Kill points for the fault matrix: `fault_point(name)` SIGKILLs this process on request.

With `FAULT_AT=<name>` in the environment, the process dies at that point with no cleanup,
exactly like `kill -9`, so tests can prove that a crash at any line loses nothing (P3).
The variable is read once at import: when it is unset a fault point costs one comparison.
Points in use: `after_download`, `after_parse`, `after_claim`, `after_erp_response`,
`before_ledger_commit`.
"""

import os
import signal

_FAULT_AT = os.environ.get("FAULT_AT") or None


def fault_point(name: str) -> None:
    """Die here, at once and uncleanly, if `FAULT_AT` names this point."""
    if _FAULT_AT is not None and name == _FAULT_AT:
        os.kill(os.getpid(), signal.SIGKILL)
