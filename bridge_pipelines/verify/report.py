"""What `bridge verify` finds: one result per invariant, located items, and the counts.

The report is plain data so the CLI, the Dagster asset check and the fault-matrix tests read
the same thing: `VerifyReport.ok` is the verdict, `to_dict()` is the JSON an auditor keeps.
"""

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

DUPLICATES = "duplicates"
UNKNOWN_TO_LEDGER = "unknown_to_ledger"
LOST = "lost"
FILES_NOT_TERMINAL = "files_not_terminal"
FILES_NEED_ATTENTION = "files_need_attention"
JOURNAL_IMBALANCES = "journal_imbalances"
PAYMENTS_APPLIED = "payments_applied"
PAYMENTS_UNKNOWN_TO_LEDGER = "payments_unknown_to_ledger"
OPEN_BALANCES = "open_balances"
CHECK_NAMES = (
    DUPLICATES,
    UNKNOWN_TO_LEDGER,
    LOST,
    FILES_NOT_TERMINAL,
    FILES_NEED_ATTENTION,
    JOURNAL_IMBALANCES,
    PAYMENTS_APPLIED,
    PAYMENTS_UNKNOWN_TO_LEDGER,
    OPEN_BALANCES,
)

DESCRIPTIONS = {
    DUPLICATES: "an invoice in the ERP more than once, or posted twice in the ledger (P1)",
    UNKNOWN_TO_LEDGER: "an ERP document with our reference the ledger has not as posted (P4)",
    LOST: "an approved invoice neither posted nor held with a reason (P2, P3)",
    FILES_NOT_TERMINAL: "a file not in a terminal state, or on the server but never recorded (P2)",
    FILES_NEED_ATTENTION: "a quarantined file neither replaced by a corrected export nor dismissed",
    JOURNAL_IMBALANCES: "debits differ from credits, or the ERP total from the source (P5)",
    PAYMENTS_APPLIED: "a Stampli payment not in the ERP exactly once, nor waiting/held with a "
    "reason (reconcile-only: paid in one system only, or amounts differ)",
    PAYMENTS_UNKNOWN_TO_LEDGER: "an ERP payment with our reference the ledger has not as posted",
    OPEN_BALANCES: "an invoice's open balance in the ERP differs from what the ledger expects",
}


class CheckStatus(StrEnum):
    """`ok` and `skipped` pass; `fail` and `not_checkable` do not.

    `skipped` means the invariant cannot be broken (a tenant without an ERP has nothing to
    lose in one); `not_checkable` means it could be broken but we cannot see (the ERP cannot
    be read back), which must never pass silently.
    """

    OK = "ok"
    FAIL = "fail"
    SKIPPED = "skipped"
    NOT_CHECKABLE = "not_checkable"


@dataclass
class CheckResult:
    """One invariant: its status and every located item that breaks it."""

    name: str
    status: CheckStatus = CheckStatus.OK
    items: list[dict[str, Any]] = field(default_factory=list)
    note: str | None = None

    @property
    def ok(self) -> bool:
        """True when the invariant holds (or cannot be broken for this tenant)."""
        return self.status in (CheckStatus.OK, CheckStatus.SKIPPED)

    @property
    def count(self) -> int:
        """How many items break the invariant."""
        return len(self.items)

    def add(self, message: str, **where: Any) -> None:
        """One failing item: a sentence for people, and where to look."""
        self.items.append({"message": message, **where})
        if self.status == CheckStatus.OK:
            self.status = CheckStatus.FAIL

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ok": self.ok,
            "status": self.status.value,
            "count": self.count,
            "items": self.items,
        }
        if self.note:
            out["note"] = self.note
        return out


@dataclass
class VerifyReport:
    """The reconciliation of one tenant (and day): every check, and what was counted."""

    tenant: str
    day: date | None
    checks: dict[str, CheckResult] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when every invariant holds."""
        return all(check.ok for check in self.checks.values())

    def check(self, name: str) -> CheckResult:
        """The result of one check by name (created on first use, in `CHECK_NAMES` order)."""
        if name not in self.checks:
            self.checks[name] = CheckResult(name)
        return self.checks[name]

    @property
    def failing(self) -> list[CheckResult]:
        """The checks that do not pass, in report order."""
        return [c for c in self.checks.values() if not c.ok]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: amounts are strings, days ISO dates."""
        return {
            "tenant": self.tenant,
            "day": self.day.isoformat() if self.day else None,
            "ok": self.ok,
            "checks": {name: check.to_dict() for name, check in self.checks.items()},
            "counts": dict(self.counts),
        }
