"""CRS620MI suppliers and CRS630MI accounting identities [C programs]."""

import sqlite3
from collections.abc import Callable
from decimal import Decimal

from bridge_pipelines.sandbox.infor_m3.inputs import Context, Nok, Row

# --- CRS620MI / CRS630MI: suppliers and accounting identities ---------------------------------


def _supplier_row(s: sqlite3.Row) -> Row:
    return {
        "CONO": s["cono"],
        "SUNO": s["suno"],
        "SUNM": s["sunm"],
        "STAT": s["stat"],
        "CUCD": s["cucd"] or "",
        "TEPY": s["tepy"] or "",
        "VRNO": s["vrno"] or "",
        "MEAL": s["meal"] or "",
        "CSCD": s["cscd"] or "",
        "PHNO": s["phno"] or "",
    }


def _lst_suppliers(ctx: Context, r: Row) -> list[Row]:
    rows = ctx.conn.execute(
        "SELECT * FROM suppliers WHERE cono = ? AND suno >= ? ORDER BY suno",
        (ctx.cono, r.get("SUNO", "")),
    ).fetchall()
    return [_supplier_row(s) for s in rows]


def _get_basic_data(ctx: Context, r: Row) -> list[Row]:
    row = ctx.conn.execute(
        "SELECT * FROM suppliers WHERE cono = ? AND suno = ?", (ctx.cono, r["SUNO"])
    ).fetchone()
    if row is None:
        raise Nok(f"Supplier {r['SUNO']} does not exist", "SUNO", code="WSU0203")
    return [_supplier_row(row)]


_SUPPLIER_FIELDS = ("SUNM", "STAT", "CUCD", "TEPY", "VRNO", "MEAL")


def _add_supplier(ctx: Context, r: Row) -> list[Row]:
    exists = ctx.conn.execute(
        "SELECT 1 FROM suppliers WHERE cono = ? AND suno = ?", (ctx.cono, r["SUNO"])
    ).fetchone()
    if exists:
        raise Nok(f"Supplier {r['SUNO']} already exists", "SUNO", code="WSU0201")
    ctx.conn.execute(
        "INSERT INTO suppliers VALUES (?, ?, ?, ?, ?, ?, ?, ?, '', '')",
        (
            ctx.cono,
            r["SUNO"],
            r["SUNM"],
            r.get("STAT") or "20",
            r.get("CUCD"),
            r.get("TEPY"),
            r.get("VRNO"),
            r.get("MEAL"),
        ),
    )
    return []


def _upd_supplier(ctx: Context, r: Row) -> list[Row]:
    _get_basic_data(ctx, r)
    changes = {name: r[name] for name in _SUPPLIER_FIELDS if r.get(name)}
    if changes:
        assignments = ", ".join(f"{name.lower()} = ?" for name in changes)
        ctx.conn.execute(
            f"UPDATE suppliers SET {assignments} WHERE cono = ? AND suno = ?",
            (*changes.values(), ctx.cono, r["SUNO"]),
        )
    return []


def _lst_account_id(ctx: Context, r: Row) -> list[Row]:
    rows = ctx.conn.execute(
        "SELECT * FROM accounts WHERE cono = ? AND divi = ? AND aitp = ? AND aitm >= ? "
        "ORDER BY aitm",
        (ctx.cono, ctx.divi, int(Decimal(r["AITP"])), r.get("AITM", "")),
    ).fetchall()
    return [
        {
            "CONO": a["cono"],
            "DIVI": a["divi"],
            "AITP": str(a["aitp"]),
            "AITM": a["aitm"],
            "TX40": a["tx40"],
            "TX15": a["tx15"],
            "ACGR": a["acgr"] or "",
            # [I] a closed identity has a valid-to date in the past; an open one none (0)
            "VTDT": "0" if a["active"] else "20200101",
        }
        for a in rows
    ]


HANDLERS: dict[tuple[str, str], Callable[[Context, Row], list[Row]]] = {
    ("CRS620MI", "LstSuppliers"): _lst_suppliers,
    ("CRS620MI", "GetBasicData"): _get_basic_data,
    ("CRS620MI", "AddSupplier"): _add_supplier,
    ("CRS620MI", "UpdSupplier"): _upd_supplier,
    ("CRS630MI", "LstAccountID"): _lst_account_id,
}
