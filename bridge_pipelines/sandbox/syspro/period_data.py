"""A demo company's month as SYSPRO holds it: GL journal lines, purchase orders, AP invoices.

Entity sets [I: modelled on SYSPRO's company tables; the OData service exposes company tables,
erp-facts.md section 1, but these column names are ours where SYSPRO's were not found]:

- `GenJournalDetail`: one GL journal line (positive `EntryValue` = debit, as GENTJL [C]) with
  its cost centre (analysis code of type 1), journal date and GL year/period.
- `PorMasterDetail`: one purchase order line, with the order's supplier and dates.
- `ApInvoiceDetail`: one AP invoice line with the invoice's header fields repeated.

Every row carries `ChangedAt` (UTC, `YYYY-MM-DDTHH:MM:SSZ`), the timestamp field an
incremental reader filters on [I: SYSPRO tables carry a `TimeStamp` rowversion, which is not
a date; a change date is what the seed promises to filter on]. Paging is server-driven and
keyset-based (`$skiptoken` holds the last row's order key), so the 100th page of 500,000 GL
lines costs what the first does.
"""

import base64
import json
import random
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bridge_pipelines.sandbox.erp_base.store import StateStore
from bridge_pipelines.sandbox.syspro import extensions
from bridge_pipelines.sandbox.syspro.odata import ODATA_ROOT, ODataError, _FilterParser
from bridge_pipelines.sandbox.syspro.seed import AP_CONTROL_ACCOUNT, SYSPRO_SEED

SCHEMA = """
CREATE TABLE IF NOT EXISTS GenJournalDetail (GlYear INTEGER NOT NULL, GlPeriod INTEGER NOT NULL,
    Journal INTEGER NOT NULL, EntryNumber INTEGER NOT NULL, JournalDate TEXT NOT NULL,
    GlCode TEXT NOT NULL, CostCentre TEXT NOT NULL, EntryValue TEXT NOT NULL,
    Reference TEXT NOT NULL, Comment TEXT NOT NULL, SourceCode TEXT NOT NULL,
    ChangedAt TEXT NOT NULL, PRIMARY KEY (GlYear, GlPeriod, Journal, EntryNumber));
CREATE INDEX IF NOT EXISTS GenJournalDetailByCentre
    ON GenJournalDetail (GlYear, GlPeriod, CostCentre, Journal, EntryNumber);
CREATE TABLE IF NOT EXISTS PorMasterDetail (PurchaseOrder TEXT NOT NULL, Line INTEGER NOT NULL,
    Supplier TEXT NOT NULL, OrderDate TEXT NOT NULL, DueDate TEXT NOT NULL,
    StockCode TEXT NOT NULL, Description TEXT NOT NULL, OrderQty TEXT NOT NULL,
    Uom TEXT NOT NULL, Price TEXT NOT NULL, ChangedAt TEXT NOT NULL,
    PRIMARY KEY (PurchaseOrder, Line));
CREATE TABLE IF NOT EXISTS ApInvoiceDetail (Supplier TEXT NOT NULL, Invoice TEXT NOT NULL,
    Line INTEGER NOT NULL, InvoiceDate TEXT NOT NULL, DueDate TEXT NOT NULL,
    GlYear INTEGER NOT NULL, GlPeriod INTEGER NOT NULL, Currency TEXT NOT NULL,
    PurchaseOrder TEXT NOT NULL, StockCode TEXT NOT NULL, Description TEXT NOT NULL,
    Quantity TEXT NOT NULL, Uom TEXT NOT NULL, UnitPrice TEXT NOT NULL, LineValue TEXT NOT NULL,
    GlCode TEXT NOT NULL, CostCentre TEXT NOT NULL, ChangedAt TEXT NOT NULL,
    PRIMARY KEY (Supplier, Invoice, Line));
"""

# entity set -> (columns, key, money columns, integer columns)
SETS: dict[str, tuple[tuple[str, ...], tuple[str, ...], frozenset[str], frozenset[str]]] = {
    "GenJournalDetail": (
        (
            "GlYear",
            "GlPeriod",
            "Journal",
            "EntryNumber",
            "JournalDate",
            "GlCode",
            "CostCentre",
            "EntryValue",
            "Reference",
            "Comment",
            "SourceCode",
            "ChangedAt",
        ),
        ("GlYear", "GlPeriod", "Journal", "EntryNumber"),
        frozenset({"EntryValue"}),
        frozenset({"GlYear", "GlPeriod", "Journal", "EntryNumber"}),
    ),
    "PorMasterDetail": (
        (
            "PurchaseOrder",
            "Line",
            "Supplier",
            "OrderDate",
            "DueDate",
            "StockCode",
            "Description",
            "OrderQty",
            "Uom",
            "Price",
            "ChangedAt",
        ),
        ("PurchaseOrder", "Line"),
        frozenset({"OrderQty", "Price"}),
        frozenset({"Line"}),
    ),
    "ApInvoiceDetail": (
        (
            "Supplier",
            "Invoice",
            "Line",
            "InvoiceDate",
            "DueDate",
            "GlYear",
            "GlPeriod",
            "Currency",
            "PurchaseOrder",
            "StockCode",
            "Description",
            "Quantity",
            "Uom",
            "UnitPrice",
            "LineValue",
            "GlCode",
            "CostCentre",
            "ChangedAt",
        ),
        ("Supplier", "Invoice", "Line"),
        frozenset({"Quantity", "UnitPrice", "LineValue"}),
        frozenset({"Line", "GlYear", "GlPeriod"}),
    ),
}

_EXPENSE_CODES = tuple(
    c.gl_code
    for c in SYSPRO_SEED.ledger_codes
    if c.account_type == "E" and not c.on_hold and c.gl_code != AP_CONTROL_ACCOUNT
)
_CENTRES = tuple(sorted(SYSPRO_SEED.analysis_codes))
_SUPPLIERS = tuple(s.supplier for s in SYSPRO_SEED.suppliers if s.currency == "USD")
_ITEMS = (
    ("RM-STEEL-04", "Cold rolled steel sheet 4mm", "KG", Decimal("1.85")),
    ("RM-ALU-6061", "Aluminium bar 6061", "KG", Decimal("4.20")),
    ("PK-CRATE-L", "Wooden export crate, large", "EA", Decimal("38.50")),
    ("CN-BOLT-M8", "Hex bolt M8x40 zinc", "BX", Decimal("12.75")),
    ("SV-CALIB", "Calibration service, CMM", "HR", Decimal("95.00")),
    ("MR-BEARING", "Spindle bearing 6204", "EA", Decimal("7.40")),
)


def stamp(moment: datetime) -> str:
    """The `ChangedAt` form: UTC to the second, `YYYY-MM-DDTHH:MM:SSZ` (sorts as text)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _month(period: str) -> tuple[date, int]:
    first = date.fromisoformat(f"{period}-01")
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first, (following - first).days


def gl_rows(period: str, lines: int, *, seed: int = 7) -> Iterator[tuple[Any, ...]]:
    """`lines` balanced journal lines of `period` (journals of 2 to 6 lines), deterministically."""
    rng = random.Random(f"{period}:{seed}")
    first, days = _month(period)
    year, month = first.year, first.month
    journal, written = 0, 0
    while written < lines:
        journal += 1
        size = min(rng.randint(2, 6), lines - written)
        size = max(size, 2) if lines - written >= 2 else 1
        day = first + timedelta(days=(journal * 7) % days)
        centre = rng.choice(_CENTRES)
        changed = stamp(datetime(day.year, day.month, day.day, 18, tzinfo=UTC))
        amounts = [Decimal(rng.randint(500, 2_500_000)) / 100 for _ in range(size - 1)]
        entries = [(rng.choice(_EXPENSE_CODES), a) for a in amounts]
        entries.append((AP_CONTROL_ACCOUNT, -sum(amounts, Decimal(0))))
        for number, (code, value) in enumerate(entries[:size], start=1):
            yield (
                year,
                month,
                journal,
                number,
                day.isoformat(),
                code,
                centre,
                str(value),
                f"JNL-{year}{month:02d}-{journal:06d}",
                "Accrual" if number < size else "AP control",
                "GJ",
                changed,
            )
        written += size


def po_rows(period: str, orders: int, *, seed: int = 7) -> Iterator[tuple[Any, ...]]:
    """`orders` purchase orders of `period` (1 to 4 lines each), deterministically."""
    rng = random.Random(f"po:{period}:{seed}")
    first, days = _month(period)
    for n in range(1, orders + 1):
        ordered = first + timedelta(days=rng.randrange(days))
        supplier = rng.choice(_SUPPLIERS)
        for line in range(1, rng.randint(1, 4) + 1):
            code, text, uom, price = rng.choice(_ITEMS)
            due = ordered + timedelta(days=rng.choice((14, 21, 30, 45, 60)))
            yield (
                f"PO{first:%y%m}{n:04d}",
                line,
                supplier,
                ordered.isoformat(),
                due.isoformat(),
                code,
                text,
                str(Decimal(rng.randint(1, 400))),
                uom,
                str(price),
                stamp(datetime(ordered.year, ordered.month, ordered.day, 15, tzinfo=UTC)),
            )


def invoice_rows(period: str, invoices: int, *, seed: int = 7) -> Iterator[tuple[Any, ...]]:
    """`invoices` AP invoices of `period` (1 to 5 lines each), deterministically."""
    rng = random.Random(f"inv:{period}:{seed}")
    first, days = _month(period)
    for n in range(1, invoices + 1):
        invoiced = first + timedelta(days=rng.randrange(days))
        supplier = rng.choice(_SUPPLIERS)
        changed = stamp(datetime(invoiced.year, invoiced.month, invoiced.day, 16, tzinfo=UTC))
        for line in range(1, rng.randint(1, 5) + 1):
            code, text, uom, price = rng.choice(_ITEMS)
            quantity = Decimal(rng.randint(1, 250))
            yield (
                supplier,
                f"INV-{first:%y%m}-{n:04d}",
                line,
                invoiced.isoformat(),
                (invoiced + timedelta(days=30)).isoformat(),
                first.year,
                first.month,
                "USD",
                f"PO{first:%y%m}{rng.randint(1, 20):04d}",
                code,
                text,
                str(quantity),
                uom,
                str(price),
                str((quantity * price).quantize(Decimal("0.01"))),
                rng.choice(_EXPENSE_CODES),
                rng.choice(_CENTRES),
                changed,
            )


def seed_period(
    store: StateStore, period: str, *, gl_lines: int = 800, orders: int = 20, invoices: int = 30
) -> None:
    """Add `period`'s journals, purchase orders and AP invoices (a no-op for rows already in)."""
    with store.transaction() as conn:
        conn.executemany(
            "INSERT OR IGNORE INTO GenJournalDetail VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            gl_rows(period, gl_lines),
        )
        conn.executemany(
            "INSERT OR IGNORE INTO PorMasterDetail VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            po_rows(period, orders),
        )
        conn.executemany(
            "INSERT OR IGNORE INTO ApInvoiceDetail VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            invoice_rows(period, invoices),
        )


def previous_period(today: date) -> str:
    """The month before `today`'s, `YYYY-MM`: the month a close exports."""
    last = today.replace(day=1) - timedelta(days=1)
    return f"{last:%Y-%m}"


def _seed(store: StateStore) -> None:
    seed_period(store, previous_period(datetime.now(UTC).date()))


def _skiptoken(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def _from_skiptoken(token: str, width: int) -> list[Any]:
    try:
        values = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except ValueError:
        values = None
    if not isinstance(values, list) or len(values) != width:
        raise ODataError("invalid $skiptoken")
    return values


def handle(store: StateStore, request: Request, name: str, page_size: int) -> Response:
    """One page of `name`: `$filter`, `$select`, `$orderby` (ascending), `$top`, `$skiptoken`."""
    columns, key, money, _integers = SETS[name]
    params = dict(request.query_params)
    try:
        unknown = {p for p in params if p.startswith("$")} - {
            "$filter",
            "$select",
            "$orderby",
            "$top",
            "$skiptoken",
            "$format",
        }
        if unknown:
            raise ODataError(f"unsupported query option {sorted(unknown)[0]}")
        where: list[str] = []
        values: list[Any] = []
        if params.get("$filter"):
            parser = _FilterParser(params["$filter"], columns)
            where.append(parser.parse())
            values.extend(parser.params)
        selected = [c.strip() for c in params.get("$select", "").split(",") if c.strip()]
        selected = selected or list(columns)
        order: list[str] = []
        for part in params.get("$orderby", "").split(","):
            column, _, direction = part.strip().partition(" ")
            if not column:
                continue
            if column not in columns or direction.strip().lower() not in ("", "asc"):
                raise ODataError(f"invalid $orderby '{part.strip()}' (ascending columns only)")
            order.append(column)
        order += [k for k in key if k not in order]
        for column in selected:
            if column not in columns:
                raise ODataError(f"could not find a property named '{column}'")
        if params.get("$skiptoken"):
            last = _from_skiptoken(params["$skiptoken"], len(order))
            where.append(f"({', '.join(order)}) > ({', '.join('?' * len(order))})")
            values.extend(last)
        top = int(params["$top"]) if params.get("$top", "").isdigit() else None
    except ODataError as exc:
        return JSONResponse({"error": {"code": "", "message": str(exc)}}, status_code=400)
    limit = page_size if top is None else min(top, page_size)
    # Rows are rendered as JSON by SQLite itself (money stays the stored decimal text): the
    # Python side only joins them, so a 5,000-row page costs milliseconds, not a second.
    pairs = ", ".join(f"'{c}', " + (f"json({c})" if c in money else c) for c in selected)
    sql = (
        f"SELECT json_object({pairs}) AS row, {', '.join(order)} FROM {name}"
        + (f" WHERE {' AND '.join(where)}" if where else "")
        + f" ORDER BY {', '.join(order)} LIMIT ?"
    )
    rows = store.rows(sql, [*values, limit + 1])
    more = len(rows) > limit and (top is None or top > limit)
    rows = rows[:limit]
    base = f"{request.base_url}{ODATA_ROOT.lstrip('/')}"
    head = json.dumps({"@odata.context": f"{base}/$metadata#{name}"})[1:-1]
    if more:
        following = {k: v for k, v in params.items() if k != "$skiptoken"}
        following["$skiptoken"] = _skiptoken([rows[-1][c] for c in order])
        if top is not None:
            following["$top"] = str(top - len(rows))
        link = f"{base}/{name}?{urllib.parse.urlencode(following)}"
        head += "," + json.dumps({"@odata.nextLink": link})[1:-1]
    body = ",".join(row["row"] for row in rows)
    payload = "{" + head + ',"value":[' + body + "]}"
    return Response(payload.encode("utf-8"), media_type="application/json; odata.metadata=minimal")


EXTENSION = extensions.EntitySetExtension(
    schema=SCHEMA, seed=_seed, entity_sets=tuple(SETS), handler=handle
)
extensions.register(EXTENSION)
