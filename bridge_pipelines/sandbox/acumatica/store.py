"""Acumatica's records, sessions, OAuth tokens and long-running operations in the SQLite file.

A record is kept as plain values (unwrapped) keyed by its GUID `id`, with its entity's key
fields joined into `key` (unique per entity), so a PUT upserts by key and `If-None-Match: *`
can refuse an existing one. Amounts are JSON numbers, read back as `Decimal`.
"""

import hashlib
import json
import secrets
import sqlite3
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from bridge_pipelines.sandbox.acumatica.entities import Entity
from bridge_pipelines.sandbox.erp_base.store import StateStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (id TEXT PRIMARY KEY, entity TEXT NOT NULL,
    key TEXT NOT NULL, seq INTEGER NOT NULL, body TEXT NOT NULL, UNIQUE (entity, key));
CREATE INDEX IF NOT EXISTS records_seq ON records (entity, seq);
CREATE INDEX IF NOT EXISTS records_vendor_ref ON records (entity,
    json_extract(body, '$.Vendor') COLLATE NOCASE,
    json_extract(body, '$.VendorRef') COLLATE NOCASE);
CREATE INDEX IF NOT EXISTS records_key ON records (entity, key COLLATE NOCASE);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, kind TEXT NOT NULL,
    user_name TEXT NOT NULL, created_at TEXT NOT NULL, last_used_at TEXT NOT NULL,
    expires_at TEXT);
CREATE TABLE IF NOT EXISTS refresh_tokens (token_hash TEXT PRIMARY KEY,
    client_id TEXT NOT NULL, user_name TEXT NOT NULL, issued_at TEXT NOT NULL,
    expires_at TEXT NOT NULL, used_at TEXT);
CREATE TABLE IF NOT EXISTS operations (id TEXT PRIMARY KEY, polls_left INTEGER NOT NULL,
    error TEXT);
"""


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(value: Any) -> str:
    """JSON with `Decimal` amounts as numbers."""
    return json.dumps(value, default=_default, ensure_ascii=False)


def loads(text: str | bytes) -> Any:
    """JSON with numbers with a fraction read as `Decimal`."""
    return json.loads(text, parse_float=Decimal)


def key_of(entity: Entity, record: Mapping[str, Any]) -> str | None:
    """The record's key fields joined with `/`; None while one is missing."""
    parts = [record.get(k) for k in entity.keys]
    if any(p in (None, "") for p in parts):
        return None
    return "/".join(str(p) for p in parts)


def next_number(conn: sqlite3.Connection, name: str, start: int = 1) -> int:
    """The next value of a named counter, in the caller's transaction."""
    row = conn.execute(
        "INSERT INTO counters (name, value) VALUES (?, ?) "
        "ON CONFLICT(name) DO UPDATE SET value = value + 1 RETURNING value",
        (name, start),
    ).fetchone()
    return int(row[0])


def insert(conn: sqlite3.Connection, entity: Entity, record: dict[str, Any]) -> dict[str, Any]:
    """Add a record (a new GUID `id`); the caller checked its key is free."""
    record = {**record, "id": record.get("id") or str(uuid.uuid4())}
    conn.execute(
        "INSERT INTO records (id, entity, key, seq, body) VALUES (?, ?, ?, ?, ?)",
        (
            record["id"],
            entity.name,
            key_of(entity, record),
            next_number(conn, f"seq:{entity.name}"),
            dumps(record),
        ),
    )
    return record


def replace(conn: sqlite3.Connection, entity: Entity, record: dict[str, Any]) -> None:
    """Overwrite a record's body (its `id` stays)."""
    conn.execute(
        "UPDATE records SET body = ?, key = ? WHERE id = ?",
        (dumps(record), key_of(entity, record), record["id"]),
    )


def by_key(store: StateStore, entity: Entity, key: str) -> dict[str, Any] | None:
    """The record with these key fields (compared case-insensitively, as SQL Server does)."""
    rows = store.rows(
        "SELECT body FROM records WHERE entity = ? AND key = ? COLLATE NOCASE", (entity.name, key)
    )
    return loads(rows[0]["body"]) if rows else None


def by_id(store: StateStore, entity: Entity, record_id: str) -> dict[str, Any] | None:
    """The record with this GUID `id`."""
    rows = store.rows(
        "SELECT body FROM records WHERE entity = ? AND id = ?", (entity.name, record_id)
    )
    return loads(rows[0]["body"]) if rows else None


def query(
    store: StateStore,
    entity: str,
    where: str = "1",
    params: Sequence[Any] = (),
    *,
    limit: int | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Records of an entity matching a compiled filter, in creation order.

    With a filter, `+seq` keeps the planner on the filter's index (a lookup by vendor and
    VendorRef) rather than walking every record in `seq` order.
    """
    order = "seq" if where == "1" else "+seq"
    rows = store.rows(
        f"SELECT body FROM records WHERE entity = ? AND ({where}) ORDER BY {order} "
        "LIMIT ? OFFSET ?",
        [entity, *params, -1 if limit is None else limit, offset],
    )
    return [loads(r["body"]) for r in rows]


# --- sessions and tokens ---------------------------------------------------------------------


def new_secret() -> str:
    """A session cookie, access or refresh token: 256 random bits."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """Refresh tokens are kept hashed: the state file never holds a usable one.

    Session cookies and access tokens are kept as they are in `sessions`, as the other
    sandboxes keep theirs: the secrets-leak test reads them there to search for them.
    """
    return hashlib.sha256(token.encode()).hexdigest()


def live_sessions(store: StateStore, now: datetime, idle: float) -> int:
    """Sessions holding an API user seat: not logged out, not idle past `idle` seconds."""
    count = 0
    for row in store.rows("SELECT * FROM sessions"):
        if _alive(row, now, idle):
            count += 1
    return count


def _alive(row: sqlite3.Row, now: datetime, idle: float) -> bool:
    if row["expires_at"] and datetime.fromisoformat(row["expires_at"]) <= now:
        return False
    return (now - datetime.fromisoformat(row["last_used_at"])).total_seconds() <= idle


def touch_session(
    store: StateStore, session_id: str, now: datetime, idle: float
) -> sqlite3.Row | None:
    """The live session (its idle timer restarted), or None (unknown, idle or expired)."""
    rows = store.rows("SELECT * FROM sessions WHERE id = ?", (session_id,))
    if not rows:
        return None
    if not _alive(rows[0], now, idle):
        end_session(store, session_id)
        return None
    store.execute(
        "UPDATE sessions SET last_used_at = ? WHERE id = ?", (now.isoformat(), session_id)
    )
    return rows[0]


def end_session(store: StateStore, session_id: str) -> bool:
    """Log a session (or token) out; False when it was not live."""
    return store.execute("DELETE FROM sessions WHERE id = ?", (session_id,)).rowcount > 0
