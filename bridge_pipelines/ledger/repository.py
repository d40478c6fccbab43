"""The ledger: the source of truth for what was seen, taken, recorded and why.

Dagster may re-run a step, a sensor may fire twice and a process may die at any line; every
method here is one transaction, and the unique indexes of `tables.py` turn races into no-ops,
so all of that stays harmless. Every state change writes an `audit_events` row in the same
transaction.

Timestamps are tz-aware UTC from this process's clock; file observation uses the `now` the
caller passes, because settling compares two listings made by the same clock. Posting leases
use the database clock (see the postings section).

On SQLite every write transaction starts with `BEGIN IMMEDIATE`: writers queue on the busy
timeout instead of failing when a read snapshot cannot be upgraded. On PostgreSQL rows are
locked with `SELECT ... FOR UPDATE` before they are checked and changed.
"""

import dataclasses
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

from bridge_pipelines.ledger.coltypes import UtcDateTime, plain_json
from bridge_pipelines.ledger.errors import (
    ExternalRefConflictError,
    InvalidTransitionError,
    LeaseLostError,
    UnknownEntityError,
)
from bridge_pipelines.ledger.listing import KnownFile, plan_listing
from bridge_pipelines.ledger.models import (
    AuditEvent,
    Batch,
    DocumentIn,
    FileRow,
    ListingEntry,
    PlannedPosting,
    PostingRow,
    RecordOutcome,
    RecordRow,
    RowErrorIn,
    RowErrorRow,
)
from bridge_pipelines.ledger.states import (
    PENDING_FILE_STATES,
    TERMINAL_FILE_STATES,
    FileState,
    PostingState,
    RecordState,
    check_file_transition,
    check_posting_transition,
)
from bridge_pipelines.ledger.tables import audit_events, batches, files, postings, records
from bridge_pipelines.ledger.tables import row_errors as row_errors_table
from bridge_pipelines.redaction import redact

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

    # -- postings -------------------------------------------------------------------------
    #
    # reliability.md §2. A claim commits `sending` with a lease before any byte reaches the
    # ERP; every later write is fenced on `lease_owner = :me` and the states it may come from,
    # so a worker whose lease was taken over can write nothing (LeaseLostError). Leases are
    # set and compared with the database clock only: workers' clocks may disagree (§4 #19).

    def _db_now(self) -> sa.ColumnElement[Any]:
        """The database's current time, comparable with `lease_until` on this backend."""
        if self._sqlite:
            # SQLAlchemy stores SQLite datetimes as 'YYYY-MM-DD HH:MM:SS.ffffff' (naive UTC);
            # %f gives 'SS.fff', padded to six digits so text comparison stays chronological.
            return sa.func.strftime("%Y-%m-%d %H:%M:%f", "now").op("||")(sa.literal("000"))
        return sa.func.now()

    def _db_now_plus(self, ttl: timedelta) -> sa.ColumnElement[Any]:
        if ttl <= timedelta(0):
            raise ValueError(f"a lease needs a positive ttl, got {ttl}")
        if self._sqlite:
            shift = f"{ttl.total_seconds():+.6f} seconds"
            return sa.func.strftime("%Y-%m-%d %H:%M:%f", "now", shift).op("||")(sa.literal("000"))
        return sa.func.now() + sa.literal(ttl, sa.Interval())

    def database_now(self) -> datetime:
        """The database clock (tz-aware UTC), the one leases are measured by."""
        with self._read() as conn:
            value = conn.execute(sa.select(sa.type_coerce(self._db_now(), UtcDateTime))).scalar()
        assert isinstance(value, datetime)
        return value

    def _claimable(self, tenant: str, target: str) -> sa.ColumnElement[bool]:
        return sa.and_(
            postings.c.tenant == tenant,
            postings.c.target == target,
            sa.or_(
                postings.c.state == PostingState.PLANNED.value,
                sa.and_(
                    postings.c.state.in_([PostingState.SENDING.value, PostingState.UNKNOWN.value]),
                    sa.or_(
                        postings.c.lease_until.is_(None),
                        postings.c.lease_until < self._db_now(),
                    ),
                ),
            ),
        )

    def plan_postings(
        self,
        tenant: str,
        target: str,
        items: Sequence[PlannedPosting],
        *,
        actor: str = DEFAULT_ACTOR,
    ) -> list[PostingRow]:
        """Upsert `planned` postings, idempotently; returns each item's row, in item order.

        A new reference is inserted `planned`. A known one is left as it is, except that a
        `planned` row (nothing of it is in the ERP) takes a changed `payload_hash` (and record).
        Rows in any other state are returned unchanged: a rejected posting is re-planned only
        by `resolve_posting`, and a sent one is never re-planned.

        Raises:
            UnknownEntityError: a record does not exist or belongs to another tenant.
            ExternalRefConflictError: a reference already belongs to another tenant, target or
                record, or the record already has a posting to `target` under another reference.
        """
        unique: dict[str, PlannedPosting] = {}
        for item in items:
            seen = unique.setdefault(item.external_ref, item)
            if seen != item:
                raise ExternalRefConflictError(
                    f"{item.external_ref} planned twice: {seen} and {item}"
                )
        if not unique:
            return []
        refs = sorted(unique)
        record_ids = sorted({i.record_id for i in unique.values()})

        def work(conn: sa.Connection) -> list[PostingRow]:
            owners: dict[int, str] = {}
            for chunk in _chunks(record_ids):
                query = sa.select(records.c.id, records.c.tenant).where(records.c.id.in_(chunk))
                owners.update({r.id: r.tenant for r in conn.execute(query)})
            strangers = [i for i in record_ids if owners.get(i) != tenant]
            if strangers:
                raise UnknownEntityError(f"tenant {tenant} has no records {strangers}")
            by_ref: dict[str, PostingRow] = {}
            by_record: dict[int, PostingRow] = {}
            for ref_chunk in _chunks(refs):
                query = (
                    sa.select(postings)
                    .where(postings.c.external_ref.in_(ref_chunk))
                    .order_by(postings.c.id)
                    .with_for_update()
                )
                by_ref.update(
                    {r.external_ref: _posting_row(r._mapping) for r in conn.execute(query)}
                )
            for chunk in _chunks(record_ids):
                query = (
                    sa.select(postings)
                    .where(postings.c.target == target, postings.c.record_id.in_(chunk))
                    .order_by(postings.c.id)
                    .with_for_update()
                )
                by_record.update(
                    {r.record_id: _posting_row(r._mapping) for r in conn.execute(query)}
                )
            now = utcnow()
            fresh: list[dict[str, Any]] = []
            events: list[tuple[str, str, str | int, str, Mapping[str, Any]]] = []
            for ref in refs:
                item = unique[ref]
                row = by_ref.get(ref)
                other = by_record.get(item.record_id)
                if other is not None and other.external_ref != ref:
                    raise ExternalRefConflictError(
                        f"record #{item.record_id} already has posting #{other.id} to {target} "
                        f"as {other.external_ref}, not {ref}"
                    )
                if row is None:
                    fresh.append(
                        {
                            "tenant": tenant,
                            "record_id": item.record_id,
                            "target": target,
                            "external_ref": ref,
                            "payload_hash": item.payload_hash,
                            "state": PostingState.PLANNED.value,
                            "attempt": 0,
                            "created_at": now,
                            "updated_at": now,
                        }
                    )
                    continue
                if row.tenant != tenant or row.target != target:
                    raise ExternalRefConflictError(
                        f"{ref} already belongs to posting #{row.id} "
                        f"of {row.tenant} to {row.target}"
                    )
                if row.record_id != item.record_id and row.state != PostingState.PLANNED:
                    raise ExternalRefConflictError(
                        f"{ref} already belongs to record #{row.record_id} ({row.state}), "
                        f"not #{item.record_id}"
                    )
                changed = row.payload_hash != item.payload_hash or row.record_id != item.record_id
                if row.state == PostingState.PLANNED and changed:
                    updated = conn.execute(
                        postings.update()
                        .where(
                            postings.c.id == row.id,
                            postings.c.state == PostingState.PLANNED.value,
                        )
                        .values(
                            payload_hash=item.payload_hash,
                            record_id=item.record_id,
                            updated_at=now,
                        )
                        .returning(*postings.c)
                    ).first()
                    assert updated is not None  # locked above
                    by_ref[ref] = _posting_row(updated._mapping)
                    detail: dict[str, Any] = {"from": row.state.value}
                    detail["payload_hash"] = item.payload_hash
                    detail |= {"previous_hash": row.payload_hash, "record_id": item.record_id}
                    events.append((tenant, "posting", row.id, "replanned", detail))
            if fresh:
                inserted = conn.execute(
                    postings.insert().returning(*postings.c, sort_by_parameter_order=True), fresh
                )
                for r in inserted:
                    created = _posting_row(r._mapping)
                    by_ref[created.external_ref] = created
                    planned: dict[str, Any] = {"record_id": created.record_id, "target": target}
                    planned["external_ref"] = created.external_ref
                    events.append((tenant, "posting", created.id, "planned", planned))
            self._audit(conn, events, actor)
            return [by_ref[i.external_ref] for i in items]

        return self._race_safe(work)

    def claim_postings(
        self, tenant: str, target: str, *, owner: str, ttl: timedelta, limit: int
    ) -> list[PostingRow]:
        """Claim up to `limit` postings for `owner`: `sending`, leased until db-now + `ttl`.

        Claimable: `planned` rows, and `sending` or `unknown` rows whose lease has expired (the
        worker died or gave up). The claim commits before this returns, so it is durable before
        any byte reaches the ERP. Each returned row carries `claimed_from`; when that is
        `sending` or `unknown` the ERP must be searched before anything is sent. On PostgreSQL
        concurrent claimers skip each other's rows (`FOR UPDATE SKIP LOCKED`); on SQLite the
        write lock (`BEGIN IMMEDIATE`) serialises them. Oldest rows first.

        Args:
            tenant: tenant id.
            target: ERP kind and company.
            owner: a token unique to this worker and attempt (fencing relies on it).
            ttl: lease length; must exceed the longest ERP call, deadline included.
            limit: most rows to claim.
        """
        if limit <= 0:
            return []
        lease_until = self._db_now_plus(ttl)
        with self._write() as conn:
            candidates = conn.execute(
                sa.select(postings.c.id, postings.c.state)
                .where(self._claimable(tenant, target))
                .order_by(postings.c.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            if not candidates:
                return []
            previous = {r.id: PostingState(r.state) for r in candidates}
            now = utcnow()
            claimed = conn.execute(
                postings.update()
                .where(postings.c.id.in_(list(previous)), self._claimable(tenant, target))
                .values(
                    state=PostingState.SENDING.value,
                    lease_owner=owner,
                    lease_until=lease_until,
                    attempt=postings.c.attempt + 1,
                    updated_at=now,
                )
                .returning(*postings.c)
            ).all()
            rows = sorted(
                (_posting_row(r._mapping, claimed_from=previous[r.id]) for r in claimed),
                key=lambda p: p.id,
            )
            self._audit(
                conn,
                [
                    (
                        tenant,
                        "posting",
                        r.id,
                        "claimed",
                        {"from": str(r.claimed_from), "attempt": r.attempt, "owner": owner},
                    )
                    for r in rows
                ],
                owner,
            )
            return rows

    def _fenced(
        self,
        posting_id: int,
        owner: str,
        target: PostingState,
        *,
        values: Mapping[str, Any],
        detail: Mapping[str, Any],
        sources: frozenset[PostingState] = frozenset({PostingState.SENDING}),
        event_name: str | None = None,
    ) -> PostingRow:
        """Move a posting this owner holds to `target`, with an audit event, in one transaction.

        Raises:
            LeaseLostError: another owner holds the row, or it is no longer in `sources`.
            UnknownEntityError: no such posting.
        """
        with self._write() as conn:
            found = conn.execute(
                sa.select(postings).where(postings.c.id == posting_id).with_for_update()
            ).first()
            if found is None:
                raise UnknownEntityError(f"no posting #{posting_id}")
            current = _posting_row(found._mapping)
            if current.lease_owner != owner or current.state not in sources:
                raise LeaseLostError(
                    f"posting #{posting_id} is {current.state}, held by "
                    f"{current.lease_owner or 'nobody'}: {owner} may not make it {target}"
                )
            check_posting_transition(current.state, target)
            row = conn.execute(
                postings.update()
                .where(
                    postings.c.id == posting_id,
                    postings.c.lease_owner == owner,
                    postings.c.state == current.state.value,
                )
                .values(state=target.value, updated_at=utcnow(), **values)
                .returning(*postings.c)
            ).first()
            if row is None:  # pragma: no cover - the row is locked above
                raise LeaseLostError(f"posting #{posting_id} changed under {owner}")
            moved = _posting_row(row._mapping)
            if event_name is not None or current.state != target:
                audit_detail = {"from": current.state.value, "attempt": moved.attempt, **detail}
                self._audit(
                    conn,
                    [(moved.tenant, "posting", moved.id, event_name or target.value, audit_detail)],
                    owner,
                )
            return moved

    def extend_lease(self, posting_id: int, owner: str, ttl: timedelta) -> PostingRow:
        """Push the lease to db-now + `ttl` (before each ERP call of a long batch).

        Raises:
            LeaseLostError: the lease was taken over, or the row is neither sending nor unknown.
        """
        lease_until = self._db_now_plus(ttl)
        held = frozenset({PostingState.SENDING, PostingState.UNKNOWN})
        with self._write() as conn:
            row = conn.execute(
                postings.update()
                .where(
                    postings.c.id == posting_id,
                    postings.c.lease_owner == owner,
                    postings.c.state.in_([s.value for s in held]),
                )
                .values(lease_until=lease_until)
                .returning(*postings.c)
            ).first()
        if row is None:
            raise LeaseLostError(f"posting #{posting_id}: {owner} no longer holds its lease")
        return _posting_row(row._mapping)

    def mark_posted(
        self,
        posting_id: int,
        owner: str,
        erp_doc_id: str,
        response: str | None = None,
        *,
        reason: str | None = None,
    ) -> PostingRow:
        """The ERP has the document (it answered, or a lookup found exactly one).

        Raises:
            LeaseLostError: `owner` no longer holds the posting.
        """
        kept = _kept_response(response)
        return self._fenced(
            posting_id,
            owner,
            PostingState.POSTED,
            values={
                "erp_doc_id": erp_doc_id,
                "last_response": kept,
                "reason": reason,
                "posted_at": utcnow(),
                **_NO_LEASE,
            },
            detail={"erp_doc_id": erp_doc_id, "reason": reason, "response": kept},
            sources=frozenset({PostingState.SENDING, PostingState.UNKNOWN}),
        )

    def mark_rejected(
        self, posting_id: int, owner: str, response: str | None, reason: str
    ) -> PostingRow:
        """The ERP refused the document; its answer is kept. Only a new payload re-plans it.

        Raises:
            LeaseLostError: `owner` no longer holds the posting.
        """
        kept = _kept_response(response)
        return self._fenced(
            posting_id,
            owner,
            PostingState.REJECTED,
            values={"last_response": kept, "reason": reason, **_NO_LEASE},
            detail={"reason": reason, "response": kept},
        )

    def mark_unknown(
        self,
        posting_id: int,
        owner: str,
        reason: str,
        *,
        response: str | None = None,
        hold_lease: bool = True,
    ) -> PostingRow:
        """The document may or may not be in the ERP: only a lookup can tell.

        With `hold_lease` the owner keeps the lease to look it up at once; without, the row is
        left for the next claim (or the reconciler), which looks it up first.

        Raises:
            LeaseLostError: `owner` no longer holds the posting.
        """
        kept = _kept_response(response)
        values: dict[str, Any] = {"reason": reason}
        if kept is not None:
            values["last_response"] = kept
        if not hold_lease:
            values |= _NO_LEASE
        return self._fenced(
            posting_id,
            owner,
            PostingState.UNKNOWN,
            values=values,
            detail={"reason": reason, "response": kept, "lease_kept": hold_lease},
            sources=frozenset({PostingState.SENDING, PostingState.UNKNOWN}),
            event_name=PostingState.UNKNOWN.value,
        )

    def mark_needs_review(
        self, posting_id: int, owner: str, reason: str, *, response: str | None = None
    ) -> PostingRow:
        """Hold the posting for an operator (lookup down or stale, several matches...).

        Raises:
            LeaseLostError: `owner` no longer holds the posting.
        """
        kept = _kept_response(response)
        values: dict[str, Any] = {"reason": reason, **_NO_LEASE}
        if kept is not None:
            values["last_response"] = kept
        return self._fenced(
            posting_id,
            owner,
            PostingState.NEEDS_REVIEW,
            values=values,
            detail={"reason": reason, "response": kept},
            sources=frozenset({PostingState.SENDING, PostingState.UNKNOWN}),
        )

    def release_to_planned(self, posting_id: int, owner: str, reason: str) -> PostingRow:
        """Give a posting back, for the next claim to send: nothing of it is in the ERP.

        Only for a posting that never reached the ERP, or that a consistent lookup did not find.

        Raises:
            LeaseLostError: `owner` no longer holds the posting.
        """
        return self._fenced(
            posting_id,
            owner,
            PostingState.PLANNED,
            values={"reason": reason, **_NO_LEASE},
            detail={"reason": reason},
            sources=frozenset({PostingState.SENDING, PostingState.UNKNOWN}),
        )

    def resolve_posting(
        self,
        posting_id: int,
        to: PostingState,
        *,
        reason: str,
        actor: str,
        payload_hash: str | None = None,
        erp_doc_id: str | None = None,
    ) -> PostingRow:
        """An operator's resolution of a held or rejected posting.

        `needs_review → posted` needs the `erp_doc_id` the operator found in the ERP;
        `needs_review → planned` asserts the ERP does not have it; `rejected → planned` needs
        a `payload_hash` different from the rejected one (the mapping or data was fixed).

        Raises:
            InvalidTransitionError: any other move, or a re-plan without a new payload.
            UnknownEntityError: no such posting.
        """
        with self._write() as conn:
            found = conn.execute(
                sa.select(postings).where(postings.c.id == posting_id).with_for_update()
            ).first()
            if found is None:
                raise UnknownEntityError(f"no posting #{posting_id}")
            current = _posting_row(found._mapping)
            if current.state not in (PostingState.NEEDS_REVIEW, PostingState.REJECTED):
                raise InvalidTransitionError(
                    f"posting #{posting_id} is {current.state}: only needs_review or rejected "
                    "postings are resolved by hand"
                )
            check_posting_transition(current.state, to)
            values: dict[str, Any] = {"reason": reason, **_NO_LEASE}
            if to == PostingState.POSTED:
                if not erp_doc_id:
                    raise InvalidTransitionError("resolving as posted needs the ERP document id")
                values |= {"erp_doc_id": erp_doc_id, "posted_at": utcnow()}
            if current.state == PostingState.REJECTED and (
                payload_hash is None or payload_hash == current.payload_hash
            ):
                raise InvalidTransitionError(
                    f"posting #{posting_id} was rejected: re-planning needs a new payload "
                    "(fix the mapping or data first)"
                )
            if payload_hash is not None:
                values["payload_hash"] = payload_hash
            row = conn.execute(
                postings.update()
                .where(postings.c.id == posting_id, postings.c.state == current.state.value)
                .values(state=to.value, updated_at=utcnow(), **values)
                .returning(*postings.c)
            ).first()
            assert row is not None  # locked above
            moved = _posting_row(row._mapping)
            detail = {"from": current.state.value, "reason": reason, "resolved": True}
            detail |= {"erp_doc_id": erp_doc_id, "payload_hash": payload_hash}
            self._audit(conn, [(moved.tenant, "posting", moved.id, to.value, detail)], actor)
            return moved

    def get_posting(self, posting_id: int) -> PostingRow:
        """One posting by id.

        Raises:
            UnknownEntityError: no such posting.
        """
        with self._read() as conn:
            row = conn.execute(sa.select(postings).where(postings.c.id == posting_id)).first()
        if row is None:
            raise UnknownEntityError(f"no posting #{posting_id}")
        return _posting_row(row._mapping)

    def posting_by_ref(self, external_ref: str) -> PostingRow | None:
        """The posting carrying an external reference, if any."""
        with self._read() as conn:
            row = conn.execute(
                sa.select(postings).where(postings.c.external_ref == external_ref)
            ).first()
        return None if row is None else _posting_row(row._mapping)

    def postings(
        self,
        tenant: str,
        *,
        states: Iterable[PostingState] | None = None,
        day: date | None = None,
        target: str | None = None,
    ) -> list[PostingRow]:
        """A tenant's postings, oldest first; `day` is the partition day of their records."""
        query = sa.select(postings).where(postings.c.tenant == tenant)
        if states is not None:
            query = query.where(postings.c.state.in_([PostingState(s).value for s in states]))
        if target is not None:
            query = query.where(postings.c.target == target)
        if day is not None:
            query = query.join(records, records.c.id == postings.c.record_id).where(
                records.c.partition_day == day
            )
        with self._read() as conn:
            return [_posting_row(r._mapping) for r in conn.execute(query.order_by(postings.c.id))]

    def get_record(self, record_id: int) -> RecordRow:
        """One record by id (the posting engine builds the ERP document from it).

        Raises:
            UnknownEntityError: no such record.
        """
        with self._read() as conn:
            row = conn.execute(sa.select(records).where(records.c.id == record_id)).first()
        if row is None:
            raise UnknownEntityError(f"no record #{record_id}")
        return _record_row(row._mapping)


@dataclass(frozen=True)
class _Accepted:
    id: int
    content_hash: str
    payload: Any
    file_name: str


def _from_row(cls: type[T], r: Mapping[Any, Any], **converted: Any) -> T:
    """A result row as one of our frozen dataclasses; `converted` overrides raw column values."""
    values = {
        f.name: r[f.name]
        for f in dataclasses.fields(cls)  # type: ignore[arg-type]
        if f.name in r and f.name not in converted
    }
    return cls(**values, **converted)


def _file_row(r: Mapping[Any, Any]) -> FileRow:
    return _from_row(FileRow, r, state=FileState(r["state"]))


# Terminal moves and releases give the lease up.
_NO_LEASE: dict[str, Any] = {"lease_owner": None, "lease_until": None}
# ERP answers are kept for review, but a garbage answer must not bloat the ledger.
MAX_RESPONSE_CHARS = 64 * 1024


def _kept_response(response: str | None) -> str | None:
    """The ERP's answer as the ledger keeps it: redacted (P6) and bounded."""
    if response is None:
        return None
    text = redact(response)
    if len(text) > MAX_RESPONSE_CHARS:
        cut = len(text) - MAX_RESPONSE_CHARS
        text = f"{text[:MAX_RESPONSE_CHARS]}... [{cut} more characters not kept]"
    return text


def _posting_row(r: Mapping[Any, Any], *, claimed_from: PostingState | None = None) -> PostingRow:
    return _from_row(PostingRow, r, state=PostingState(r["state"]), claimed_from=claimed_from)


def _record_row(r: Mapping[Any, Any]) -> RecordRow:
    return _from_row(RecordRow, r, state=RecordState(r["state"]), rows=tuple(r["rows"]))


__all__ = ["TERMINAL_FILE_STATES", "Ledger", "batch_id_for", "changed_fields", "utcnow"]
