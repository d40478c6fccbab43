"""The ledger's database: engine, transactions and migrations, shared by every room.

On SQLite every write transaction starts with `BEGIN IMMEDIATE`: writers queue on the busy
timeout instead of failing when a read snapshot cannot be upgraded. On PostgreSQL rows are
locked with `SELECT ... FOR UPDATE` before they are checked and changed.

A lost PostgreSQL connection (a restart, a failover, a killed backend, a dropped socket) does
not fail the step: the pool pings a connection before lending it, and a ledger method whose
connection is lost or refused while it runs is run again on a new connection
(`reconnecting_methods`, after `RECONNECT_DELAYS`). Every ledger method is one transaction
that is safe to run again: an interrupted one was rolled back, and one whose COMMIT answer was
lost finds its own work done (state checks and unique indexes make it a no-op).
"""

import functools
import inspect
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.pool import StaticPool

log = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
ALEMBIC_INI = PACKAGE_DIR / "alembic.ini"
MIGRATIONS_DIR = PACKAGE_DIR / "migrations"

SQLITE_BUSY_TIMEOUT_MS = 30_000
# pg_advisory_xact_lock key for migrations: any constant shared by every process of the product.
MIGRATION_LOCK_KEY = 0x6272_6964_6765  # "bridge"
# Bound parameters per IN list: SQLite allows 32,766 per statement; stay far below.
IN_CHUNK = 500
# A lost race on a unique index is retried from the start, in a new transaction.
RACE_ATTEMPTS = 3
# After a lost connection, a ledger method runs again after each of these waits (seconds):
# long enough for a restarting server to accept connections again.
RECONNECT_DELAYS = (0.5, 2.0)
# What libpq and the server say when the connection itself is gone or refused.
_LOST = (
    "could not connect",
    "connection refused",
    "connection to server",
    "closed the connection",
    "terminating connection",
    "the database system is starting up",
    "the database system is shutting down",
    "server closed",
    "connection already closed",
)

T = TypeVar("T")
C = TypeVar("C", bound=type)


def lost_connection(exc: BaseException) -> bool:
    """Whether `exc` is the database connection lost or refused (not a statement's error)."""
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    text = str(exc.orig or exc).lower()
    return isinstance(exc, OperationalError) and any(lost in text for lost in _LOST)


_depth = threading.local()


def reconnecting_methods(cls: C) -> C:
    """Every public method of the ledger class `cls`, run again after a lost connection.

    Only the outermost ledger call retries (a method calling another does not multiply the
    attempts). `cls` has a `_db: LedgerDb`.
    """
    for name in dir(cls):
        if name.startswith("_") or name in ("dispose", "migrate"):
            continue
        attr = inspect.getattr_static(cls, name)
        if not inspect.isfunction(attr):
            continue
        setattr(cls, name, _reconnecting(attr))
    return cls


def _reconnecting(method: Callable[..., T]) -> Callable[..., T]:
    @functools.wraps(method)
    def run(self: Any, *args: Any, **kwargs: Any) -> T:
        if getattr(_depth, "value", 0):
            return method(self, *args, **kwargs)
        _depth.value = 1
        try:
            db: LedgerDb = self._db
            return db.reconnecting(lambda: method(self, *args, **kwargs), method.__name__)
        finally:
            _depth.value = 0

    return run


def utcnow() -> datetime:
    """The current time, tz-aware UTC."""
    return datetime.now(UTC)


def chunks(items: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    """`items` in slices short enough for one IN list."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _create_private(database: Path) -> None:
    """Create the SQLite file owner-only (0600) before SQLite does.

    SQLite gives its -wal and -shm files the database file's mode; the folder, when we create
    it, is owner-only too.
    """
    if not database.parent.exists():
        database.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        return
    os.close(fd)


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


class LedgerDb:
    """One engine and the transactions every room of the ledger runs in.

    Args:
        url: SQLAlchemy URL; `sqlite:///path` (the default deployment) or
            `postgresql://...` (production).
        echo: log every SQL statement (debugging only).
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = sa.make_url(url)
        self.sqlite = self.url.get_backend_name() == "sqlite"
        # pre-ping guards against a PostgreSQL restart; a SQLite file has no server to lose.
        options: dict[str, Any] = {"echo": echo, "pool_pre_ping": not self.sqlite}
        if self.sqlite:
            database = self.url.database
            options["connect_args"] = {
                "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
                "check_same_thread": False,
            }
            if not database or database == ":memory:":
                options["poolclass"] = StaticPool
            else:
                _create_private(Path(database))
        self.engine = sa.create_engine(self.url, **options)
        if self.sqlite:
            event.listen(self.engine, "connect", _sqlite_on_connect)
            event.listen(self.engine, "begin", _sqlite_on_begin)

    def dispose(self) -> None:
        """Close every pooled connection (before dropping a database, or at shutdown)."""
        self.engine.dispose()

    @contextmanager
    def write(self) -> Iterator[sa.Connection]:
        """A write transaction (`BEGIN IMMEDIATE` on SQLite)."""
        with self.engine.connect() as conn:
            conn.execution_options(ledger_write=True)
            with conn.begin():
                yield conn

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        """A read transaction: one consistent snapshot."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def insert(self, table: sa.Table) -> Any:
        """A dialect INSERT that supports ON CONFLICT DO NOTHING."""
        return (sqlite.insert if self.sqlite else postgresql.insert)(table)

    def reconnecting(self, work: Callable[[], T], what: str) -> T:
        """`work()`, run again on a new connection when the connection was lost or refused.

        SQLite has no server connection to lose: `work()` once.

        Raises:
            DBAPIError: the database stayed unreachable after `RECONNECT_DELAYS`, or any other
                database error (at once).
        """
        if self.sqlite:
            return work()
        for delay in (*RECONNECT_DELAYS, None):
            try:
                return work()
            except DBAPIError as exc:
                if delay is None or not lost_connection(exc):
                    raise
                log.warning(
                    "ledger %s: the database connection was lost (%s); reconnecting and "
                    "running it again in %.1fs",
                    what,
                    type(exc.orig).__name__ if exc.orig is not None else type(exc).__name__,
                    delay,
                )
                time.sleep(delay)
        raise AssertionError("unreachable")

    def race_safe(self, work: Callable[[sa.Connection], T]) -> T:
        """Run `work` in a write transaction; a lost race on a unique index runs it again."""
        for attempt in range(1, RACE_ATTEMPTS + 1):
            try:
                with self.write() as conn:
                    return work(conn)
            except IntegrityError:
                if attempt == RACE_ATTEMPTS:
                    raise
                log.info("ledger: lost a race on a unique index, retrying (%d)", attempt)
        raise AssertionError("unreachable")

    def migrate(self) -> None:
        """Bring the schema to the Alembic head; idempotent and safe to run concurrently.

        The whole upgrade runs in one transaction that first takes a lock (an advisory lock on
        PostgreSQL, the write lock on SQLite), so a second process waits, then finds the head
        already applied.
        """
        config = Config(str(ALEMBIC_INI))
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        with self.write() as conn:
            if not self.sqlite:
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(MIGRATION_LOCK_KEY)))
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
