"""Find anything a person has in hand, and the whole trail behind it.

A vendor invoice number, Stampli's invoice id, a file name, our external reference (`BP...`)
or an ERP document number leads to the same trail: the file (and its batch, which is the
Dagster run's `bridge/batch` tag), the rows, the record, its postings with the ERP document,
and every audit event of each, oldest first. Read-only; every tenant unless one is named.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from bridge_pipelines.ledger.models import AuditEvent, FileRow, PostingRow, RecordRow
from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.ledger.rows import file_row, posting_row, record_row
from bridge_pipelines.ledger.tables import audit_events, files, postings, records

MAX_MATCHES = 50
_Select = sa.Select[Any]


@dataclass
class Trail:
    """One document's (or one file's) way through the bridge."""

    tenant: str
    matched: str
    """What the text matched: `invoice number`, `Stampli id`, `file name`, ..."""
    file: FileRow | None = None
    record: RecordRow | None = None
    postings: list[PostingRow] = field(default_factory=list)
    events: list[AuditEvent] = field(default_factory=list)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def find_trails(ledger: Ledger, text: str, tenant: str | None = None) -> list[Trail]:
    """Every trail `text` leads to (exact matches, at most `MAX_MATCHES`)."""
    text = text.strip()
    if not text:
        return []
    found: dict[tuple[str, int], Trail] = {}
    with ledger.engine.connect() as conn:

        def scoped(
            query: sa.Select[tuple[object, ...]], table: sa.Table
        ) -> sa.Select[tuple[object, ...]]:
            return query.where(table.c.tenant == tenant) if tenant else query

        # A posting by our reference or the ERP's document number.
        query = sa.select(postings).where(
            sa.or_(postings.c.external_ref == text, postings.c.erp_doc_id == text)
        )
        for r in conn.execute(scoped(query, postings).limit(MAX_MATCHES)):
            posting = posting_row(r._mapping)
            how = "external ref" if posting.external_ref == text else "ERP document"
            found.setdefault(("record", posting.record_id), Trail(posting.tenant, how))
        # A record by vendor invoice number (the middle of `vendor|number|type`) or Stampli id.
        like = f"%|{_escape_like(text)}|%"
        payload_like = f"%{_escape_like(text)}%"
        query = sa.select(records).where(
            sa.or_(
                records.c.identity.like(like, escape="\\"),
                sa.cast(records.c.payload, sa.Text).like(payload_like, escape="\\"),
            )
        )
        for r in conn.execute(scoped(query, records).order_by(records.c.id).limit(MAX_MATCHES * 4)):
            record = record_row(r._mapping)
            parts = record.identity.split("|")
            if len(parts) >= 2 and parts[1] == text:
                how = "invoice number"
            elif str(record.payload.get("invoice_id") or "") == text:
                how = "Stampli id"
            else:
                continue
            found.setdefault(("record", record.id), Trail(record.tenant, how))
        # A file by name.
        query = sa.select(files).where(files.c.name == text)
        for r in conn.execute(scoped(query, files).order_by(files.c.id).limit(MAX_MATCHES)):
            row = file_row(r._mapping)
            found.setdefault(("file", row.id), Trail(row.tenant, "file name", file=row))
        trails = list(found.items())[:MAX_MATCHES]
        for (entity, entity_id), trail in trails:
            if entity == "record":
                _fill_record(conn, trail, entity_id)
            _fill_events(conn, trail)
    return [trail for _, trail in trails]


def _fill_record(conn: sa.Connection, trail: Trail, record_id: int) -> None:
    r = conn.execute(sa.select(records).where(records.c.id == record_id)).first()
    if r is None:
        return
    trail.record = record_row(r._mapping)
    f = conn.execute(sa.select(files).where(files.c.id == trail.record.file_id)).first()
    trail.file = file_row(f._mapping) if f is not None else None
    trail.postings = [
        posting_row(p._mapping)
        for p in conn.execute(
            sa.select(postings).where(postings.c.record_id == record_id).order_by(postings.c.id)
        )
    ]


def _fill_events(conn: sa.Connection, trail: Trail) -> None:
    wanted: list[tuple[str, Iterable[int]]] = []
    if trail.file is not None:
        wanted.append(("file", [trail.file.id]))
    if trail.record is not None:
        wanted.append(("record", [trail.record.id]))
    if trail.postings:
        wanted.append(("posting", [p.id for p in trail.postings]))
    if not wanted:
        return
    condition = sa.or_(
        *(
            sa.and_(
                audit_events.c.entity == entity,
                audit_events.c.entity_id.in_([str(i) for i in ids]),
            )
            for entity, ids in wanted
        )
    )
    query = (
        sa.select(audit_events)
        .where(audit_events.c.tenant == trail.tenant, condition)
        .order_by(audit_events.c.id)
    )
    trail.events = [
        AuditEvent(
            id=r.id,
            at=r.at,
            tenant=r.tenant,
            entity=r.entity,
            entity_id=r.entity_id,
            event=r.event,
            detail=dict(r.detail or {}),
            actor=r.actor,
        )
        for r in conn.execute(query)
    ]
