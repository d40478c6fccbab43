"""SYSPRO's tables in the sandbox's SQLite file, named and cased as SYSPRO names them.

Columns carry SYSPRO's names (`ApSupplier.SupplierName`, `ApInvoice.OrigInvValue`), so COMFND
and OData map a column to SQL one to one, from a whitelist. Money is stored as text and read
back as `Decimal`. Sessions live here too: a restart of the sandbox keeps them, as the e.net
service keeps its sessions across a client's reconnect.
"""

import sqlite3
import uuid
from datetime import datetime, timedelta

from bridge_pipelines.sandbox.erp_base.store import StateStore
from bridge_pipelines.sandbox.syspro.seed import COST_CENTER_ANALYSIS_TYPE, SysproSeed

SCHEMA = """
CREATE TABLE IF NOT EXISTS companies (company TEXT PRIMARY KEY, password TEXT NOT NULL,
    name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS operators (operator TEXT PRIMARY KEY, password TEXT NOT NULL,
    company TEXT NOT NULL, odata_enabled INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (guid TEXT PRIMARY KEY, operator TEXT NOT NULL UNIQUE,
    company TEXT NOT NULL, created_at TEXT NOT NULL, last_used_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS currencies (Currency TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS terms (TermsCode TEXT PRIMARY KEY, DueDays INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS ApSupplier (
    Supplier TEXT PRIMARY KEY, SupplierName TEXT NOT NULL DEFAULT '',
    SupShortName TEXT NOT NULL DEFAULT '', SupplierType TEXT NOT NULL DEFAULT 'P',
    SupplierClass TEXT NOT NULL DEFAULT '', Branch TEXT NOT NULL DEFAULT '',
    Currency TEXT NOT NULL, TermsCode TEXT NOT NULL DEFAULT '',
    TaxRegnNum TEXT NOT NULL DEFAULT '', Email TEXT NOT NULL DEFAULT '',
    Telephone TEXT NOT NULL DEFAULT '', SupAddr1 TEXT NOT NULL DEFAULT '',
    SupAddr2 TEXT NOT NULL DEFAULT '', SupAddr3 TEXT NOT NULL DEFAULT '',
    SupAddr4 TEXT NOT NULL DEFAULT '', SupAddr5 TEXT NOT NULL DEFAULT '',
    SupPostalCode TEXT NOT NULL DEFAULT '', OnHold TEXT NOT NULL DEFAULT 'N',
    PayByEft TEXT NOT NULL DEFAULT 'N', BankAccount TEXT NOT NULL DEFAULT '',
    GrnMatchReqd TEXT NOT NULL DEFAULT 'Y', CurrentBalance TEXT NOT NULL DEFAULT '0.00');
CREATE TABLE IF NOT EXISTS GenMaster (GlCode TEXT PRIMARY KEY, Description TEXT NOT NULL,
    AccountType TEXT NOT NULL, AccountOnHold TEXT NOT NULL DEFAULT 'N');
CREATE TABLE IF NOT EXISTS GenAnalysisCode (AnalysisType INTEGER NOT NULL,
    AnalysisCode TEXT NOT NULL, Description TEXT NOT NULL,
    PRIMARY KEY (AnalysisType, AnalysisCode));
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS ApInvoice (
    Supplier TEXT NOT NULL, Invoice TEXT NOT NULL, TransactionCode TEXT NOT NULL,
    TrnYear INTEGER NOT NULL, TrnMonth INTEGER NOT NULL, Journal INTEGER NOT NULL,
    EntryNumber INTEGER NOT NULL, GlYear INTEGER NOT NULL, GlPeriod INTEGER NOT NULL,
    GlJournal INTEGER NOT NULL, JournalDate TEXT NOT NULL, InvoiceDate TEXT NOT NULL,
    DueDate TEXT NOT NULL, Branch TEXT NOT NULL, Reference TEXT NOT NULL,
    Notation TEXT NOT NULL, JournalNotation TEXT NOT NULL, Currency TEXT NOT NULL,
    TaxCode TEXT NOT NULL, OrigInvValue TEXT NOT NULL, TaxValue TEXT NOT NULL,
    MthInvBal1 TEXT NOT NULL, InvoiceStatus TEXT NOT NULL, Operator TEXT NOT NULL,
    PostedAt TEXT NOT NULL, PRIMARY KEY (Supplier, Invoice));
CREATE TABLE IF NOT EXISTS GlLines (id INTEGER PRIMARY KEY AUTOINCREMENT,
    Supplier TEXT NOT NULL, Invoice TEXT NOT NULL, Line INTEGER NOT NULL,
    GlCode TEXT NOT NULL, Notation TEXT NOT NULL, Debit TEXT NOT NULL, Credit TEXT NOT NULL,
    Analysis TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS ApInvoiceReference ON ApInvoice (Reference);
"""


def write_seed(store: StateStore, seed: SysproSeed) -> None:
    """Fill a fresh store with the demo company."""
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO companies VALUES (?, ?, ?)",
            (seed.company_id, seed.company_password, seed.company_name),
        )
        conn.executemany(
            "INSERT INTO operators VALUES (?, ?, ?, ?)",
            [(o.operator, o.password, o.company, int(o.odata_enabled)) for o in seed.operators],
        )
        conn.executemany("INSERT INTO currencies VALUES (?)", [(c,) for c in seed.currencies])
        conn.executemany("INSERT INTO terms VALUES (?, ?)", list(seed.terms.items()))
        conn.executemany(
            "INSERT INTO ApSupplier (Supplier, SupplierName, SupShortName, Currency, TermsCode, "
            "TaxRegnNum, Email, Telephone, SupAddr1, SupAddr2, SupAddr3, SupAddr4, SupAddr5, "
            "SupPostalCode, OnHold, GrnMatchReqd) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'N')",
            [
                (
                    s.supplier,
                    s.name,
                    s.short_name,
                    s.currency,
                    s.terms_code,
                    s.tax_regn_num,
                    s.email,
                    s.telephone,
                    *s.address,
                    s.postal_code,
                    "Y" if s.on_hold else "N",
                )
                for s in seed.suppliers
            ],
        )
        conn.executemany(
            "INSERT INTO GenMaster VALUES (?, ?, ?, ?)",
            [
                (c.gl_code, c.description, c.account_type, "Y" if c.on_hold else "N")
                for c in seed.ledger_codes
            ],
        )
        conn.executemany(
            "INSERT INTO GenAnalysisCode VALUES (?, ?, ?)",
            [(COST_CENTER_ANALYSIS_TYPE, code, d) for code, d in seed.analysis_codes.items()],
        )


def next_number(conn: sqlite3.Connection, name: str) -> int:
    """The next value of a named counter (journal numbers), inside the caller's transaction."""
    row = conn.execute(
        "INSERT INTO counters (name, value) VALUES (?, 1) "
        "ON CONFLICT(name) DO UPDATE SET value = value + 1 RETURNING value",
        (name,),
    ).fetchone()
    return int(row[0])


class Sessions:
    """e.net sessions: one per operator, ended by Logoff, a newer Logon or idle time."""

    def __init__(self, store: StateStore) -> None:
        self._store = store

    def logon(self, operator: str, company: str, now: datetime) -> str:
        """A new session GUID; the operator's previous session is killed."""
        guid = str(uuid.uuid4()).upper()
        with self._store.transaction() as conn:
            conn.execute("DELETE FROM sessions WHERE operator = ?", (operator,))
            conn.execute(
                "INSERT INTO sessions VALUES (?, ?, ?, ?, ?)",
                (guid, operator, company, now.isoformat(), now.isoformat()),
            )
        return guid

    def touch(self, guid: str, now: datetime, idle: timedelta) -> sqlite3.Row | None:
        """The live session for `guid` (its idle timer restarted), or None if unknown/expired."""
        rows = self._store.rows("SELECT * FROM sessions WHERE guid = ?", (guid,))
        if not rows:
            return None
        if datetime.fromisoformat(rows[0]["last_used_at"]) + idle < now:
            self.end(guid)
            return None
        self._store.execute(
            "UPDATE sessions SET last_used_at = ? WHERE guid = ?", (now.isoformat(), guid)
        )
        return rows[0]

    def end(self, guid: str) -> bool:
        return self._store.execute("DELETE FROM sessions WHERE guid = ?", (guid,)).rowcount > 0
