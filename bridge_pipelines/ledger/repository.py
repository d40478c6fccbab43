"""The ledger: the source of truth for what was seen, taken, recorded and why.

Dagster may re-run a step, a sensor may fire twice and a process may die at any line; every
method here is one transaction, and the unique indexes of `tables.py` turn races into no-ops,
so all of that stays harmless. Every state change writes an `audit_events` row in the same
transaction.

Timestamps are tz-aware UTC from this process's clock; file observation uses the `now` the
caller passes, because settling compares two listings made by the same clock. (Posting leases,
a later issue, use the database clock.)

On SQLite every write transaction starts with `BEGIN IMMEDIATE`: writers queue on the busy
timeout instead of failing when a read snapshot cannot be upgraded. On PostgreSQL rows are
locked with `SELECT ... FOR UPDATE` before they are checked and changed.
"""

import hashlib
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import StaticPool

from bridge_pipelines.ledger.coltypes import plain_json
from bridge_pipelines.ledger.errors import InvalidTransitionError, UnknownEntityError
from bridge_pipelines.ledger.listing import KnownFile, plan_listing
from bridge_pipelines.ledger.models import (
    AuditEvent,
    Batch,
    DocumentIn,
    FileRow,
    ListingEntry,
    RecordOutcome,
    RecordRow,
    RowErrorIn,
    RowErrorRow,
)
from bridge_pipelines.ledger.states import (
    PENDING_FILE_STATES,
    TERMINAL_FILE_STATES,
    FileState,
    RecordState,
    check_file_transition,
)
from bridge_pipelines.ledger.tables import audit_events, batches, files, records
from bridge_pipelines.ledger.tables import row_errors as row_errors_table

log = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
ALEMBIC_INI = PACKAGE_DIR / "alembic.ini"
MIGRATIONS_DIR = PACKAGE_DIR / "migrations"

DEFAULT_ACTOR = "bridge"
SQLITE_BUSY_TIMEOUT_MS = 30_000
# pg_advisory_xact_lock key for migrations: any constant shared by every process of the product.
MIGRATION_LOCK_KEY = 0x6272_6964_6765  # "bridge"
# Bound parameters per IN list: SQLite allows 32,766 per statement; stay far below.
IN_CHUNK = 500
# A lost race on a unique index is retried from the start, in a new transaction.
RACE_ATTEMPTS = 3

T = TypeVar("T")


def utcnow() -> datetime:
    """The current time, tz-aware UTC."""
    return datetime.now(UTC)


def batch_id_for(tenant: str, file_ids: Iterable[int]) -> str:
    """A batch id that depends only on the tenant and the set of files (the Dagster run key)."""
    ids = ",".join(str(i) for i in sorted(set(file_ids)))
    return "b-" + hashlib.sha256(f"{tenant}\n{ids}".encode()).hexdigest()[:32]


def changed_fields(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Top-level payload keys whose values differ, in a stable order (for review reasons)."""
    keys = sorted(set(old) | set(new))
    return [k for k in keys if plain_json(old.get(k)) != plain_json(new.get(k))]


def _chunks(items: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime refused: {value!r}")
    return value.astimezone(UTC)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own transaction handling is switched off so that `_sqlite_on_begin` decides
    # how each transaction starts (SQLAlchemy's documented recipe for pysqlite).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        # WAL + NORMAL survives a process kill; only an OS crash may lose the last commits.
        cursor.execute("PRAGMA synchronous=NORMAL")
        _enable_wal(cursor)
    finally:
        cursor.close()


def _enable_wal(cursor: Any) -> None:
    """WAL lets readers (the CLI, sensors) run beside a writer; it persists in the file.

    Switching needs an exclusive lock and does not wait on the busy timeout, so processes that
    open a brand-new file together retry here.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
        if str(mode).lower() in ("wal", "memory"):
            return
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _sqlite_on_begin(connection: sa.Connection) -> None:
    write = connection.get_execution_options().get("ledger_write", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


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
_INSERT_AUDIT = audit_events.insert()


class Ledger:
    """Files, records, row errors, batches and audit events of every tenant.

    Args:
        url: SQLAlchemy URL; `sqlite:///path` (the default deployment) or
            `postgresql://...` (production).
        echo: log every SQL statement (debugging only).
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = sa.make_url(url)
        self._sqlite = self.url.get_backend_name() == "sqlite"
        # pre-ping guards against a PostgreSQL restart; a SQLite file has no server to lose.
        options: dict[str, Any] = {"echo": echo, "pool_pre_ping": not self._sqlite}
        if self._sqlite:
            database = self.url.database
            options["connect_args"] = {
                "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
                "check_same_thread": False,
            }
            if not database or database == ":memory:":
                options["poolclass"] = StaticPool
            else:
                Path(database).parent.mkdir(parents=True, exist_ok=True)
        self._engine = sa.create_engine(self.url, **options)
        self._insert_seen = (
            self._insert(files)
            .on_conflict_do_nothing()
            .returning(files.c.id, files.c.name, files.c.size, files.c.mtime)
        )
        if self._sqlite:
            event.listen(self._engine, "connect", _sqlite_on_connect)
            event.listen(self._engine, "begin", _sqlite_on_begin)

    def __repr__(self) -> str:
        return f"Ledger({self.url.render_as_string(hide_password=True)!r})"

    @property
    def engine(self) -> sa.Engine:
        """The underlying engine (for tests and read-only reporting, never for writes)."""
        return self._engine

    def dispose(self) -> None:
        """Close every pooled connection (before dropping a database, or at shutdown)."""
        self._engine.dispose()

    # -- transactions ---------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        with self._engine.connect() as conn:
            conn.execution_options(ledger_write=True)
            with conn.begin():
                yield conn

    @contextmanager
    def _read(self) -> Iterator[sa.Connection]:
        with self._engine.connect() as conn, conn.begin():
            yield conn

    def _insert(self, table: sa.Table) -> Any:
        """A dialect INSERT that supports ON CONFLICT DO NOTHING."""
        return (sqlite.insert if self._sqlite else postgresql.insert)(table)

    # -- schema ---------------------------------------------------------------------------

    def migrate(self) -> None:
        """Bring the schema to the Alembic head; idempotent and safe to run concurrently.

        The whole upgrade runs in one transaction that first takes a lock (an advisory lock on
        PostgreSQL, the write lock on SQLite), so a second process waits, then finds the head
        already applied.
        """
        config = Config(str(ALEMBIC_INI))
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        with self._write() as conn:
            if not self._sqlite:
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(MIGRATION_LOCK_KEY)))
            config.attributes["connection"] = conn
            command.upgrade(config, "head")

    # -- audit ----------------------------------------------------------------------------

    def _audit(
        self,
        conn: sa.Connection,
        events: Sequence[tuple[str, str, str | int, str, Mapping[str, Any]]],
        actor: str,
    ) -> None:
        """Append (tenant, entity, entity_id, event, detail) rows in the caller's transaction."""
        if not events:
            return
        at = utcnow()
        conn.execute(
            _INSERT_AUDIT,
            [
                {
                    "at": at,
                    "tenant": tenant,
                    "entity": entity,
                    "entity_id": str(entity_id),
                    "event": name,
                    "detail": plain_json(dict(detail)),
                    "actor": actor,
                }
                for tenant, entity, entity_id, name, detail in events
            ],
        )

    # -- files: observation ---------------------------------------------------------------

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
        events: list[tuple[str, str, str | int, str, Mapping[str, Any]]] = []
        stable: list[FileRow] = []
        with self._write() as conn:
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
            for chunk in _chunks(sorted(plan.settled, key=lambda f: f.id)):
                result = conn.execute(
                    _SETTLE,
                    {
                        "b_ids": [f.id for f in chunk],
                        "b_keys": [(f.id, f.size, f.mtime) for f in chunk],
                        "b_now": now,
                        "b_day": day,
                    },
                )
                stable.extend(_file_row(r._mapping) for r in result)
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
            self._audit(conn, events, actor)
        return sorted(stable, key=lambda r: r.id)

    def _known_files(self, tenant: str, folder: str, names: Sequence[str]) -> list[KnownFile]:
        """The folder's settling files and every delivery of the listed names (one query)."""
        found: dict[int, KnownFile] = {}
        with self._read() as conn:
            for i, chunk in enumerate(list(_chunks(names)) or [()]):
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

    # -- files: batches and transitions -----------------------------------------------------

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
        with self._write() as conn:
            found: dict[int, Any] = {}
            for chunk in _chunks(ids):
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
                self._insert(batches)
                .values(id=batch, tenant=tenant, file_count=len(ids), created_at=now)
                .on_conflict_do_nothing()
                .returning(batches.c.id)
            ).first()
            if inserted is not None:
                for chunk in _chunks(ids):
                    conn.execute(
                        files.update()
                        .where(files.c.id.in_(chunk), files.c.batch_id.is_(None))
                        .values(batch_id=batch, updated_at=now)
                    )
                self._audit(conn, [(tenant, "batch", batch, "created", {"files": ids})], actor)
        return batch

    def batch(self, batch_id: str) -> Batch | None:
        """A batch and its files, or None."""
        with self._read() as conn:
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
        return _file_row(row._mapping)

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
        moved = _file_row(row._mapping)
        audit_detail = {"from": current.state.value, **detail}
        if moved.reason is not None:
            audit_detail["reason"] = moved.reason
        self._audit(conn, [(moved.tenant, "file", moved.id, target.value, audit_detail)], actor)
        return moved

    def _race_safe(self, work: Callable[[sa.Connection], T]) -> T:
        """Run `work` in a write transaction; a lost race on a unique index runs it again."""
        for attempt in range(1, RACE_ATTEMPTS + 1):
            try:
                with self._write() as conn:
                    return work(conn)
            except IntegrityError:
                if attempt == RACE_ATTEMPTS:
                    raise
                log.info("ledger: lost a race on a unique index, retrying (%d)", attempt)
        raise AssertionError("unreachable")

    def get_file(self, file_id: int) -> FileRow:
        """One file by id.

        Raises:
            UnknownEntityError: no such file.
        """
        with self._read() as conn:
            row = conn.execute(sa.select(files).where(files.c.id == file_id)).first()
        if row is None:
            raise UnknownEntityError(f"no file #{file_id}")
        return _file_row(row._mapping)

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

        return self._race_safe(work)

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
        with self._write() as conn:
            current = self._lock_file(conn, file_id)
            return self._transition(
                conn, current, FileState.PARSED, values=values, detail=detail, actor=actor
            )

    def mark_quarantined(self, file_id: int, reason: str, *, actor: str = DEFAULT_ACTOR) -> FileRow:
        """Refuse a whole file; its raw copy (if downloaded) stays in the archive.

        Raises:
            InvalidTransitionError: the file is already terminal.
        """
        with self._write() as conn:
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
        with self._write() as conn:
            current = self._lock_file(conn, file_id)
            return self._transition(
                conn, current, FileState.VANISHED, values={"reason": reason}, detail={}, actor=actor
            )

    # -- records --------------------------------------------------------------------------

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
            self._audit(conn, [(parsed.tenant, "file", file_id, "recorded", summary)], actor)
            return outcome

        return self._race_safe(work)

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
            self._audit(
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
            for chunk in _chunks(sorted(identities)):
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

    # -- queries --------------------------------------------------------------------------

    def tenants(self) -> list[str]:
        """Every tenant the ledger has files for."""
        with self._read() as conn:
            return list(conn.scalars(sa.select(files.c.tenant).distinct().order_by(files.c.tenant)))

    def files(self, tenant: str, *, states: Iterable[FileState] | None = None) -> list[FileRow]:
        """A tenant's files, oldest first, optionally only in `states`."""
        query = sa.select(files).where(files.c.tenant == tenant)
        if states is not None:
            query = query.where(files.c.state.in_([FileState(s).value for s in states]))
        with self._read() as conn:
            return [_file_row(r._mapping) for r in conn.execute(query.order_by(files.c.id))]

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
        with self._read() as conn:
            rows = conn.execute(query.order_by(files.c.stable_at, files.c.id))
            return [_file_row(r._mapping) for r in rows]

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
        with self._read() as conn:
            return [_record_row(r._mapping) for r in conn.execute(query.order_by(records.c.id))]

    def row_errors(self, tenant: str, *, file_id: int | None = None) -> list[RowErrorRow]:
        """Located row errors, with their file's name, in file and row order."""
        query = (
            sa.select(row_errors_table, files.c.name.label("file_name"))
            .join(files, files.c.id == row_errors_table.c.file_id)
            .where(row_errors_table.c.tenant == tenant)
        )
        if file_id is not None:
            query = query.where(row_errors_table.c.file_id == file_id)
        with self._read() as conn:
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
        with self._read() as conn:
            pairs = []
            for r in conn.execute(query):
                held = dict(zip(records.c.keys(), r[:width], strict=True))
                original = dict(zip(records.c.keys(), r[width:], strict=True))
                pairs.append((_record_row(held), _record_row(original)))
            return pairs

    def audit(
        self, tenant: str, *, entity: str | None = None, entity_id: int | str | None = None
    ) -> list[AuditEvent]:
        """A tenant's audit trail, oldest first."""
        query = sa.select(audit_events).where(audit_events.c.tenant == tenant)
        if entity is not None:
            query = query.where(audit_events.c.entity == entity)
        if entity_id is not None:
            query = query.where(audit_events.c.entity_id == str(entity_id))
        with self._read() as conn:
            return [
                AuditEvent(
                    id=r.id,
                    at=r.at,
                    tenant=r.tenant,
                    entity=r.entity,
                    entity_id=r.entity_id,
                    event=r.event,
                    detail=r.detail,
                    actor=r.actor,
                )
                for r in conn.execute(query.order_by(audit_events.c.id))
            ]


@dataclass(frozen=True)
class _Accepted:
    id: int
    content_hash: str
    payload: Any
    file_name: str


def _file_row(r: Mapping[Any, Any]) -> FileRow:
    return FileRow(
        id=r["id"],
        tenant=r["tenant"],
        kind=r["kind"],
        folder=r["folder"],
        name=r["name"],
        size=r["size"],
        mtime=r["mtime"],
        sha256=r["sha256"],
        state=FileState(r["state"]),
        reason=r["reason"],
        partition_day=r["partition_day"],
        batch_id=r["batch_id"],
        archive_path=r["archive_path"],
        first_seen_at=r["first_seen_at"],
        stable_at=r["stable_at"],
        updated_at=r["updated_at"],
        duplicate_of=r["duplicate_of"],
        rows_total=r["rows_total"],
        rows_rejected=r["rows_rejected"],
    )


def _record_row(r: Mapping[Any, Any]) -> RecordRow:
    return RecordRow(
        id=r["id"],
        tenant=r["tenant"],
        kind=r["kind"],
        identity=r["identity"],
        content_hash=r["content_hash"],
        state=RecordState(r["state"]),
        file_id=r["file_id"],
        rows=tuple(r["rows"]),
        payload=r["payload"],
        amount=r["amount"],
        currency=r["currency"],
        partition_day=r["partition_day"],
        duplicate_of=r["duplicate_of"],
        reason=r["reason"],
        created_at=r["created_at"],
        document_day=r["document_day"],
    )


__all__ = ["TERMINAL_FILE_STATES", "Ledger", "batch_id_for", "changed_fields", "utcnow"]
