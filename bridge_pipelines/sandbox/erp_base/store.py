"""The sandbox's state: one SQLite file in the state folder, so it survives a restart.

Every sandbox gets the shared tables (settings, armed faults, the request log); each ERP adds its
own schema. The server runs on one event loop thread and handlers are synchronous, so one
connection is enough and every write transaction is atomic with respect to other requests.
WAL with `synchronous=NORMAL` makes a committed write durable across a crash of the process,
which is what the `*_after_commit` faults promise.
"""

import contextlib
import json
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

BASE_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS faults (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    spec TEXT NOT NULL,
    remaining INTEGER,
    fired INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    query TEXT NOT NULL,
    headers TEXT NOT NULL,
    status INTEGER,
    outcome TEXT NOT NULL,
    duration_ms REAL NOT NULL
);
"""

STATE_FILE = "sandbox.sqlite3"


class StateStore:
    """The SQLite file of one sandbox: shared tables plus the ERP's own `schema`."""

    def __init__(self, state_dir: Path, schema: str) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self.path = state_dir / STATE_FILE
        self._schema = schema
        self._savepoints = 0
        self._conn = self._open()

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.executescript(BASE_SCHEMA + self._schema)
        return conn

    @property
    def is_empty(self) -> bool:
        """True until the sandbox has been seeded (a fresh state folder)."""
        return self.get_json("seeded", None) is None

    def wipe(self) -> None:
        """Delete every row of every table: the state folder as if new."""
        self._conn.close()
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                Path(f"{self.path}{suffix}").unlink()
        self._conn = self._open()

    def close(self) -> None:
        self._conn.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed on exit, rolled back on an exception.

        Nested inside another (an OData `$batch` changeset around several creates), it is a
        savepoint: its work commits or rolls back with the outer transaction.
        """
        if self._conn.in_transaction:
            self._savepoints += 1
            name = f"nested_{self._savepoints}"
            self._conn.execute(f"SAVEPOINT {name}")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute(f"ROLLBACK TO {name}")
                self._conn.execute(f"RELEASE {name}")
                raise
            self._conn.execute(f"RELEASE {name}")
            return
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def rows(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        """Run a read and return every row."""
        return list(self._conn.execute(sql, params))

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> sqlite3.Cursor:
        """Run one statement in its own (autocommit) transaction."""
        return self._conn.execute(sql, params)

    def get_json(self, key: str, default: Any) -> Any:
        row = self._conn.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row["value"])

    def set_json(self, key: str, value: Any) -> None:
        self._conn.execute(
            "INSERT INTO kv (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, json.dumps(value)),
        )
