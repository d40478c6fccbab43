"""APS200MI (the supplier ledger's totals) and APS130MI (payment proposals) [C programs]."""

import sqlite3
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from bridge_pipelines.sandbox.infor_m3.batches import VALIDATED
from bridge_pipelines.sandbox.infor_m3.inputs import Context, Nok, Row, m3_text, period_open
from bridge_pipelines.sandbox.infor_m3.store import next_number

# --- APS200MI: the supplier ledger ------------------------------------------------------------


def _open_amount(batch: sqlite3.Row) -> Decimal:
    return Decimal(batch["cuam"]) - Decimal(batch["paid"])


def _get_inv_tot_info(ctx: Context, r: Row) -> list[Row]:
    sql = "SELECT * FROM batches WHERE cono = ? AND divi = ? AND sino = ? AND supa = ?"
    params: list[Any] = [ctx.cono, ctx.divi, r["SINO"], VALIDATED]
    for name in ("SUNO", "SPYN"):
        if r.get(name):
            sql += f" AND {name.lower()} = ?"
            params.append(r[name])
    if r.get("INYR"):
        sql += " AND substr(acdt, 1, 4) = ?"
        params.append(r["INYR"])
    batch = ctx.conn.execute(sql, params).fetchone()
    if batch is None:
        raise Nok(f"Supplier invoice {r['SINO']} does not exist", "SINO", code="WSI0203")
    open_amount = _open_amount(batch)
    return [
        {
            "DIVI": batch["divi"],
            "SUNO": batch["suno"],
            "SPYN": batch["spyn"],
            "SINO": batch["sino"],
            "INYR": batch["acdt"][:4],
            "VONO": m3_text(batch["vono"]),
            "CUCD": batch["cucd"],
            "CUAM": batch["cuam"],
            "IVDT": batch["ivdt"],
            "DUDT": batch["dudt"],
            "ACDT": batch["acdt"],
            "PCUA": str(Decimal(batch["paid"])),
            "OCUA": str(open_amount),
            "RECO": "1" if open_amount == 0 else "0",
            "APRV": str(batch["approved"]),
            "CORI": batch["cori"],
        }
    ]


# --- APS130MI: supplier payments (proposal, then confirmation) --------------------------------


def _create_proposal(ctx: Context, r: Row) -> list[Row]:
    sql = (
        "SELECT * FROM batches WHERE cono = ? AND divi BETWEEN ? AND ? AND supa = ? "
        "AND approved = 1 AND blocked_by IS NULL AND CAST(cuam AS REAL) != CAST(paid AS REAL)"
    )
    params: list[Any] = [ctx.cono, r["DIVF"], r["DIVT"], VALIDATED]
    for low, high, column in (
        ("SPYF", "SPYT", "spyn"),
        ("IVDF", "IVDT", "ivdt"),
        ("CUCF", "CUCT", "cucd"),
    ):
        if r.get(low):
            sql += f" AND {column} >= ?"
            params.append(r[low])
        if r.get(high):
            sql += f" AND {column} <= ?"
            params.append(r[high])
    selected = ctx.conn.execute(sql + " ORDER BY spyn, inbn", params).fetchall()
    if not selected:
        raise Nok("No invoices were selected for the payment proposal", "SPYF", code="WPR0101")
    prpn = next_number(ctx.conn, "PRPN", 700_001)
    payees = sorted({row["spyn"] for row in selected})
    for pyon, payee in enumerate(payees, start=1):
        ctx.conn.execute(
            "INSERT INTO proposals (prpn, pyon, cono, divi, spyn, prpd, litx, stat, cucd) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, '10', ?)",
            (
                prpn,
                pyon,
                ctx.cono,
                r["CUDI"],
                payee,
                r["PRPD"],
                r.get("LITX", ""),
                selected[0]["cucd"],
            ),
        )
        for row in (x for x in selected if x["spyn"] == payee):
            ctx.conn.execute(
                "INSERT INTO proposal_lines VALUES (?, ?, ?, ?)",
                (prpn, pyon, row["inbn"], str(_open_amount(row))),
            )
            ctx.conn.execute(
                "UPDATE batches SET blocked_by = ? WHERE inbn = ?", (prpn, row["inbn"])
            )
    return [{"PRPN": str(prpn)}]


def _proposal(ctx: Context, r: Row) -> sqlite3.Row:
    row: sqlite3.Row | None = ctx.conn.execute(
        "SELECT * FROM proposals WHERE prpn = ? AND pyon = ? AND cono = ? AND divi = ?",
        (int(Decimal(r["PRPN"])), int(Decimal(r["PYON"])), ctx.cono, r["DIVI"]),
    ).fetchone()
    if row is None:
        raise Nok(f"Payment proposal {r['PRPN']}/{r['PYON']} does not exist", "PRPN", "WPR0203")
    return row


def _lst_inv_by_pay_doc(ctx: Context, r: Row) -> list[Row]:
    proposal = _proposal(ctx, r)
    rows = ctx.conn.execute(
        "SELECT b.*, l.pyam FROM proposal_lines l JOIN batches b ON b.inbn = l.inbn "
        "WHERE l.prpn = ? AND l.pyon = ? ORDER BY b.inbn",
        (proposal["prpn"], proposal["pyon"]),
    ).fetchall()
    return [
        {
            "SUNO": x["suno"],
            "SPYN": x["spyn"],
            "SINO": x["sino"],
            "INYR": x["acdt"][:4],
            "CUCD": x["cucd"],
            "CUAM": x["cuam"],
            "PYAM": x["pyam"],
            "CORI": x["cori"],
        }
        for x in rows
    ]


def _delete_proposal(ctx: Context, r: Row) -> list[Row]:
    proposal = _proposal(ctx, r)
    if proposal["stat"] == "90":
        raise Nok(f"Payment proposal {r['PRPN']} is already confirmed", "PRPN", "WPR0205")
    key = (proposal["prpn"], proposal["pyon"])
    ctx.conn.execute(
        "UPDATE batches SET blocked_by = NULL WHERE inbn IN "
        "(SELECT inbn FROM proposal_lines WHERE prpn = ? AND pyon = ?)",
        key,
    )
    ctx.conn.execute("DELETE FROM proposal_lines WHERE prpn = ? AND pyon = ?", key)
    ctx.conn.execute("DELETE FROM proposals WHERE prpn = ? AND pyon = ?", key)
    return []


def _create_conf_chk(ctx: Context, r: Row) -> list[Row]:
    proposal = _proposal(ctx, r)
    if proposal["stat"] == "90":
        raise Nok(f"Payment proposal {r['PRPN']} is already confirmed", "PRPN", "WPR0205")
    period_open(ctx, r["ACDT"], "ACDT")
    key = (proposal["prpn"], proposal["pyon"])
    for line in ctx.conn.execute(
        "SELECT inbn, pyam FROM proposal_lines WHERE prpn = ? AND pyon = ?", key
    ).fetchall():
        batch = ctx.conn.execute("SELECT paid FROM batches WHERE inbn = ?", (line["inbn"],))
        paid = Decimal(batch.fetchone()["paid"]) + Decimal(line["pyam"])
        ctx.conn.execute(
            "UPDATE batches SET paid = ?, blocked_by = NULL WHERE inbn = ?",
            (str(paid), line["inbn"]),
        )
    ctx.conn.execute(
        "UPDATE proposals SET stat = '90', ckno = ?, vtxt = ?, acdt = ?, cucd = ? "
        "WHERE prpn = ? AND pyon = ?",
        (r.get("CKNO", ""), r.get("VTXT", ""), r["ACDT"], r.get("CUCD") or proposal["cucd"], *key),
    )
    return []


def _lst_proposal(ctx: Context, r: Row) -> list[Row]:
    sql = "SELECT * FROM proposals WHERE cono = ? AND divi = ?"
    params: list[Any] = [ctx.cono, r["DIVI"]]
    if r.get("PRPN"):
        sql += " AND prpn = ?"
        params.append(int(Decimal(r["PRPN"])))
    result = []
    for p in ctx.conn.execute(sql + " ORDER BY prpn, pyon", params).fetchall():
        total = ctx.conn.execute(
            "SELECT pyam FROM proposal_lines WHERE prpn = ? AND pyon = ?", (p["prpn"], p["pyon"])
        ).fetchall()
        result.append(
            {
                "PRPN": str(p["prpn"]),
                "PYON": str(p["pyon"]),
                "SPYN": p["spyn"],
                "PRPD": p["prpd"],
                "LITX": p["litx"],
                "STAT": p["stat"],
                "CKNO": p["ckno"] or "",
                "VTXT": p["vtxt"] or "",
                "ACDT": p["acdt"] or "",
                "CUCD": p["cucd"] or "",
                "PYAM": str(sum((Decimal(x["pyam"]) for x in total), Decimal(0))),
            }
        )
    return result


HANDLERS: dict[tuple[str, str], Callable[[Context, Row], list[Row]]] = {
    ("APS200MI", "GetInvTotInfo"): _get_inv_tot_info,
    ("APS130MI", "CreateProposal"): _create_proposal,
    ("APS130MI", "LstInvByPayDoc"): _lst_inv_by_pay_doc,
    ("APS130MI", "DeleteProposal"): _delete_proposal,
    ("APS130MI", "CreateConfChk"): _create_conf_chk,
    ("APS130MI", "LstProposal"): _lst_proposal,
}
