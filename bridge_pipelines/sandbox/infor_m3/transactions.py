"""M3 transactions: input checked against the field table, then the program's business rules.

`execute(ctx, program, transaction, record)` answers one v2 result: `{"transaction": T,
"records": [...]}` or the failure fields `errorMessage`, `errorType`, `errorCode`,
`errorField` [C shape]. Each transaction is its own database transaction: a refused one
writes nothing, and a bulk request commits each transaction separately (M3 runs them one by
one; nothing rolls back an earlier one) [I].

Statuses [I] (M3's own numbering is not in our sources): a batch is `10` when entered, `20`
when approved for payment, `90` once validated into the supplier ledger (it then has a
voucher number). Messages and error codes of refusals are [I] unless noted.
"""

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from bridge_pipelines.sandbox.infor_m3.programs import PROGRAMS, Field
from bridge_pipelines.sandbox.infor_m3.store import next_number

Row = dict[str, str]
ENTERED, APPROVED, VALIDATED = "10", "20", "90"
LINE_TYPES = {"1", "2", "5", "8"}  # item, order charge, line charge, accounting line [C]
ACCOUNTING_LINE = "8"


class Nok(Exception):
    """A refused transaction, answered as M3 does: HTTP 200 with the error fields."""

    def __init__(
        self, message: str, field: str = "", code: str = "WNOK001", kind: str = "ServerReturnedNOK"
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code
        self.kind = kind


@dataclass
class Context:
    """What one transaction runs with: its company, division, the write connection, the day."""

    conn: sqlite3.Connection
    cono: str
    divi: str
    today: date
    period_status: Callable[[int, int], str]
    lifetime_hint: int = 0


# --- reading inputs ---------------------------------------------------------------------------


def check_fields(program: str, transaction: str, record: dict[str, Any]) -> Row:
    """The record's fields as text, each checked for its M3 type, length and required flag.

    Raises:
        Nok: `TransactionNotFound`, `MandatoryInputFieldNotFound`, `InputFieldTooLong`, or
            `ServerReturnedNOK` for a field that is not the transaction's or has a bad value.
    """
    table = PROGRAMS.get(program, {}).get(transaction)
    if table is None:
        raise Nok(
            f"Transaction {transaction} does not exist in program {program}",
            code="XTN0001",
            kind="TransactionNotFound",
        )
    values = {str(k).upper(): "" if v is None else str(v) for k, v in record.items()}
    for name, value in values.items():
        spec = table.get(name)
        if spec is None:
            raise Nok(f"Input field {name} is not defined for {program}/{transaction}", name)
        _check_value(name, value, spec)
    for name, spec in table.items():
        if spec.required and not values.get(name, "").strip():
            raise Nok(
                f"Mandatory input field {name} not found",
                name,
                code="XMI0001",
                kind="MandatoryInputFieldNotFound",
            )
    return {k: v.strip() for k, v in values.items()}


def _check_value(name: str, value: str, spec: Field) -> None:
    if not value:
        return
    if spec.type == "A":
        if len(value) > spec.length:
            raise Nok(
                f"Input field {name} is too long: {len(value)} characters, at most {spec.length}",
                name,
                code="XIL0001",
                kind="InputFieldTooLong",
            )
        return
    if spec.type == "D":
        if len(value) != 8 or not value.isdigit():
            raise Nok(f"Date {value} in {name} is not YYYYMMDD", name, code="WDT0101")
        try:
            datetime.strptime(value, "%Y%m%d")
        except ValueError:
            raise Nok(f"Date {value} in {name} is invalid", name, code="WDT0101") from None
        return
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise Nok(f"Value {value} in {name} is not numeric", name, code="WNU0101") from None
    digits = len(number.as_tuple().digits)
    if not number.is_finite() or digits > spec.length:
        raise Nok(
            f"Input field {name} is too long: {digits} digits, at most {spec.length}",
            name,
            code="XIL0001",
            kind="InputFieldTooLong",
        )


def _day(text: str) -> date:
    return datetime.strptime(text, "%Y%m%d").date()


def _amount(text: str | None) -> Decimal:
    return Decimal(text) if text else Decimal(0)


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _period_open(ctx: Context, day: str, field: str) -> None:
    when = _day(day)
    status = ctx.period_status(when.year, when.month)
    if status != "open":
        state = "closed" if status == "closed" else "not open yet"
        raise Nok(
            f"Accounting period {when:%Y-%m} is {state} for division {ctx.divi}",
            field,
            code="WPE0101",
        )


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
    _period_open(ctx, acdt, "ACDT")
    terms = int(supplier["tepy"] or 30) if (supplier["tepy"] or "").isdigit() else 30
    dudt = r.get("DUDT") or f"{_day(ivdt) + timedelta(days=terms):%Y%m%d}"
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
            str(_amount(r.get("CUAM"))),
            str(_amount(r.get("VTAM"))),
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
            str(_amount(r.get("NLAM"))),
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
        "VONO": _text(batch["vono"]),
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
    _period_open(ctx, batch["acdt"], "ACDT")
    vono = next_number(ctx.conn, "VONO", 40_000)
    ctx.conn.execute(
        "UPDATE batches SET supa = ?, vono = ? WHERE inbn = ?", (VALIDATED, vono, batch["inbn"])
    )
    return []


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
            "VONO": _text(batch["vono"]),
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
    _period_open(ctx, r["ACDT"], "ACDT")
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


Handler = Callable[[Context, Row], list[Row]]
HANDLERS: dict[tuple[str, str], Handler] = {
    ("APS450MI", "AddHead"): _add_head,
    ("APS450MI", "AddLine"): _add_line,
    ("APS450MI", "ApproveInvoice"): _approve_invoice,
    ("APS450MI", "GetHead"): _get_head,
    ("APS450MI", "LstLines"): _lst_lines,
    ("APS450MI", "LstInvBySupInv"): _lst_inv_by_sup_inv,
    ("APS450MI", "LstInvBatchNo"): _lst_inv_batch_no,
    ("APS455MI", "ValidByBatchNo"): _valid_by_batch_no,
    ("APS200MI", "GetInvTotInfo"): _get_inv_tot_info,
    ("APS130MI", "CreateProposal"): _create_proposal,
    ("APS130MI", "LstInvByPayDoc"): _lst_inv_by_pay_doc,
    ("APS130MI", "DeleteProposal"): _delete_proposal,
    ("APS130MI", "CreateConfChk"): _create_conf_chk,
    ("APS130MI", "LstProposal"): _lst_proposal,
    ("CRS620MI", "LstSuppliers"): _lst_suppliers,
    ("CRS620MI", "GetBasicData"): _get_basic_data,
    ("CRS620MI", "AddSupplier"): _add_supplier,
    ("CRS620MI", "UpdSupplier"): _upd_supplier,
    ("CRS630MI", "LstAccountID"): _lst_account_id,
}
