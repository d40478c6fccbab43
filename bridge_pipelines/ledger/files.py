"""Files and batches: observing listings, grouping files for a run, moving them through states.

File observation uses the `now` the caller passes, because settling compares two listings made
by the same clock; every other timestamp is this process's clock (`db.utcnow`).
"""

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from bridge_pipelines.ledger.audit import DEFAULT_ACTOR, Event, append_events
from bridge_pipelines.ledger.db import LedgerDb, chunks, utcnow
from bridge_pipelines.ledger.errors import InvalidTransitionError, UnknownEntityError
from bridge_pipelines.ledger.listing import KnownFile, plan_listing
from bridge_pipelines.ledger.models import Batch, FileRow, ListingEntry
from bridge_pipelines.ledger.rows import file_row
from bridge_pipelines.ledger.states import FileState, check_file_transition
from bridge_pipelines.ledger.tables import batches, files


def batch_id_for(tenant: str, file_ids: Iterable[int]) -> str:
    """A batch id that depends only on the tenant and the set of files (the Dagster run key)."""
    ids = ",".join(str(i) for i in sorted(set(file_ids)))
    return "b-" + hashlib.sha256(f"{tenant}\n{ids}".encode()).hexdigest()[:32]


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime refused: {value!r}")
    return value.astimezone(UTC)


# Hot statements, built once: the sensor runs them thousands of times per tick.
_KNOWN_COLUMNS = (
    files.c.id,
    files.c.kind,
    files.c.name,
    files.c.size,
    files.c.mtime,
    files.c.state,
    files.c.observed_at,
)
_IN_FOLDER = sa.and_(
    files.c.tenant == sa.bindparam("b_tenant"), files.c.folder == sa.bindparam("b_folder")
)
_NAMED = files.c.name.in_(sa.bindparam("b_names", expanding=True))
_KNOWN_FILES = sa.select(*_KNOWN_COLUMNS).where(
    _IN_FOLDER, sa.or_(files.c.state == FileState.SEEN.value, _NAMED)
)
_KNOWN_BY_NAME = sa.select(*_KNOWN_COLUMNS).where(_IN_FOLDER, _NAMED)
_RESTART_SETTLING = (
    files.update()
    .where(
        files.c.id == sa.bindparam("b_id"),
        files.c.state == FileState.SEEN.value,
        files.c.size == sa.bindparam("b_size"),
        files.c.mtime == sa.bindparam("b_mtime"),
    )
    .values(
        size=sa.bindparam("b_new_size"),
        mtime=sa.bindparam("b_new_mtime"),
        observed_at=sa.bindparam("b_now"),
        updated_at=sa.bindparam("b_now"),
    )
)
# `id IN` lets SQLite use the primary key; the row-value IN re-checks size and mtime, so a
# file that changed since it was read is not declared stable.
_SETTLE = (
    files.update()
    .where(
        files.c.id.in_(sa.bindparam("b_ids", expanding=True)),
        sa.tuple_(files.c.id, files.c.size, files.c.mtime).in_(
            sa.bindparam("b_keys", expanding=True)
        ),
        files.c.state == FileState.SEEN.value,
    )
    .values(
        state=FileState.STABLE.value,
        stable_at=sa.bindparam("b_now"),
        partition_day=sa.bindparam("b_day"),
        updated_at=sa.bindparam("b_now"),
    )
    .returning(*files.c)
)
_VANISH = (
    files.update()
    .where(files.c.id == sa.bindparam("b_id"), files.c.state == FileState.STABLE.value)
    .values(
        state=FileState.VANISHED.value,
        reason=sa.bindparam("b_reason"),
        updated_at=sa.bindparam("b_now"),
    )
    .returning(files.c.id)
)
_FORGET = (
    files.delete()
    .where(files.c.id == sa.bindparam("b_id"), files.c.state == FileState.SEEN.value)
    .returning(files.c.id)
)


class FileRoom:
    """Files and batches of every tenant."""

    _db: LedgerDb

    @cached_property
    def _insert_seen(self) -> Any:
        """Built on first use and kept, like the hot statements above (it needs the dialect)."""
        return (
            self._db.insert(files)
            .on_conflict_do_nothing()
            .returning(files.c.id, files.c.name, files.c.size, files.c.mtime)
        )

    # -- observation ----------------------------------------------------------------------

    def observe_listing(
        self,
        tenant: str,
        kind: str,
        folder: str,
        entries: Sequence[ListingEntry],
        *,
        settle: timedelta,
        zone: ZoneInfo,
        now: datetime | None = None,
        complete: bool = True,
        actor: str = DEFAULT_ACTOR,
    ) -> list[FileRow]:
        """Record one listing of a folder; return the files that became stable in this call.

        The rules are in `listing.plan_listing`: a new delivery is `seen`; once a later
        listing shows it unchanged `settle` after it last changed, it is `stable` with
        `partition_day` = the day of `now` in the tenant's zone. Terminal files are never
        touched. One SELECT per call, and a write transaction only when something changed,
        so a tick over 1,000 quiet tenants is cheap.

        Args:
            tenant: tenant id.
            kind: file kind of this folder (invoices, payments...).
            folder: remote folder the listing comes from.
            entries: the listing (anything with name, size, mtime).
            settle: how long a file must stay unchanged.
            zone: the tenant's time zone, for `partition_day`.
            now: the time of the listing (defaults to the current time).
            complete: `entries` is the whole folder: a `seen` file of this kind missing from it
                is forgotten (row deleted, audit event "forgotten" with the reason). Pass
                False for a partial listing.
            actor: who is recorded in the audit events.

        Returns:
            The files that moved from `seen` to `stable` in this call, by id. A concurrent
            call on the same folder never returns the same file twice.
        """
        now = _aware(now) if now is not None else utcnow()
        listed = {e.name: (int(e.size), int(e.mtime)) for e in entries}
        plan = plan_listing(
            self._known_files(tenant, folder, list(listed)),
            listed,
            kind=kind,
            now=now,
            settle=settle,
            complete=complete,
        )
        if not plan:
            return []
        day = now.astimezone(zone).date()
        events: list[Event] = []
        stable: list[FileRow] = []
        with self._db.write() as conn:
            if plan.new:
                rows = [
                    {
                        "tenant": tenant,
                        "kind": kind,
                        "folder": folder,
                        "name": name,
                        "size": size,
                        "mtime": mtime,
                        "state": FileState.SEEN.value,
                        "first_seen_at": now,
                        "observed_at": now,
                        "updated_at": now,
                    }
                    for name, size, mtime in plan.new
                ]
                # A concurrent tick may have inserted some already: those are skipped.
                for new in conn.execute(self._insert_seen, rows):
                    detail = {"kind": kind, "folder": folder, "name": new.name}
                    detail |= {"size": new.size, "mtime": new.mtime}
                    events.append((tenant, "file", new.id, FileState.SEEN.value, detail))
            if plan.changed:
                params = [
                    {"b_id": old.id, "b_size": old.size, "b_mtime": old.mtime}
                    | {"b_new_size": size, "b_new_mtime": mtime, "b_now": now}
                    for old, size, mtime in plan.changed
                ]
                conn.execute(_RESTART_SETTLING, params)
            for chunk in chunks(sorted(plan.settled, key=lambda f: f.id)):
                result = conn.execute(
                    _SETTLE,
                    {
                        "b_ids": [f.id for f in chunk],
                        "b_keys": [(f.id, f.size, f.mtime) for f in chunk],
                        "b_now": now,
                        "b_day": day,
                    },
                )
                stable.extend(file_row(r._mapping) for r in result)
            for settled in stable:
                detail = {"from": "seen", "size": settled.size, "mtime": settled.mtime}
                detail["partition_day"] = day.isoformat()
                events.append((tenant, "file", settled.id, FileState.STABLE.value, detail))
            for gone in sorted(plan.vanish, key=lambda v: v.file.id):
                vanish = {"b_id": gone.file.id, "b_reason": gone.reason, "b_now": now}
                if conn.execute(_VANISH, vanish).first() is not None:
                    detail = {"from": "stable", "reason": gone.reason}
                    events.append((tenant, "file", gone.file.id, "vanished", detail))
            for lost in sorted(plan.forget, key=lambda v: v.file.id):
                if conn.execute(_FORGET, {"b_id": lost.file.id}).first() is not None:
                    detail = {"from": "seen", "name": lost.file.name, "reason": lost.reason}
                    events.append((tenant, "file", lost.file.id, "forgotten", detail))
            append_events(conn, events, actor)
        return sorted(stable, key=lambda r: r.id)

    def _known_files(self, tenant: str, folder: str, names: Sequence[str]) -> list[KnownFile]:
        """The folder's settling files and every delivery of the listed names (one query)."""
        found: dict[int, KnownFile] = {}
        with self._db.read() as conn:
            for i, chunk in enumerate(list(chunks(names)) or [()]):
                query = _KNOWN_FILES if i == 0 else _KNOWN_BY_NAME
                params = {"b_tenant": tenant, "b_folder": folder, "b_names": list(chunk)}
                for r in conn.execute(query, params):
                    found[r.id] = KnownFile(
                        id=r.id,
                        kind=r.kind,
                        name=r.name,
                        size=r.size,
                        mtime=r.mtime,
                        state=FileState(r.state),
                        observed_at=r.observed_at,
                    )
        return list(found.values())

    # -- batches and transitions ----------------------------------------------------------

    def create_batch(
        self, tenant: str, file_ids: Sequence[int], *, actor: str = DEFAULT_ACTOR
    ) -> str:
        """Group files for one Dagster run; returns the batch id (the sensor's run key).

        The id depends only on the tenant and the set of files, so a sensor that fires twice
        gets the same id and Dagster drops the second request.

        Raises:
            ValueError: no file ids.
            UnknownEntityError: a file does not exist or belongs to another tenant.
            InvalidTransitionError: a file already belongs to another batch.
        """
        ids = sorted(set(file_ids))
        if not ids:
            raise ValueError("a batch needs at least one file")
        batch = batch_id_for(tenant, ids)
        with self._db.write() as conn:
            found: dict[int, Any] = {}
            for chunk in chunks(ids):
                query = (
                    sa.select(files.c.id, files.c.tenant, files.c.batch_id)
                    .where(files.c.id.in_(chunk))
                    .order_by(files.c.id)
                    .with_for_update()
                )
                found.update({r.id: r for r in conn.execute(query)})
            strangers = [i for i in ids if i not in found or found[i].tenant != tenant]
            if strangers:
                raise UnknownEntityError(f"tenant {tenant} has no files {strangers}")
            taken = {i: found[i].batch_id for i in ids if found[i].batch_id not in (None, batch)}
            if taken:
                raise InvalidTransitionError(f"files already in another batch: {taken}")
            now = utcnow()
            inserted = conn.execute(
                self._db.insert(batches)
                .values(id=batch, tenant=tenant, file_count=len(ids), created_at=now)
                .on_conflict_do_nothing()
                .returning(batches.c.id)
            ).first()
            if inserted is not None:
                for chunk in chunks(ids):
                    conn.execute(
                        files.update()
                        .where(files.c.id.in_(chunk), files.c.batch_id.is_(None))
                        .values(batch_id=batch, updated_at=now)
                    )
                append_events(conn, [(tenant, "batch", batch, "created", {"files": ids})], actor)
        return batch

    def batch(self, batch_id: str) -> Batch | None:
        """A batch and its files, or None."""
        with self._db.read() as conn:
            row = conn.execute(sa.select(batches).where(batches.c.id == batch_id)).first()
            if row is None:
                return None
            ids = conn.scalars(
                sa.select(files.c.id).where(files.c.batch_id == batch_id).order_by(files.c.id)
            ).all()
        return Batch(id=row.id, tenant=row.tenant, file_ids=tuple(ids), created_at=row.created_at)

    def _lock_file(self, conn: sa.Connection, file_id: int) -> FileRow:
        row = conn.execute(sa.select(files).where(files.c.id == file_id).with_for_update()).first()
        if row is None:
            raise UnknownEntityError(f"no file #{file_id}")
        return file_row(row._mapping)

    def _transition(
        self,
        conn: sa.Connection,
        current: FileRow,
        target: FileState,
        *,
        values: Mapping[str, Any],
        detail: Mapping[str, Any],
        actor: str,
    ) -> FileRow:
        """Move a locked file to `target`, guarded on its current state, and audit it."""
        check_file_transition(current.state, target)
        row = conn.execute(
            files.update()
            .where(files.c.id == current.id, files.c.state == current.state.value)
            .values(state=target.value, updated_at=utcnow(), **values)
            .returning(*files.c)
        ).first()
        if row is None:
            raise InvalidTransitionError(f"file #{current.id} changed state concurrently")
        moved = file_row(row._mapping)
        audit_detail = {"from": current.state.value, **detail}
        if moved.reason is not None:
            audit_detail["reason"] = moved.reason
        append_events(conn, [(moved.tenant, "file", moved.id, target.value, audit_detail)], actor)
        return moved

    def get_file(self, file_id: int) -> FileRow:
        """One file by id.

        Raises:
            UnknownEntityError: no such file.
        """
        with self._db.read() as conn:
            row = conn.execute(sa.select(files).where(files.c.id == file_id)).first()
        if row is None:
            raise UnknownEntityError(f"no file #{file_id}")
        return file_row(row._mapping)

    def mark_downloaded(
        self,
        file_id: int,
        *,
        sha256: str,
        size: int,
        archive_path: str,
        actor: str = DEFAULT_ACTOR,
    ) -> FileRow:
        """Record a completed download; the same bytes already taken make it a `duplicate`.

        "Taken" means another file of the tenant is `downloaded` or `parsed` with this sha256.
        A quarantined file's bytes do not count: after a template fix the partner may resend
        them under a new name and they must be read again (record dedup still guards P1).

        Returns:
            The file, `downloaded`, or `duplicate` with `duplicate_of` and a reason.

        Raises:
            InvalidTransitionError: the file is not `stable`.
        """

        def work(conn: sa.Connection) -> FileRow:
            current = self._lock_file(conn, file_id)
            check_file_transition(current.state, FileState.DOWNLOADED)
            original = conn.execute(
                sa.select(files.c.id, files.c.name)
                .where(
                    files.c.tenant == current.tenant,
                    files.c.sha256 == sha256,
                    files.c.state.in_([FileState.DOWNLOADED.value, FileState.PARSED.value]),
                    files.c.id != file_id,
                )
                .order_by(files.c.id)
                .limit(1)
            ).first()
            values: dict[str, Any] = {"sha256": sha256, "size": size, "archive_path": archive_path}
            detail = {"sha256": sha256, "size": size}
            if original is None:
                return self._transition(
                    conn, current, FileState.DOWNLOADED, values=values, detail=detail, actor=actor
                )
            values["duplicate_of"] = original.id
            values["reason"] = f"same content as {original.name} (file #{original.id})"
            return self._transition(
                conn, current, FileState.DUPLICATE, values=values, detail=detail, actor=actor
            )

        return self._db.race_safe(work)

    def mark_parsed(
        self,
        file_id: int,
        *,
        rows_total: int,
        rows_rejected: int,
        reason: str | None = None,
        actor: str = DEFAULT_ACTOR,
    ) -> FileRow:
        """Close a downloaded file with no documents to record (see `complete_parse`).

        Raises:
            InvalidTransitionError: the file is not `downloaded`.
        """
        values = {"rows_total": rows_total, "rows_rejected": rows_rejected, "reason": reason}
        detail = {"rows_total": rows_total, "rows_rejected": rows_rejected}
        with self._db.write() as conn:
            current = self._lock_file(conn, file_id)
            return self._transition(
                conn, current, FileState.PARSED, values=values, detail=detail, actor=actor
            )

    def mark_quarantined(self, file_id: int, reason: str, *, actor: str = DEFAULT_ACTOR) -> FileRow:
        """Refuse a whole file; its raw copy (if downloaded) stays in the archive.

        Raises:
            InvalidTransitionError: the file is already terminal.
        """
        with self._db.write() as conn:
            current = self._lock_file(conn, file_id)
            return self._transition(
                conn,
                current,
                FileState.QUARANTINED,
                values={"reason": reason},
                detail={},
                actor=actor,
            )

    def mark_vanished(self, file_id: int, reason: str, *, actor: str = DEFAULT_ACTOR) -> FileRow:
        """A file gone from the server before we could take it.

        Raises:
            InvalidTransitionError: the file was already downloaded or is terminal.
        """
        with self._db.write() as conn:
            current = self._lock_file(conn, file_id)
            return self._transition(
                conn, current, FileState.VANISHED, values={"reason": reason}, detail={}, actor=actor
            )
