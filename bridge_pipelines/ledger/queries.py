"""Read queries over files, records and row errors (reporting, search and verify)."""

from collections.abc import Iterable
from datetime import date

import sqlalchemy as sa

from bridge_pipelines.ledger.db import LedgerDb
from bridge_pipelines.ledger.models import FileRow, RecordRow, RowErrorRow
from bridge_pipelines.ledger.rows import file_row, record_row
from bridge_pipelines.ledger.states import PENDING_FILE_STATES, FileState, RecordState
from bridge_pipelines.ledger.tables import files, records
from bridge_pipelines.ledger.tables import row_errors as row_errors_table


class QueryRoom:
    """Read-only lists of a tenant's files, records and row errors."""

    _db: LedgerDb

    def tenants(self) -> list[str]:
        """Every tenant the ledger has files for."""
        with self._db.read() as conn:
            return list(conn.scalars(sa.select(files.c.tenant).distinct().order_by(files.c.tenant)))

    def files(self, tenant: str, *, states: Iterable[FileState] | None = None) -> list[FileRow]:
        """A tenant's files, oldest first, optionally only in `states`."""
        query = sa.select(files).where(files.c.tenant == tenant)
        if states is not None:
            query = query.where(files.c.state.in_([FileState(s).value for s in states]))
        with self._db.read() as conn:
            return [file_row(r._mapping) for r in conn.execute(query.order_by(files.c.id))]

    def pending_files(
        self, tenant: str, kind: str | None = None, partition_day: date | None = None
    ) -> list[FileRow]:
        """Files to take (stable or downloaded), in the order they became stable."""
        query = sa.select(files).where(
            files.c.tenant == tenant,
            files.c.state.in_([s.value for s in PENDING_FILE_STATES]),
        )
        if kind is not None:
            query = query.where(files.c.kind == kind)
        if partition_day is not None:
            query = query.where(files.c.partition_day == partition_day)
        with self._db.read() as conn:
            rows = conn.execute(query.order_by(files.c.stable_at, files.c.id))
            return [file_row(r._mapping) for r in rows]

    def records(
        self,
        tenant: str,
        *,
        kind: str | None = None,
        partition_day: date | None = None,
        file_id: int | None = None,
        states: Iterable[RecordState] | None = None,
    ) -> list[RecordRow]:
        """A tenant's records in the order they were recorded."""
        query = sa.select(records).where(records.c.tenant == tenant)
        if kind is not None:
            query = query.where(records.c.kind == kind)
        if partition_day is not None:
            query = query.where(records.c.partition_day == partition_day)
        if file_id is not None:
            query = query.where(records.c.file_id == file_id)
        if states is not None:
            query = query.where(records.c.state.in_([RecordState(s).value for s in states]))
        with self._db.read() as conn:
            return [record_row(r._mapping) for r in conn.execute(query.order_by(records.c.id))]

    def row_errors(self, tenant: str, *, file_id: int | None = None) -> list[RowErrorRow]:
        """Located row errors, with their file's name, in file and row order."""
        query = (
            sa.select(row_errors_table, files.c.name.label("file_name"))
            .join(files, files.c.id == row_errors_table.c.file_id)
            .where(row_errors_table.c.tenant == tenant)
        )
        if file_id is not None:
            query = query.where(row_errors_table.c.file_id == file_id)
        with self._db.read() as conn:
            return [
                RowErrorRow(
                    id=r.id,
                    tenant=r.tenant,
                    file_id=r.file_id,
                    file_name=r.file_name,
                    row=r.row,
                    field=r.field,
                    message=r.message,
                    document=r.document,
                    created_at=r.created_at,
                )
                for r in conn.execute(query.order_by(row_errors_table.c.id))
            ]

    def held_records(self, tenant: str) -> list[tuple[RecordRow, RecordRow]]:
        """Each held record beside the accepted one it conflicts with: both versions."""
        accepted = records.alias("accepted")
        query = (
            sa.select(records, accepted)
            .join(accepted, accepted.c.id == records.c.duplicate_of)
            .where(records.c.tenant == tenant, records.c.state == RecordState.HELD.value)
            .order_by(records.c.id)
        )
        width = len(records.c)
        with self._db.read() as conn:
            pairs = []
            for r in conn.execute(query):
                held = dict(zip(records.c.keys(), r[:width], strict=True))
                original = dict(zip(records.c.keys(), r[width:], strict=True))
                pairs.append((record_row(held), record_row(original)))
            return pairs
