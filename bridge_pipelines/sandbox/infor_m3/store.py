"""M3's tables in the sandbox's SQLite file, and the ION API Gateway's tokens.

Suppliers, accounting identities, invoice batches, payment proposals.

Plain tables named after what they hold (M3's own are CIDMAS, FCHACC, FAPIBH/FAPIBL, FPLEDG,
FPSUGH...), amounts kept as decimal text so nothing passes through a float.
"""

import sqlite3

from bridge_pipelines.sandbox.erp_base.store import StateStore
from bridge_pipelines.sandbox.infor_m3.seed import InforM3Seed

SCHEMA = """
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS divisions (cono TEXT NOT NULL, divi TEXT NOT NULL,
    PRIMARY KEY (cono, divi));
CREATE TABLE IF NOT EXISTS suppliers (cono TEXT NOT NULL, suno TEXT NOT NULL, sunm TEXT NOT NULL,
    stat TEXT NOT NULL, cucd TEXT, tepy TEXT, vrno TEXT, meal TEXT, cscd TEXT, phno TEXT,
    PRIMARY KEY (cono, suno));
CREATE TABLE IF NOT EXISTS accounts (cono TEXT NOT NULL, divi TEXT NOT NULL, aitp INTEGER NOT NULL,
    aitm TEXT NOT NULL, tx40 TEXT NOT NULL, tx15 TEXT NOT NULL, active INTEGER NOT NULL,
    acgr TEXT, PRIMARY KEY (cono, divi, aitp, aitm));
CREATE TABLE IF NOT EXISTS batches (inbn INTEGER PRIMARY KEY, cono TEXT NOT NULL,
    divi TEXT NOT NULL, suno TEXT NOT NULL, spyn TEXT NOT NULL, sino TEXT NOT NULL,
    ibtp TEXT NOT NULL, ivdt TEXT NOT NULL, acdt TEXT NOT NULL, dudt TEXT NOT NULL,
    cucd TEXT NOT NULL, cuam TEXT NOT NULL, vtam TEXT NOT NULL, cori TEXT NOT NULL,
    sda1 TEXT NOT NULL, supa TEXT NOT NULL, approved INTEGER NOT NULL DEFAULT 0,
    vono INTEGER, paid TEXT NOT NULL DEFAULT '0', blocked_by INTEGER);
CREATE INDEX IF NOT EXISTS batches_sino ON batches (cono, divi, sino);
CREATE TABLE IF NOT EXISTS lines (inbn INTEGER NOT NULL, trno INTEGER NOT NULL,
    rdtp TEXT NOT NULL, nlam TEXT NOT NULL, ao01 TEXT, ao02 TEXT, ao03 TEXT, ao04 TEXT,
    ao05 TEXT, ao06 TEXT, ao07 TEXT, chgt TEXT, PRIMARY KEY (inbn, trno));
CREATE TABLE IF NOT EXISTS proposals (prpn INTEGER NOT NULL, pyon INTEGER NOT NULL,
    cono TEXT NOT NULL, divi TEXT NOT NULL, spyn TEXT NOT NULL, prpd TEXT NOT NULL,
    litx TEXT NOT NULL, stat TEXT NOT NULL, ckno TEXT, vtxt TEXT, acdt TEXT, cucd TEXT,
    PRIMARY KEY (prpn, pyon));
CREATE TABLE IF NOT EXISTS proposal_lines (prpn INTEGER NOT NULL, pyon INTEGER NOT NULL,
    inbn INTEGER NOT NULL, pyam TEXT NOT NULL, PRIMARY KEY (prpn, pyon, inbn));
CREATE TABLE IF NOT EXISTS tokens (access TEXT PRIMARY KEY, refresh TEXT NOT NULL,
    client_id TEXT NOT NULL, expires_at TEXT NOT NULL, revoked INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS tokens_refresh ON tokens (refresh);
-- Every token as a "session" id, the column name other sandboxes use, for the leak scan.
CREATE VIEW IF NOT EXISTS sessions AS SELECT access AS id FROM tokens
    UNION SELECT refresh FROM tokens;
"""


def next_number(conn: sqlite3.Connection, name: str, start: int) -> int:
    """The next value of a named counter (INBN, VONO, PRPN) in the caller's transaction."""
    row = conn.execute(
        "INSERT INTO counters (name, value) VALUES (?, ?) "
        "ON CONFLICT(name) DO UPDATE SET value = value + 1 RETURNING value",
        (name, start),
    ).fetchone()
    return int(row[0])


def write_seed(store: StateStore, seed: InforM3Seed) -> None:
    """The demo company into a fresh store."""
    with store.transaction() as conn:
        conn.execute("INSERT INTO divisions VALUES (?, ?)", (seed.company, seed.division))
        for s in seed.suppliers:
            conn.execute(
                "INSERT INTO suppliers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    seed.company,
                    s["SUNO"],
                    s["SUNM"],
                    s["STAT"],
                    s["CUCD"],
                    s["TEPY"],
                    s["VRNO"],
                    s["MEAL"],
                    s["CSCD"],
                    s["PHNO"],
                ),
            )
        for a in (*seed.accounts, *seed.cost_centers):
            conn.execute(
                "INSERT INTO accounts VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    seed.company,
                    seed.division,
                    a["AITP"],
                    a["AITM"],
                    a["TX40"],
                    a["TX15"],
                    a["AT01"],
                    a.get("ACGR"),
                ),
            )
