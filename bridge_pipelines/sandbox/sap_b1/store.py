"""SAP B1's objects in the sandbox's SQLite file: one JSON body per record, plus sessions.

Each record is kept as the Service Layer returns it (property names and enum values as B1
spells them), keyed by entity set and key. Queries filter on `json_extract`, with indexes on
what lookups use (`CardCode`, `NumAtCard`, `Reference`). Sessions live here too, so a restart
of the sandbox keeps them, as a Service Layer node restart behind the load balancer does not
(a restart here is the process, not a node).
"""

import json
import secrets
import sqlite3
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from bridge_pipelines.sandbox.erp_base.store import StateStore
from bridge_pipelines.sandbox.sap_b1.seed import SapB1Seed

SCHEMA = """
CREATE TABLE IF NOT EXISTS companies (company_db TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (user_name TEXT PRIMARY KEY, password TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, company_db TEXT NOT NULL,
    user_name TEXT NOT NULL, created_at TEXT NOT NULL, last_used_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS records (entity_set TEXT NOT NULL, key TEXT NOT NULL,
    seq INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY (entity_set, key));
CREATE INDEX IF NOT EXISTS records_seq ON records (entity_set, seq);
CREATE INDEX IF NOT EXISTS records_card ON records (entity_set, json_extract(body, '$.CardCode'));
CREATE INDEX IF NOT EXISTS records_ref ON records (entity_set, json_extract(body, '$.NumAtCard'));
CREATE INDEX IF NOT EXISTS records_memo
    ON records (entity_set, json_extract(body, '$.JournalMemo'));
CREATE INDEX IF NOT EXISTS records_jref ON records (entity_set, json_extract(body, '$.Reference'));
"""


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        # The Service Layer answers amounts as JSON numbers.
        return float(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(value: Any) -> str:
    """JSON as the Service Layer writes it (Decimal amounts as numbers)."""
    return json.dumps(value, default=_default, ensure_ascii=False)


def next_number(conn: sqlite3.Connection, name: str, start: int = 1) -> int:
    """The next value of a named counter (DocEntry, DocNum, JdtNum) in the caller's transaction."""
    row = conn.execute(
        "INSERT INTO counters (name, value) VALUES (?, ?) "
        "ON CONFLICT(name) DO UPDATE SET value = value + 1 RETURNING value",
        (name, start),
    ).fetchone()
    return int(row[0])


def insert_record(
    conn: sqlite3.Connection, entity_set: str, key: Any, body: dict[str, Any]
) -> None:
    """Add a record, remembering creation order for paging."""
    seq = next_number(conn, f"seq:{entity_set}")
    conn.execute(
        "INSERT INTO records (entity_set, key, seq, body) VALUES (?, ?, ?, ?)",
        (entity_set, str(key), seq, dumps(body)),
    )


def get_record(store: StateStore, entity_set: str, key: Any) -> dict[str, Any] | None:
    """The record of `entity_set` with this key, or None."""
    rows = store.rows(
        "SELECT body FROM records WHERE entity_set = ? AND key = ?", (entity_set, str(key))
    )
    return json.loads(rows[0]["body"]) if rows else None


def replace_record(
    conn: sqlite3.Connection, entity_set: str, key: Any, body: dict[str, Any]
) -> None:
    """Overwrite a record's body (PATCH)."""
    conn.execute(
        "UPDATE records SET body = ? WHERE entity_set = ? AND key = ?",
        (dumps(body), entity_set, str(key)),
    )


def query_records(
    store: StateStore,
    entity_set: str,
    where: str,
    params: list[Any],
    *,
    limit: int | None,
    offset: int,
    order_by: str | None = None,
) -> list[dict[str, Any]]:
    """Records of a set matching a compiled filter, in `order_by` (SQL) then creation order."""
    order = f"{order_by}, seq" if order_by else "seq"
    rows = store.rows(
        f"SELECT body FROM records WHERE entity_set = ? AND ({where}) ORDER BY {order} "
        "LIMIT ? OFFSET ?",
        [entity_set, *params, -1 if limit is None else limit, offset],
    )
    return [json.loads(r["body"]) for r in rows]


def count_records(store: StateStore, entity_set: str, where: str, params: list[Any]) -> int:
    """How many records of a set match a compiled filter (`$count`)."""
    rows = store.rows(
        f"SELECT count(*) AS n FROM records WHERE entity_set = ? AND ({where})",
        [entity_set, *params],
    )
    return int(rows[0]["n"])


def write_seed(store: StateStore, seed: SapB1Seed) -> None:
    """Fill a fresh store with the demo company."""
    with store.transaction() as conn:
        conn.execute("INSERT INTO companies VALUES (?, ?)", (seed.company_db, seed.company_name))
        conn.executemany(
            "INSERT INTO users VALUES (?, ?)", [(u.user_name, u.password) for u in seed.users]
        )
        for bp in seed.business_partners:
            insert_record(conn, "BusinessPartners", bp["CardCode"], bp)
        for account in seed.accounts:
            insert_record(conn, "ChartOfAccounts", account["Code"], account)
        for center in seed.profit_centers:
            insert_record(conn, "ProfitCenters", center["CenterCode"], center)
        for project in seed.projects:
            insert_record(conn, "Projects", project["Code"], project)
        names = {bp["CardCode"]: bp["CardName"] for bp in seed.business_partners}
        for po in seed.purchase_orders:
            entry = next_number(conn, "DocEntry:PurchaseOrders")
            total = sum((amount for _, _, amount in po.lines), Decimal(0))
            body = {
                "DocEntry": entry,
                "DocNum": po.doc_num,
                "DocType": "dDocument_Service",
                "DocDate": po.doc_date,
                "DocDueDate": po.doc_date,
                "TaxDate": po.doc_date,
                "CardCode": po.card_code,
                "CardName": names[po.card_code],
                "NumAtCard": po.num_at_card,
                "DocCurrency": "USD",
                "DocTotal": total,
                "VatSum": Decimal(0),
                "Comments": None,
                "Cancelled": "tNO",
                "DocumentStatus": po.status,
                "DocumentLines": [
                    {
                        "LineNum": n,
                        "ItemDescription": text,
                        "AccountCode": account,
                        "LineTotal": amount,
                        "LineStatus": po.status,
                    }
                    for n, (account, text, amount) in enumerate(po.lines)
                ],
            }
            insert_record(conn, "PurchaseOrders", entry, body)
        conn.execute(
            "INSERT INTO counters (name, value) VALUES ('DocNum:PurchaseOrders', ?)",
            (max(po.doc_num for po in seed.purchase_orders),),
        )


class Sessions:
    """Service Layer sessions: ended by Logout or by `timeout` of inactivity."""

    def __init__(self, store: StateStore) -> None:
        self._store = store

    def login(self, company_db: str, user_name: str, now: datetime) -> str:
        session_id = _session_id()
        self._store.execute(
            "INSERT INTO sessions VALUES (?, ?, ?, ?, ?)",
            (session_id, company_db, user_name, now.isoformat(), now.isoformat()),
        )
        return session_id

    def touch(self, session_id: str, now: datetime, timeout: timedelta) -> sqlite3.Row | None:
        """The live session (its idle timer restarted), or None if unknown or timed out."""
        rows = self._store.rows("SELECT * FROM sessions WHERE id = ?", (session_id,))
        if not rows:
            return None
        if datetime.fromisoformat(rows[0]["last_used_at"]) + timeout < now:
            self.end(session_id)
            return None
        self._store.execute(
            "UPDATE sessions SET last_used_at = ? WHERE id = ?", (now.isoformat(), session_id)
        )
        return rows[0]

    def end(self, session_id: str) -> bool:
        return self._store.execute("DELETE FROM sessions WHERE id = ?", (session_id,)).rowcount > 0


def _session_id() -> str:
    # Shaped like B1's: a GUID-like id, e.g. 0d9b6b5c-1f1e-11ef-8000-0a1b2c3d4e5f.
    raw = secrets.token_hex(16)
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"
