"""Reconciliation (`bridge verify`): proof that every approved invoice is in its ERP exactly once.

`run_verify(tenant_id, day)` opens everything from settings; `verify_tenant(...)` takes what
is already open (tests, the fault matrix). Both return a `VerifyReport`.
"""

from bridge_pipelines.verify.reconcile import remote_grace, verify_tenant
from bridge_pipelines.verify.report import (
    CHECK_NAMES,
    DUPLICATES,
    FILES_NEED_ATTENTION,
    FILES_NOT_TERMINAL,
    JOURNAL_IMBALANCES,
    LOST,
    UNKNOWN_TO_LEDGER,
    CheckResult,
    CheckStatus,
    VerifyReport,
)
from bridge_pipelines.verify.run import run_verify

__all__ = [
    "CHECK_NAMES",
    "DUPLICATES",
    "FILES_NEED_ATTENTION",
    "FILES_NOT_TERMINAL",
    "JOURNAL_IMBALANCES",
    "LOST",
    "UNKNOWN_TO_LEDGER",
    "CheckResult",
    "CheckStatus",
    "VerifyReport",
    "remote_grace",
    "run_verify",
    "verify_tenant",
]
