"""Records and row errors: what a parsed file held, deduplicated by business identity."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from bridge_pipelines.ledger.audit import DEFAULT_ACTOR, append_events
from bridge_pipelines.ledger.coltypes import plain_json
from bridge_pipelines.ledger.db import chunks, utcnow
from bridge_pipelines.ledger.errors import UnknownEntityError
from bridge_pipelines.ledger.files import FileRoom
from bridge_pipelines.ledger.models import DocumentIn, FileRow, RecordOutcome, RecordRow, RowErrorIn
from bridge_pipelines.ledger.rows import record_row
from bridge_pipelines.ledger.states import FileState, RecordState
from bridge_pipelines.ledger.tables import files, records
from bridge_pipelines.ledger.tables import row_errors as row_errors_table


def changed_fields(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Top-level payload keys whose values differ, in a stable order (for review reasons)."""
    keys = sorted(set(old) | set(new))
    return [k for k in keys if plain_json(old.get(k)) != plain_json(new.get(k))]


@dataclass(frozen=True)
class _Accepted:
    id: int
    content_hash: str
    payload: Any
    file_name: str


class RecordRoom(FileRoom):
    """Records and row errors; recording a parse also closes its file, in one transaction."""

    def complete_parse(
        self,
        file_id: int,
        *,
        documents: Sequence[DocumentIn],
        row_errors: Sequence[RowErrorIn] = (),
        rows_total: int,
        rows_rejected: int | None = None,
        reason: str | None = None,
        actor: str = DEFAULT_ACTOR,
    ) -> RecordOutcome:
        """Record a parsed file's documents and row errors and mark it `parsed`, atomically.

        Dedup by (tenant, kind, identity): with no accepted record the document is
        `accepted`; with an accepted one of the same content hash it is a `duplicate`; with
        different content it is `held` for review, naming the changed top-level fields. The
        accepted record is never replaced. Calling this again for a parsed file records
        nothing and returns the first outcome.

        Args:
            file_id: a `downloaded` file.
            documents: the file's documents, in file order.
            row_errors: located problems (rows left out of `documents`).
            rows_total: data rows in the file.
            rows_rejected: rows refused; defaults to the distinct rows of `row_errors`.
            reason: a summary kept on the file (e.g. "3 of 120 rows rejected").
            actor: who is recorded in the audit events.

        Raises:
            InvalidTransitionError: the file is neither `downloaded` nor already `parsed`.
        """
        docs = list(documents)
        errors = list(row_errors)
        payloads = [plain_json(d.payload) for d in docs]
        if rows_rejected is None:
            rows_rejected = len({e.row for e in errors if e.row is not None})
        rejected = rows_rejected

        def work(conn: sa.Connection) -> RecordOutcome:
            current = self._lock_file(conn, file_id)
            if current.state == FileState.PARSED:
                return self._outcome(conn, file_id)
            parsed = self._transition(
                conn,
                current,
                FileState.PARSED,
                values={"rows_total": rows_total, "rows_rejected": rejected, "reason": reason},
                detail={
                    "rows_total": rows_total,
                    "rows_rejected": rejected,
                    "documents": len(docs),
                },
                actor=actor,
            )
            outcome = self._insert_records(conn, parsed, docs, payloads, actor)
            if errors:
                now = utcnow()
                conn.execute(
                    row_errors_table.insert(),
                    [
                        {
                            "tenant": parsed.tenant,
                            "file_id": file_id,
                            "row": e.row,
                            "field": e.field,
                            "message": e.message,
                            "document": e.document,
                            "created_at": now,
                        }
                        for e in errors
                    ],
                )
            summary = {"accepted": outcome.accepted, "duplicates": outcome.duplicates}
            summary |= {"held": outcome.held, "row_errors": len(errors)}
            append_events(conn, [(parsed.tenant, "file", file_id, "recorded", summary)], actor)
            return outcome

        return self._db.race_safe(work)

    def record_documents(
        self,
        tenant: str,
        file_id: int,
        documents: Sequence[DocumentIn],
        row_errors: Sequence[RowErrorIn] = (),
        *,
        rows_total: int | None = None,
        actor: str = DEFAULT_ACTOR,
    ) -> RecordOutcome:
        """`complete_parse` for callers that name the tenant: the same single transaction.

        `rows_total` defaults to the distinct rows of the documents and errors.

        Raises:
            UnknownEntityError: the file belongs to another tenant.
            InvalidTransitionError: the file is neither `downloaded` nor already `parsed`.
        """
        if self.get_file(file_id).tenant != tenant:
            raise UnknownEntityError(f"tenant {tenant} has no file #{file_id}")
        if rows_total is None:
            rows = {r for d in documents for r in d.rows}
            rows |= {e.row for e in row_errors if e.row is not None}
            rows_total = len(rows)
        return self.complete_parse(
            file_id,
            documents=documents,
            row_errors=row_errors,
            rows_total=rows_total,
            actor=actor,
        )

    def _insert_records(
        self,
        conn: sa.Connection,
        file: FileRow,
        docs: Sequence[DocumentIn],
        payloads: Sequence[Any],
        actor: str,
    ) -> RecordOutcome:
        """Decide accepted / duplicate / held for each document and insert them."""
        accepted = self._accepted_records(conn, file.tenant, {(d.kind, d.identity) for d in docs})
        now = utcnow()
        # (kind, identity) -> index into `fresh` for documents accepted earlier in this file.
        fresh_index: dict[tuple[str, str], int] = {}
        fresh: list[dict[str, Any]] = []
        repeats: list[tuple[dict[str, Any], tuple[str, str], Mapping[str, Any] | None]] = []
        for doc, payload in zip(docs, payloads, strict=True):
            key = (doc.kind, doc.identity)
            values = {
                "tenant": file.tenant,
                "kind": doc.kind,
                "identity": doc.identity,
                "content_hash": doc.content_hash,
                "file_id": file.id,
                "rows": list(doc.rows),
                "payload": payload,
                "document_day": doc.document_day,
                "amount": doc.amount,
                "currency": doc.currency,
                "partition_day": file.partition_day,
                "created_at": now,
            }
            if key not in accepted and key not in fresh_index:
                fresh_index[key] = len(fresh)
                fresh.append(values | {"state": RecordState.ACCEPTED.value})
            else:
                repeats.append((values, key, payload))

        if fresh:
            ids = conn.scalars(
                records.insert().returning(records.c.id, sort_by_parameter_order=True), fresh
            ).all()
            for key, index in fresh_index.items():
                row = fresh[index]
                accepted[key] = _Accepted(
                    ids[index], row["content_hash"], row["payload"], file.name
                )

        held = duplicates = 0
        later: list[dict[str, Any]] = []
        for values, key, payload in repeats:
            original = accepted[key]
            values["duplicate_of"] = original.id
            if values["content_hash"] == original.content_hash:
                values["state"] = RecordState.DUPLICATE.value
                values["reason"] = (
                    f"same content as record #{original.id} from {original.file_name}"
                )
                duplicates += 1
            else:
                changed = changed_fields(original.payload, payload or {})
                values["state"] = RecordState.HELD.value
                values["reason"] = (
                    f"differs from record #{original.id} from {original.file_name}: "
                    f"changed fields {', '.join(changed) if changed else '(none in payload)'}"
                )
                held += 1
            later.append(values)
        if later:
            ids = conn.scalars(
                records.insert().returning(records.c.id, sort_by_parameter_order=True), later
            ).all()
            append_events(
                conn,
                [
                    (
                        file.tenant,
                        "record",
                        record_id,
                        values["state"],
                        {
                            "kind": values["kind"],
                            "identity": values["identity"],
                            "file_id": file.id,
                            "of": values["duplicate_of"],
                            "reason": values["reason"],
                        },
                    )
                    for record_id, values in zip(ids, later, strict=True)
                ],
                actor,
            )
        return RecordOutcome(accepted=len(fresh), duplicates=duplicates, held=held)

    def _accepted_records(
        self, conn: sa.Connection, tenant: str, keys: set[tuple[str, str]]
    ) -> dict[tuple[str, str], "_Accepted"]:
        by_kind: dict[str, list[str]] = {}
        for kind, identity in keys:
            by_kind.setdefault(kind, []).append(identity)
        found: dict[tuple[str, str], _Accepted] = {}
        for kind, identities in by_kind.items():
            for chunk in chunks(sorted(identities)):
                query = (
                    sa.select(
                        records.c.id,
                        records.c.identity,
                        records.c.content_hash,
                        records.c.payload,
                        files.c.name,
                    )
                    .join(files, files.c.id == records.c.file_id)
                    .where(
                        records.c.tenant == tenant,
                        records.c.kind == kind,
                        records.c.state == RecordState.ACCEPTED.value,
                        records.c.identity.in_(chunk),
                    )
                )
                for r in conn.execute(query):
                    found[(kind, r.identity)] = _Accepted(r.id, r.content_hash, r.payload, r.name)
        return found

    def _outcome(self, conn: sa.Connection, file_id: int) -> RecordOutcome:
        query = (
            sa.select(records.c.state, sa.func.count())
            .where(records.c.file_id == file_id)
            .group_by(records.c.state)
        )
        counts: dict[str, int] = {state: n for state, n in conn.execute(query)}
        return RecordOutcome(
            accepted=counts.get(RecordState.ACCEPTED.value, 0),
            duplicates=counts.get(RecordState.DUPLICATE.value, 0),
            held=counts.get(RecordState.HELD.value, 0),
        )

    def get_record(self, record_id: int) -> RecordRow:
        """One record by id (the posting engine builds the ERP document from it).

        Raises:
            UnknownEntityError: no such record.
        """
        with self._db.read() as conn:
            row = conn.execute(sa.select(records).where(records.c.id == record_id)).first()
        if row is None:
            raise UnknownEntityError(f"no record #{record_id}")
        return record_row(row._mapping)
