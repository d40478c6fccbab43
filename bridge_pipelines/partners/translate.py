"""SYSPRO codes to the partner's codes: mapped, or the file stops and says which.

A file is never written with a guessed code. Every unmapped ledger code and cost centre of
the file is collected (with the first row that used it) so one run names all of them, then
`UnmappedCodeError` stops that file; the partner's other files go on.
"""

from dataclasses import dataclass, field
from typing import Any

from bridge_pipelines.errors import BadInputError
from bridge_pipelines.partners.records import row_label

MAX_NAMED = 20


class UnmappedCodeError(BadInputError):
    """A SYSPRO code the partner's mapping does not translate; the file was not written."""


@dataclass
class Translator:
    """The partner's `accounts` and `cost_centres` tables, noting every miss."""

    accounts: dict[str, str]
    cost_centres: dict[str, str]
    missing: dict[tuple[str, str], Any] = field(default_factory=dict)

    def account(self, code: str, row: Any) -> str:
        """The partner's account for SYSPRO ledger code `code` ('' and noted when unmapped).

        `row` is the first row using a code, named only if the code turns out unmapped.
        """
        found = self.accounts.get(code)
        if found is None:
            self.missing.setdefault(("account", code), row)
            return ""
        return found

    def cost_centre(self, code: str, row: Any) -> str:
        """The partner's cost centre for SYSPRO analysis code `code` ('' when unmapped)."""
        found = self.cost_centres.get(code)
        if found is None:
            self.missing.setdefault(("cost centre", code), row)
            return ""
        return found

    def check(self, file: str, partner: str) -> None:
        """Raise if any code was unmapped, naming the file, each code and its first row.

        Raises:
            UnmappedCodeError: at least one code has no mapping.
        """
        if not self.missing:
            return
        items = sorted((key, row_label(row)) for key, row in self.missing.items())
        named = "; ".join(
            f"{kind} {code!r} (first at {row})" for (kind, code), row in items[:MAX_NAMED]
        )
        more = f"; and {len(items) - MAX_NAMED} more" if len(items) > MAX_NAMED else ""
        raise UnmappedCodeError(
            f"{file}: not written: no mapping for SYSPRO {named}{more}. Add them to partner "
            f"{partner}'s accounts/cost_centres in the partners file, then run the period again."
        )
