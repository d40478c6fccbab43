"""APS450MI and APS455MI: supplier invoice batches, from the head to validation [C programs].

Statuses [I]: a batch is `10` entered, `20` approved for payment, `90` validated into the
supplier ledger (it then has a voucher number).
"""

import sqlite3
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from bridge_pipelines.sandbox.infor_m3.inputs import (
    Context,
    Nok,
    Row,
    m3_amount,
    m3_day,
    m3_text,
    period_open,
)
from bridge_pipelines.sandbox.infor_m3.store import next_number

ENTERED, APPROVED, VALIDATED = "10", "20", "90"
LINE_TYPES = {"1", "2", "5", "8"}  # item, order charge, line charge, accounting line [C]
ACCOUNTING_LINE = "8"

# --- APS450MI / APS455MI: supplier invoice batches --------------------------------------------


def _supplier(ctx: Context, suno: str) -> sqlite3.Row:
    row: sqlite3.Row | None = ctx.conn.execute(
        "SELECT * FROM suppliers WHERE cono = ? AND suno = ?", (ctx.cono, suno)
    ).fetchone()
    if row is None:
        raise Nok(f"Supplier {suno} does not exist", "SUNO", code="WSU0203")
    if row["stat"] == "90":
        raise Nok(f"Supplier {suno} is blocked", "SUNO", code="WSU0204")
    return row


def _batch(ctx: Context, inbn: str) -> sqlite3.Row:
    row: sqlite3.Row | None = ctx.conn.execute(
        "SELECT * FROM batches WHERE inbn = ? AND cono = ? AND divi = ?",
        (int(Decimal(inbn)), ctx.cono, ctx.divi),
    ).fetchone()
    if row is None:
        raise Nok(f"Invoice batch number {inbn} does not exist", "INBN", code="WIN0203")
    return row


def _open_batch(ctx: Context, inbn: str) -> sqlite3.Row:
    row = _batch(ctx, inbn)
    if row["supa"] == VALIDATED:
        raise Nok(f"Invoice batch {inbn} is already validated", "INBN", code="WIN0205")
    return row


def _identity(ctx: Context, aitp: int, aitm: str, field: str) -> None:
    row = ctx.conn.execute(
        "SELECT active FROM accounts WHERE cono = ? AND divi = ? AND aitp = ? AND aitm = ?",
        (ctx.cono, ctx.divi, aitp, aitm),
    ).fetchone()
    if row is None:
        raise Nok(f"Accounting identity {aitm} does not exist (dimension {aitp})", field, "WAI0203")
    if not row["active"]:
        raise Nok(f"Accounting identity {aitm} is not valid for posting", field, "WAI0204")


def _add_head(ctx: Context, r: Row) -> list[Row]:
    supplier = _supplier(ctx, r["SUNO"])
    ivdt = r["IVDT"]
    acdt = r.get("ACDT") or ivdt
    period_open(ctx, acdt, "ACDT")
    terms = int(supplier["tepy"] or 30) if (supplier["tepy"] or "").isdigit() else 30
    dudt = r.get("DUDT") or f"{m3_day(ivdt) + timedelta(days=terms):%Y%m%d}"
    inbn = next_number(ctx.conn, "INBN", 1_000_100)
    ctx.conn.execute(
        "INSERT INTO batches (inbn, cono, divi, suno, spyn, sino, ibtp, ivdt, acdt, dudt, cucd, "
        "cuam, vtam, cori, sda1, supa) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            inbn,
            ctx.cono,
            ctx.divi,
            r["SUNO"],
            r.get("SPYN") or r["SUNO"],
            r.get("SINO", ""),
            r.get("IBTP") or "20",
            ivdt,
            acdt,
            dudt,
            r.get("CUCD") or supplier["cucd"] or "USD",
            str(m3_amount(r.get("CUAM"))),
            str(m3_amount(r.get("VTAM"))),
            r.get("CORI", ""),
            r.get("SDA1", ""),
            ENTERED,
        ),
    )
    return [{"INBN": str(inbn)}]


def _add_line(ctx: Context, r: Row) -> list[Row]:
    batch = _open_batch(ctx, r["INBN"])
    rdtp = str(int(Decimal(r["RDTP"])))
    if rdtp not in LINE_TYPES:
        raise Nok(f"Line type {r['RDTP']} is invalid", "RDTP", code="WRD0101")
    if rdtp == ACCOUNTING_LINE:
        if not r.get("AO01"):
            raise Nok("Accounting object 1 must be entered", "AO01", code="WAO0101")
        _identity(ctx, 1, r["AO01"], "AO01")
        for n in range(2, 8):
            if r.get(f"AO0{n}"):
                _identity(ctx, n, r[f"AO0{n}"], f"AO0{n}")
    trno = 1 + int(
        ctx.conn.execute(
            "SELECT COALESCE(MAX(trno), 0) FROM lines WHERE inbn = ?", (batch["inbn"],)
        ).fetchone()[0]
    )
    ctx.conn.execute(
        "INSERT INTO lines VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            batch["inbn"],
            trno,
            rdtp,
            str(m3_amount(r.get("NLAM"))),
            *(r.get(f"AO0{n}") or None for n in range(1, 8)),
            r.get("CHGT", ""),
        ),
    )
    return []


def _approve_invoice(ctx: Context, r: Row) -> list[Row]:
    batch = _open_batch(ctx, r["INBN"])
    ctx.conn.execute(
        "UPDATE batches SET approved = 1, supa = ? WHERE inbn = ?", (APPROVED, batch["inbn"])
    )
    return []


def _head(batch: sqlite3.Row, lines_total: Decimal) -> Row:
    return {
        "DIVI": batch["divi"],
        "INBN": str(batch["inbn"]),
        "IBTP": batch["ibtp"],
        "SUPA": batch["supa"],
        "SUNO": batch["suno"],
        "SPYN": batch["spyn"],
        "SINO": batch["sino"],
        "IVDT": batch["ivdt"],
        "ACDT": batch["acdt"],
        "DUDT": batch["dudt"],
        "CUCD": batch["cucd"],
        "CUAM": batch["cuam"],
        "VTAM": batch["vtam"],
        "TLNA": str(lines_total),
        "VONO": m3_text(batch["vono"]),
        "CORI": batch["cori"],
        "SDA1": batch["sda1"],
        "APRV": str(batch["approved"]),
    }


def _lines_total(ctx: Context, inbn: int) -> Decimal:
    rows = ctx.conn.execute("SELECT nlam FROM lines WHERE inbn = ?", (inbn,)).fetchall()
    return sum((Decimal(row["nlam"]) for row in rows), Decimal(0))


def _get_head(ctx: Context, r: Row) -> list[Row]:
    batch = _batch(ctx, r["INBN"])
    return [_head(batch, _lines_total(ctx, batch["inbn"]))]


def _lst_lines(ctx: Context, r: Row) -> list[Row]:
    batch = _batch(ctx, r["INBN"])
    rows = ctx.conn.execute(
        "SELECT * FROM lines WHERE inbn = ? ORDER BY trno", (batch["inbn"],)
    ).fetchall()
    return [
        {
            "TRNO": str(x["trno"]),
            "RDTP": x["rdtp"],
            "NLAM": x["nlam"],
            "CUCD": batch["cucd"],
            "CHGT": x["chgt"] or "",
            **{f"AO0{n}": x[f"ao0{n}"] or "" for n in range(1, 8)},
        }
        for x in rows
    ]


def _lst_inv_by_sup_inv(ctx: Context, r: Row) -> list[Row]:
    sql = "SELECT * FROM batches WHERE cono = ? AND divi = ? AND sino = ?"
    params: list[Any] = [ctx.cono, ctx.divi, r["SINO"]]
    for name in ("SUNO", "SPYN"):
        if r.get(name):
            sql += f" AND {name.lower()} = ?"
            params.append(r[name])
    rows = ctx.conn.execute(sql + " ORDER BY inbn", params).fetchall()
    return [{"INBN": str(x["inbn"]), "IBTP": x["ibtp"], "SUPA": x["supa"]} for x in rows]


def _lst_inv_batch_no(ctx: Context, r: Row) -> list[Row]:
    sql = "SELECT * FROM batches WHERE cono = ? AND divi = ?"
    params: list[Any] = [ctx.cono, ctx.divi]
    if r.get("SPYN"):
        sql += " AND spyn = ?"
        params.append(r["SPYN"])
    if r.get("SUPA"):
        sql += " AND supa = ?"
        params.append(str(int(Decimal(r["SUPA"]))))
    rows = ctx.conn.execute(sql + " ORDER BY inbn", params).fetchall()
    return [
        {
            "INBN": str(x["inbn"]),
            "SUNO": x["suno"],
            "SPYN": x["spyn"],
            "SINO": x["sino"],
            "IVDT": x["ivdt"],
            "SUPA": x["supa"],
        }
        for x in rows
    ]


def _valid_by_batch_no(ctx: Context, r: Row) -> list[Row]:
    batch = _open_batch(ctx, r["INBN"])
    total = _lines_total(ctx, batch["inbn"])
    if not ctx.conn.execute("SELECT 1 FROM lines WHERE inbn = ?", (batch["inbn"],)).fetchone():
        raise Nok(f"Invoice batch {batch['inbn']} has no lines", "INBN", code="WIN0301")
    difference = Decimal(batch["cuam"]) - Decimal(batch["vtam"]) - total
    if difference:
        raise Nok(f"Invoice is not balanced, difference {difference}", "CUAM", code="WIN0302")
    duplicate = ctx.conn.execute(
        "SELECT inbn FROM batches WHERE cono = ? AND divi = ? AND suno = ? AND sino = ? "
        "AND supa = ? AND inbn != ?",
        (ctx.cono, ctx.divi, batch["suno"], batch["sino"], VALIDATED, batch["inbn"]),
    ).fetchone()
    if duplicate is not None and batch["sino"]:
        raise Nok(
            f"Supplier invoice number {batch['sino']} already exists for supplier {batch['suno']}",
            "SINO",
            code="WSI0101",
        )
    period_open(ctx, batch["acdt"], "ACDT")
    vono = next_number(ctx.conn, "VONO", 40_000)
    ctx.conn.execute(
        "UPDATE batches SET supa = ?, vono = ? WHERE inbn = ?", (VALIDATED, vono, batch["inbn"])
    )
    return []


HANDLERS: dict[tuple[str, str], Callable[[Context, Row], list[Row]]] = {
    ("APS450MI", "AddHead"): _add_head,
    ("APS450MI", "AddLine"): _add_line,
    ("APS450MI", "ApproveInvoice"): _approve_invoice,
    ("APS450MI", "GetHead"): _get_head,
    ("APS450MI", "LstLines"): _lst_lines,
    ("APS450MI", "LstInvBySupInv"): _lst_inv_by_sup_inv,
    ("APS450MI", "LstInvBatchNo"): _lst_inv_batch_no,
    ("APS455MI", "ValidByBatchNo"): _valid_by_batch_no,
}
