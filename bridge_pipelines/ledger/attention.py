"""What an operator decided about a quarantined file: dismissed, or replaced by another.

A quarantined file needs a person until it is replaced by a corrected export or dismissed
with a reason. Both decisions are audit events on the file (`file_dismissed`,
`file_replaced`), appended with the operator as actor; the file itself stays `quarantined`
(its state is what happened to the bytes, the decision is what people made of it). The last
decision counts; `file_reopened` takes one back.
"""

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from bridge_pipelines.ledger.audit import append_events
from bridge_pipelines.ledger.db import LedgerDb
from bridge_pipelines.ledger.errors import InvalidTransitionError, UnknownEntityError
from bridge_pipelines.ledger.models import FileRow
from bridge_pipelines.ledger.rows import file_row
from bridge_pipelines.ledger.states import FileState
from bridge_pipelines.ledger.tables import audit_events, files

DISMISSED = "file_dismissed"
REPLACED = "file_replaced"
REOPENED = "file_reopened"
DECISIONS = (DISMISSED, REPLACED, REOPENED)


@dataclass(frozen=True)
class FileDecision:
    """The operator's standing decision about a quarantined file."""

    file_id: int
    event: str
    reason: str
    actor: str
    at: Any
    replaced_by: int | None = None


class AttentionRoom:
    """Dismissing and replacing quarantined files, and reading those decisions back."""

    _db: LedgerDb

    def _quarantined(self, conn: sa.Connection, file_id: int) -> FileRow:
        row = conn.execute(sa.select(files).where(files.c.id == file_id).with_for_update()).first()
        if row is None:
            raise UnknownEntityError(f"no file #{file_id}")
        current = file_row(row._mapping)
        if current.state != FileState.QUARANTINED:
            raise InvalidTransitionError(
                f"file #{file_id} is {current.state.value}, not quarantined: nothing to decide"
            )
        return current

    def dismiss_file(self, file_id: int, *, reason: str, actor: str) -> FileRow:
        """An operator says a quarantined file needs nothing more (with why).

        Raises:
            UnknownEntityError: no such file.
            InvalidTransitionError: the file is not quarantined, or no reason was given.
        """
        if not reason.strip():
            raise InvalidTransitionError("a dismissal needs a reason")
        with self._db.write() as conn:
            current = self._quarantined(conn, file_id)
            detail = {"reason": reason}
            append_events(conn, [(current.tenant, "file", file_id, DISMISSED, detail)], actor)
            return current

    def replace_file(self, file_id: int, *, by: int, reason: str, actor: str) -> FileRow:
        """An operator says file `by` (parsed, same tenant and kind) is the corrected export.

        Raises:
            UnknownEntityError: either file does not exist.
            InvalidTransitionError: the old file is not quarantined, or the new one is not a
                parsed file of the same tenant and kind.
        """
        with self._db.write() as conn:
            current = self._quarantined(conn, file_id)
            row = conn.execute(sa.select(files).where(files.c.id == by)).first()
            if row is None:
                raise UnknownEntityError(f"no file #{by}")
            new = file_row(row._mapping)
            if (new.tenant, new.kind) != (current.tenant, current.kind) or new.id == file_id:
                raise InvalidTransitionError(
                    f"file #{by} is not another {current.kind} export of tenant {current.tenant}"
                )
            if new.state != FileState.PARSED:
                raise InvalidTransitionError(
                    f"file #{by} is {new.state.value}: only a parsed file replaces another"
                )
            detail = {"reason": reason, "replaced_by": by, "replaced_by_name": new.name}
            append_events(conn, [(current.tenant, "file", file_id, REPLACED, detail)], actor)
            return current

    def reopen_file(self, file_id: int, *, reason: str, actor: str) -> FileRow:
        """Take back a dismissal or replacement: the file needs attention again."""
        with self._db.write() as conn:
            current = self._quarantined(conn, file_id)
            detail = {"reason": reason}
            append_events(conn, [(current.tenant, "file", file_id, REOPENED, detail)], actor)
            return current

    def file_decisions(self, tenant: str) -> dict[int, FileDecision]:
        """Each quarantined file's standing decision (the last one; a reopened file has none)."""
        query = (
            sa.select(audit_events)
            .where(
                audit_events.c.tenant == tenant,
                audit_events.c.entity == "file",
                audit_events.c.event.in_(DECISIONS),
            )
            .order_by(audit_events.c.id)
        )
        decisions: dict[int, FileDecision] = {}
        with self._db.read() as conn:
            for r in conn.execute(query):
                file_id = int(r.entity_id)
                if r.event == REOPENED:
                    decisions.pop(file_id, None)
                    continue
                detail = r.detail or {}
                by = detail.get("replaced_by")
                decisions[file_id] = FileDecision(
                    file_id=file_id,
                    event=r.event,
                    reason=str(detail.get("reason") or ""),
                    actor=r.actor,
                    at=r.at,
                    replaced_by=int(by) if by is not None else None,
                )
        return decisions
