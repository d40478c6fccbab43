"""Throwaway Books' sandbox: its JSON API under `/api`, on the shared ERP sandbox base.

Faults, the clock, the request log, reset, rate limits and `/_sandbox/` come from
`sandbox/erp_base`; this module holds the ERP's own routes and rules:

- `POST /api/login` `{"user", "password"}` answers `{"session": "tws_<32 hex>"}`; the token
  travels back as the `TWSESSION` cookie and ends after `session_idle_minutes` of inactivity
  on the sandbox clock (401 `session_expired`). Bad credentials: 401 `invalid_credentials`.
- `GET /api/{vendors,accounts,cost_centers}?offset=&limit=`: pages of `{"code", "name"}`
  (`limit` defaults to and is capped by `page_size`), `next_offset` null on the last page.
- `GET|PUT /api/vendors/{code}` (404 `not_found`), `POST /api/vendors` (409 if it exists).
- `POST /api/bills`: a bill or credit note; unknown book, vendor, account or cost center and
  lines plus tax differing from the total are refused (422 `validation`), and so is a
  `posting_date` (else `date`) in a month the period calendar does not hold open (422
  `period_closed`; the shared rule: this month and the last open). Duplicates are accepted, as many
  ERPs accept them: preventing them is the bridge's job, and the suite must see one.
- `GET /api/bills?reference=` or `?reference_prefix=` (paged as above); each bill says what
  payments have applied to it (`paid`).
- `POST /api/payments` `{"book", "vendor", "reference", "date", "currency", "method",
  "applications": [{"bill": id, "amount"}]}`: one payment of the vendor's bills and credit
  notes; each amount must be positive and at most what is open on it, bills less credits must
  pay out a positive amount, the date's period must be open (422 otherwise). Duplicates are
  accepted, as for bills. `GET /api/payments?reference=` or `?reference_prefix=`.
"""

import json
import secrets
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, ClassVar

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bridge_pipelines.sandbox.erp_base import calendar
from bridge_pipelines.sandbox.erp_base.app import build_app
from bridge_pipelines.sandbox.erp_base.faults import Fault
from bridge_pipelines.sandbox.erp_base.sandbox import ErpSandbox

API_ROOT = "/api"
SESSION_COOKIE = "TWSESSION"
USER = "bridge"
PASSWORD = "Thr0w-Away-Books!"
BOOK = "MAIN"
VENDORS = {f"V{100 + i}": f"Throwaway Vendor {i}" for i in range(12)}
ACCOUNTS = {f"{6000 + 100 * i}": f"Expense {i}" for i in range(7)}
COST_CENTERS = {"CC10": "East", "CC20": "West", "CC30": "Head office"}
LISTS = {"vendors": "vendor", "accounts": "account", "cost_centers": "cost_center"}
MAX_LIMIT = 500

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    token TEXT PRIMARY KEY, user_name TEXT NOT NULL, last_used_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS master (
    kind TEXT NOT NULL, code TEXT NOT NULL, name TEXT NOT NULL, PRIMARY KEY (kind, code)
);
CREATE TABLE IF NOT EXISTS bills (
    id INTEGER PRIMARY KEY AUTOINCREMENT, book TEXT NOT NULL, kind TEXT NOT NULL,
    vendor TEXT NOT NULL, number TEXT NOT NULL, reference TEXT NOT NULL,
    bill_date TEXT NOT NULL, posting_date TEXT NOT NULL, tax TEXT NOT NULL,
    total TEXT NOT NULL, lines TEXT NOT NULL, paid TEXT NOT NULL DEFAULT '0'
);
CREATE TABLE IF NOT EXISTS payments (
    id INTEGER PRIMARY KEY AUTOINCREMENT, book TEXT NOT NULL, vendor TEXT NOT NULL,
    reference TEXT NOT NULL, payment_date TEXT NOT NULL, currency TEXT NOT NULL,
    method TEXT NOT NULL, total TEXT NOT NULL, applications TEXT NOT NULL
);
"""


class Refused(Exception):
    """An answer other than success: its status, error code and message."""

    def __init__(self, status: int, error: str, message: str = "") -> None:
        super().__init__(message or error)
        self.status = status
        self.error = error
        self.message = message or error


def _answer(exc: Refused) -> JSONResponse:
    return JSONResponse({"error": exc.error, "message": exc.message}, status_code=exc.status)


def _money(value: object, what: str) -> Decimal:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise Refused(422, "validation", f"{what}: not an amount") from None
    if not amount.is_finite() or amount < 0:
        raise Refused(422, "validation", f"{what}: must be a positive amount")
    return amount


class ThrowawaySandbox(ErpSandbox):
    """Throwaway Books over one seeded company."""

    name: ClassVar[str] = "throwaway"
    schema: ClassVar[str] = SCHEMA
    default_config: ClassVar[dict[str, Any]] = {"session_idle_minutes": 15, "page_size": 50}

    def seed(self) -> None:
        for kind, table in (
            ("vendor", VENDORS),
            ("account", ACCOUNTS),
            ("cost_center", COST_CENTERS),
        ):
            for code, name in table.items():
                self.store.execute("INSERT INTO master VALUES (?, ?, ?)", (kind, code, name))

    def routes(self) -> list[BaseRoute]:
        def guarded(handler: Any) -> Any:
            async def endpoint(request: Request) -> Response:
                try:
                    if request.url.path != f"{API_ROOT}/login":
                        self._session(request)
                    result: Response = await handler(request)
                    return result
                except Refused as exc:
                    return _answer(exc)

            return endpoint

        return [
            Route(f"{API_ROOT}/login", guarded(self.login), methods=["POST"]),
            Route(f"{API_ROOT}/logout", guarded(self.logout), methods=["POST"]),
            Route(f"{API_ROOT}/vendors", guarded(self.vendors), methods=["GET", "POST"]),
            # `path`: a code with an escaped `/` arrives decoded and stays one code.
            Route(
                f"{API_ROOT}/vendors/{{code:path}}", guarded(self.vendor), methods=["GET", "PUT"]
            ),
            Route(f"{API_ROOT}/accounts", guarded(self.listing), methods=["GET"]),
            Route(f"{API_ROOT}/cost_centers", guarded(self.listing), methods=["GET"]),
            Route(f"{API_ROOT}/bills", guarded(self.bills), methods=["GET", "POST"]),
            Route(f"{API_ROOT}/payments", guarded(self.payments), methods=["GET", "POST"]),
        ]

    # --- sessions ----------------------------------------------------------------------------

    def _session(self, request: Request) -> str:
        token = request.cookies.get(SESSION_COOKIE, "")
        rows = self.store.rows("SELECT * FROM sessions WHERE token = ?", (token,))
        now = self.clock.now()
        idle = timedelta(minutes=float(self.config["session_idle_minutes"]))
        if not rows or datetime.fromisoformat(rows[0]["last_used_at"]) + idle < now:
            self.store.execute("DELETE FROM sessions WHERE token = ?", (token,))
            raise Refused(401, "session_expired", "no session, or it has ended; log in again")
        self.store.execute(
            "UPDATE sessions SET last_used_at = ? WHERE token = ?", (now.isoformat(), token)
        )
        return token

    async def login(self, request: Request) -> Response:
        body = await _body(request)
        if body.get("user") != USER or body.get("password") != PASSWORD:
            raise Refused(401, "invalid_credentials", "unknown user or wrong password")
        token = "tws_" + secrets.token_hex(16)
        self.store.execute(
            "INSERT INTO sessions VALUES (?, ?, ?)", (token, USER, self.clock.now().isoformat())
        )
        return JSONResponse({"session": token})

    async def logout(self, request: Request) -> Response:
        token = request.cookies.get(SESSION_COOKIE, "")
        self.store.execute("DELETE FROM sessions WHERE token = ?", (token,))
        return Response(status_code=204)

    # --- master data -------------------------------------------------------------------------

    def _page(self, request: Request, sql: str, params: tuple[Any, ...]) -> JSONResponse:
        try:
            offset = int(request.query_params.get("offset", 0))
            limit = int(request.query_params.get("limit", self.config["page_size"]))
        except ValueError:
            raise Refused(400, "bad_request", "offset and limit must be integers") from None
        limit = max(1, min(limit, int(self.config["page_size"]), MAX_LIMIT))
        total = len(self.store.rows(sql, params))
        rows = self.store.rows(f"{sql} LIMIT ? OFFSET ?", (*params, limit, max(0, offset)))
        items = [self._item(dict(row)) for row in rows]
        following = offset + limit if offset + limit < total else None
        return JSONResponse({"items": items, "next_offset": following})

    @staticmethod
    def _item(row: dict[str, Any]) -> dict[str, Any]:
        if "applications" in row:
            return {**row, "applications": json.loads(row["applications"])}
        if "lines" not in row:
            return {"code": row["code"], "name": row["name"]}
        return {**row, "lines": json.loads(row["lines"])}

    async def listing(self, request: Request) -> Response:
        kind = LISTS[request.url.path.rsplit("/", 1)[-1]]
        return self._page(request, "SELECT * FROM master WHERE kind = ? ORDER BY code", (kind,))

    async def vendors(self, request: Request) -> Response:
        if request.method == "GET":
            return await self.listing(request)
        body = await _body(request)
        code, name = str(body.get("code") or ""), str(body.get("name") or "")
        if not code or len(code) > 10 or not name:
            raise Refused(422, "validation", "code (1-10 characters) and name are required")
        if self._known("vendor", code):
            raise Refused(409, "exists", f"vendor {code} exists")
        self.store.execute("INSERT INTO master VALUES ('vendor', ?, ?)", (code, name))
        return JSONResponse({"code": code, "name": name}, status_code=201)

    async def vendor(self, request: Request) -> Response:
        code = request.path_params["code"]
        if not self._known("vendor", code):
            raise Refused(404, "not_found", f"no vendor {code}")
        if request.method == "PUT":
            name = str((await _body(request)).get("name") or "")
            if not name:
                raise Refused(422, "validation", "name is required")
            self.store.execute(
                "UPDATE master SET name = ? WHERE kind = 'vendor' AND code = ?", (name, code)
            )
        [row] = self.store.rows("SELECT * FROM master WHERE kind = 'vendor' AND code = ?", (code,))
        return JSONResponse(self._item(dict(row)))

    def _known(self, kind: str, code: object) -> bool:
        found = self.store.rows("SELECT 1 FROM master WHERE kind = ? AND code = ?", (kind, code))
        return bool(found)

    # --- bills -------------------------------------------------------------------------------

    async def bills(self, request: Request) -> Response:
        if request.method == "GET":
            query = request.query_params
            if "reference" in query:
                where, params = "reference = ?", (query["reference"],)
            else:
                where, params = "reference LIKE ?", (query.get("reference_prefix", "") + "%",)
            return self._page(request, f"SELECT * FROM bills WHERE {where} ORDER BY id", params)
        body = await _body(request)
        bill = self._valid_bill(body)
        cursor = self.store.execute(
            "INSERT INTO bills (book, kind, vendor, number, reference, bill_date, posting_date, "
            "tax, total, lines) VALUES (:book, :kind, :vendor, :number, :reference, :bill_date, "
            ":posting_date, :tax, :total, :lines)",
            bill,
        )
        number = f"B{cursor.lastrowid:06d}"
        return JSONResponse({"id": cursor.lastrowid, "number": number}, status_code=201)

    def _valid_bill(self, body: dict[str, Any]) -> dict[str, Any]:
        problems = []
        if body.get("book") != BOOK:
            problems.append(f"book {body.get('book')!r} does not exist")
        if body.get("kind") not in ("bill", "credit"):
            problems.append("kind must be 'bill' or 'credit'")
        if not self._known("vendor", body.get("vendor")):
            problems.append(f"vendor {body.get('vendor')!r} does not exist")
        for name in ("number", "reference", "date"):
            if not str(body.get(name) or "").strip():
                problems.append(f"{name} is required")
        given = body.get("lines")
        lines = [x for x in given if isinstance(x, dict)] if isinstance(given, list) else []
        if not lines:
            problems.append("a bill needs lines")
        net = Decimal(0)
        for index, line in enumerate(lines, 1):
            if not self._known("account", line.get("account")):
                problems.append(f"line {index}: account {line.get('account')!r} does not exist")
            center = line.get("cost_center")
            if center is not None and not self._known("cost_center", center):
                problems.append(f"line {index}: cost center {center!r} does not exist")
            net += _money(line.get("amount"), f"line {index} amount")
        tax, total = _money(body.get("tax"), "tax"), _money(body.get("total"), "total")
        if net + tax != total:
            problems.append(f"lines {net} + tax {tax} != total {total}")
        if problems:
            raise Refused(422, "validation", "; ".join(problems))
        posting_date = str(body.get("posting_date") or body["date"])
        self._period_open(posting_date)
        return {
            "book": BOOK,
            "kind": body["kind"],
            "vendor": body["vendor"],
            "number": str(body["number"]),
            "reference": str(body["reference"]),
            "bill_date": str(body["date"]),
            "posting_date": posting_date,
            "tax": str(tax),
            "total": str(total),
            "lines": json.dumps(lines),
        }

    # --- payments ----------------------------------------------------------------------------

    async def payments(self, request: Request) -> Response:
        if request.method == "GET":
            query = request.query_params
            if "reference" in query:
                where, params = "reference = ?", (query["reference"],)
            else:
                where, params = "reference LIKE ?", (query.get("reference_prefix", "") + "%",)
            return self._page(request, f"SELECT * FROM payments WHERE {where} ORDER BY id", params)
        body = await _body(request)
        vendor = body.get("vendor")
        problems = []
        if body.get("book") != BOOK:
            problems.append(f"book {body.get('book')!r} does not exist")
        if not self._known("vendor", vendor):
            problems.append(f"vendor {vendor!r} does not exist")
        for name in ("reference", "date", "currency", "method"):
            if not str(body.get(name) or "").strip():
                problems.append(f"{name} is required")
        given = body.get("applications")
        applications = [a for a in given if isinstance(a, dict)] if isinstance(given, list) else []
        if not applications:
            problems.append("a payment settles at least one bill")
        total = Decimal(0)
        paid: dict[int, Decimal] = {}
        for index, application in enumerate(applications, 1):
            rows = self.store.rows("SELECT * FROM bills WHERE id = ?", (application.get("bill"),))
            amount = _money(application.get("amount"), f"application {index} amount")
            if not rows:
                problems.append(f"application {index}: bill {application.get('bill')!r} not found")
                continue
            bill = rows[0]
            if bill["vendor"] != vendor:
                problems.append(f"application {index}: bill {bill['id']} is not {vendor}'s")
            open_amount = Decimal(bill["total"]) - Decimal(bill["paid"]) - paid.get(bill["id"], 0)
            if amount <= 0 or amount > open_amount:
                problems.append(
                    f"application {index}: {amount} exceeds what is open on bill "
                    f"{bill['id']} ({open_amount})"
                )
            paid[bill["id"]] = paid.get(bill["id"], Decimal(0)) + amount
            total += amount if bill["kind"] == "bill" else -amount
        if applications and total <= 0:
            problems.append(f"the payment pays out {total}: it must be positive")
        if problems:
            raise Refused(422, "validation", "; ".join(problems))
        self._period_open(str(body["date"]))
        with self.store.transaction() as conn:
            for bill_id, amount in paid.items():
                (row,) = conn.execute("SELECT paid FROM bills WHERE id = ?", (bill_id,)).fetchall()
                conn.execute(
                    "UPDATE bills SET paid = ? WHERE id = ?",
                    (str(Decimal(row[0]) + amount), bill_id),
                )
            cursor = conn.execute(
                "INSERT INTO payments (book, vendor, reference, payment_date, currency, method, "
                "total, applications) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    BOOK, vendor, str(body["reference"]), str(body["date"]),
                    str(body["currency"]), str(body["method"]), str(total),
                    json.dumps([{"bill": b, "amount": str(a)} for b, a in paid.items()]),
                ),
            )  # fmt: skip
        return JSONResponse(
            {"id": cursor.lastrowid, "number": f"P{cursor.lastrowid:06d}"}, status_code=201
        )

    def _period_open(self, posting_date: str) -> None:
        try:
            day = date.fromisoformat(posting_date)
        except ValueError:
            raise Refused(
                422, "validation", f"posting date {posting_date!r} is not a date"
            ) from None
        status = self.period_status(day.year, day.month)
        if status != calendar.OPEN:
            state = "closed" if status == calendar.CLOSED else "not open yet"
            period = calendar.period_key(day.year, day.month)
            raise Refused(422, "period_closed", f"period {period} is {state}")

    def documents(self) -> list[dict[str, Any]]:
        """Every bill and credit note with the journal it makes (expense + tax vs payable)."""
        result = []
        for row in self.store.rows("SELECT * FROM bills ORDER BY id"):
            lines = json.loads(row["lines"])
            expense = sum((Decimal(str(x["amount"])) for x in lines), Decimal(0))
            expense += Decimal(row["tax"])
            payable = Decimal(row["total"])
            debits, credits = (expense, payable) if row["kind"] == "bill" else (payable, expense)
            result.append({**self._item(dict(row)), "debits": str(debits), "credits": str(credits)})
        for row in self.store.rows("SELECT * FROM payments ORDER BY id"):
            result.append({**self._item(dict(row)), "kind": "payment"})
        return result

    # --- fault answers in this ERP's words ---------------------------------------------------

    def answer_expire_session(self, request: Request, fault: Fault) -> Response:
        token = request.cookies.get(SESSION_COOKIE, "")
        self.store.execute("DELETE FROM sessions WHERE token = ?", (token,))
        return _answer(Refused(401, "session_expired", "the session has ended"))

    def answer_auth_fail(self, request: Request, fault: Fault) -> Response:
        return _answer(Refused(401, "invalid_credentials", "unknown user or wrong password"))

    def answer_validation(self, request: Request, fault: Fault) -> Response:
        return _answer(Refused(422, "validation", fault.message or "the period is closed"))


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"null")
    except ValueError:
        raise Refused(400, "bad_request", "the body is not JSON") from None
    if not isinstance(body, dict):
        raise Refused(400, "bad_request", "the body must be a JSON object")
    return body


def create_app(state_dir: Path) -> Starlette:
    """The sandbox app over `state_dir` (the runner's `module:factory`)."""
    return build_app(ThrowawaySandbox(state_dir))


APP_FACTORY = "bridge_pipelines_tests.erps.throwaway.sandbox:create_app"
