"""The ledger: the source of truth for what was seen, taken, recorded and why.

Dagster may re-run a step, a sensor may fire twice and a process may die at any line; every
method here is one transaction, and the unique indexes of `tables.py` turn races into no-ops,
so all of that stays harmless. Every state change writes an `audit_events` row in the same
transaction.

Timestamps are tz-aware UTC from this process's clock; file observation uses the `now` the
caller passes, because settling compares two listings made by the same clock. Posting leases
use the database clock (see `postings.py`).

`Ledger` is one facade over rooms that share a `LedgerDb` (engine and transactions, `db.py`):
files and batches (`files.py`), records and row errors (`records.py`), postings with claims
and leases (`postings.py`), read queries (`queries.py`), the audit trail (`audit.py`) and
operators' decisions on quarantined files (`attention.py`), the review queue (`review.py`),
and the files sent to partners with their cursors and X12 control numbers
(`partner_exports.py`).
"""

import sqlalchemy as sa

from bridge_pipelines.ledger.attention import AttentionRoom
from bridge_pipelines.ledger.audit import DEFAULT_ACTOR, AuditRoom
from bridge_pipelines.ledger.db import LedgerDb, reconnecting_methods, utcnow
from bridge_pipelines.ledger.files import batch_id_for
from bridge_pipelines.ledger.partner_exports import PartnerExportRoom
from bridge_pipelines.ledger.postings import PostingRoom
from bridge_pipelines.ledger.queries import QueryRoom
from bridge_pipelines.ledger.records import RecordRoom, changed_fields
from bridge_pipelines.ledger.review import ReviewRoom
from bridge_pipelines.ledger.states import TERMINAL_FILE_STATES


@reconnecting_methods
class Ledger(
    RecordRoom, PostingRoom, QueryRoom, AuditRoom, AttentionRoom, ReviewRoom, PartnerExportRoom
):
    """Files, records, row errors, batches and audit events of every tenant.

    Args:
        url: SQLAlchemy URL; `sqlite:///path` (the default deployment) or
            `postgresql://...` (production).
        echo: log every SQL statement (debugging only).
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self._db = LedgerDb(url, echo=echo)
        self.url = self._db.url

    def __repr__(self) -> str:
        return f"Ledger({self.url.render_as_string(hide_password=True)!r})"

    @property
    def engine(self) -> sa.Engine:
        """The underlying engine (for tests and read-only reporting, never for writes)."""
        return self._db.engine

    def dispose(self) -> None:
        """Close every pooled connection (before dropping a database, or at shutdown)."""
        self._db.dispose()

    def migrate(self) -> None:
        """Bring the schema to the Alembic head; safe to run concurrently (`LedgerDb.migrate`)."""
        self._db.migrate()


__all__ = [
    "DEFAULT_ACTOR",
    "TERMINAL_FILE_STATES",
    "Ledger",
    "batch_id_for",
    "changed_fields",
    "utcnow",
]
