"""The Acumatica sandbox's HTTP side: the contract-based REST API of one tenant.

- `GET /entity` lists the endpoints [C]; `/entity/{Endpoint}/{Version}/{Entity}` serves the
  `Default` endpoint in `VERSIONS`; any other endpoint or version answers 404 [C].
- `GET .../swagger.json`: the OpenAPI 3.0 document of that version, from `entities.py`, and
  `GET /entity/swagger.json` the instance's (sign in, sign out, version) [C].
- Cookie login `POST /entity/auth/login` (204 + cookies) and logout (204; without
  `Content-Length` IIS answers 411) [C]; a wrong password answers 500 `PX.Data.PXException`
  "Invalid credentials. Please try again." [I]; over the licence's API users, 429 "API Login
  Limit" [C: the official client's mapping].
- OAuth 2.0 `POST /identity/connect/token` (form): `password` and `refresh_token` grants,
  `client_id` `GUID@Tenant`, tokens for `expires_in` 3600 s, refresh tokens rotating: a used
  or expired one answers 401 `invalid_grant` (the issue's rule; IdentityServer says 400 [I]).
- Records: every field `{"value": ...}`, an unwrapped one is a 400 [C]; `id`, `rowNumber`,
  `note`, `custom`, `_links` added [C]; details only with `$expand` [I].
- PUT upserts by key fields (or `id`); `If-None-Match: *` makes it create-only: 412 when the
  key exists [C]; field errors answer 422 with `error` on each field [C].
- A key GET of a missing record answers 500 `NoEntitySatisfiesTheConditionException` [C].
- `POST .../Bill/ReleaseBill` answers 202 + `Location`; polling it answers 202, then 204 [C].
- The licence throttle (`throttle.py`) and the API user limit, set through `/_sandbox/config`.
- Admin: `POST /_sandbox/acumatica/checks` pays released bills with an AP check, as a clerk
  would in the ERP (the connector only reads payments).
"""

import hmac
import json
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from bridge_pipelines.sandbox.acumatica import rules
from bridge_pipelines.sandbox.acumatica import store as db
from bridge_pipelines.sandbox.acumatica.entities import (
    ENDPOINT,
    ENTITIES,
    VERSIONS,
    BadBody,
    Entity,
    instance_swagger,
    swagger,
    unwrap,
    wrap,
)
from bridge_pipelines.sandbox.acumatica.query import QueryError, compile_filter, count, names
from bridge_pipelines.sandbox.acumatica.seed import (
    ACUMATICA_SEED,
    API_PASSWORD,
    API_USER,
    CLIENT_ID,
    CLIENT_SECRET,
    DEFAULT_BRANCH,
    TENANT,
)
from bridge_pipelines.sandbox.acumatica.throttle import LicenceThrottle
from bridge_pipelines.sandbox.erp_base import calendar
from bridge_pipelines.sandbox.erp_base.app import build_app
from bridge_pipelines.sandbox.erp_base.faults import Fault
from bridge_pipelines.sandbox.erp_base.sandbox import ErpSandbox

AUTH_COOKIE = ".ASPXAUTH"
SESSION_COOKIE = "ASP.NET_SessionId"
NOT_LOGGED_IN = "Authorization has been denied for this request."
INVALID_CREDENTIALS = "Invalid credentials. Please try again."
NO_ENTITY = "PX.Api.ContractBased.NoEntitySatisfiesTheConditionException"
BUILD = "25.201.0123"


def error(
    status: int, message: str, exception: str | None = None, kind: str | None = None
) -> Response:
    """Acumatica's error body: message, exceptionMessage, exceptionType, stackTrace [C]."""
    body: dict[str, Any] = {"message": message}
    if exception is not None:
        body |= {"exceptionMessage": exception, "exceptionType": kind or "PX.Data.PXException",
                 "stackTrace": "   at PX.Api.ContractBased..."}  # fmt: skip
    return JSONResponse(body, status_code=status)


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(db.dumps(body), status_code=status, headers=headers,
                    media_type="application/json; charset=utf-8")  # fmt: skip


class AcumaticaSandbox(ErpSandbox):
    """One Acumatica tenant (Summit Ridge Builders) on the `Default` endpoint."""

    name: ClassVar[str] = "acumatica"
    schema: ClassVar[str] = db.SCHEMA
    period_rule: ClassVar[calendar.CalendarRule] = calendar.CalendarRule(
        open_back=1, open_ahead=2, later=calendar.NOT_OPEN
    )
    default_config: ClassVar[dict[str, Any]] = {
        "licence_requests_per_minute": 0,  # 0 = no licence throttle
        "licence_queue_limit": 20,  # [C] declined once more than 20 wait
        "licence_max_wait_seconds": 600,  # [C] or after 10 minutes
        "api_user_limit": 5,  # concurrent API sessions (the trial licence has 2 [C])
        "session_timeout_minutes": 10,  # [I]
        "token_lifetime_seconds": 3600,  # [C]
        "refresh_token_lifetime_days": 30,  # [I]
        "release_polls": 1,  # status polls answering 202 before 204
        "duplicate_vendor_ref": False,  # AP preference: refuse a duplicate VendorRef
        "endpoint_versions": list(VERSIONS),
    }

    def __init__(self, state_dir: Path) -> None:
        self.throttle = LicenceThrottle()
        super().__init__(state_dir)

    def _load_config(self) -> None:
        super()._load_config()
        self.throttle.configure(
            int(self.config["licence_requests_per_minute"]),
            int(self.config["licence_queue_limit"]),
            float(self.config["licence_max_wait_seconds"]),
        )

    # --- seed and admin ------------------------------------------------------------------

    def seed(self) -> None:
        s = ACUMATICA_SEED
        with self.store.transaction() as conn:
            for entity, rows in (
                ("Vendor", s.vendors),
                ("Account", s.accounts),
                ("Subaccount", s.subaccounts),
                ("Branch", s.branches),
                ("Project", s.projects),
            ):
                for row in rows:
                    db.insert(conn, ENTITIES[entity], dict(row))
            for po in s.purchase_orders:
                lines = [
                    {"LineNbr": n, "Account": account, "Subaccount": sub, "Project": project,
                     "LineDescription": text, "OrderQty": qty, "UnitCost": cost,
                     "ExtendedCost": qty * cost, "QtyOnReceipts": 0, "Branch": po.branch,
                     "Completed": po.status != "Open"}
                    for n, (account, sub, project, text, qty, cost) in enumerate(po.lines, 1)
                ]  # fmt: skip
                db.insert(
                    conn,
                    ENTITIES["PurchaseOrder"],
                    {"Type": "Normal", "OrderNbr": po.number, "VendorID": po.vendor,
                     "Date": f"{po.date}T00:00:00+00:00", "Status": po.status,
                     "Hold": False, "CurrencyID": "USD", "Branch": po.branch,
                     "OrderTotal": sum(line["ExtendedCost"] for line in lines),
                     "Description": lines[0]["LineDescription"], "Details": lines},
                )  # fmt: skip

    def seed_info(self) -> dict[str, Any]:
        return ACUMATICA_SEED.to_json()

    def documents(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = json.loads(db.dumps(db.query(self.store, "Bill")))
        return [
            {k: v for k, v in bill.items() if k != "Applications"} | {
                "kind": "Bill", "applications": bill.get("Applications") or []}
            for bill in rows
        ]  # fmt: skip

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/entity", self.endpoints, methods=["GET"]),
            Route("/entity/swagger.json", self.instance_swagger, methods=["GET"]),
            Route("/entity/auth/login", self.login, methods=["POST"]),
            Route("/entity/auth/logout", self.logout, methods=["POST"]),
            Route("/identity/connect/token", self.token, methods=["POST"]),
            Route("/_sandbox/acumatica/checks", self.admin_pay, methods=["POST"]),
            Route(
                "/entity/{endpoint}/{version}/{rest:path}",
                self.entity_route,
                methods=["GET", "PUT", "POST", "DELETE"],
            ),
        ]

    async def admin_pay(self, request: Request) -> Response:
        """A clerk pays released bills with one AP check (the connector only reads payments).

        Body: `{"vendor", "bills": [{"ReferenceNbr" or "VendorRef", "amount"}], "date",
        "payment_ref"}`: a bill is named by its number, or by the vendor's invoice number (as
        a Stampli payment file names it).
        """
        try:
            body = json.loads(await request.body())
            applications = [
                (self._bill_number(str(body["vendor"]), b), Decimal(str(b["amount"])))
                for b in body["bills"]
            ]
            ctx = {**body, "now": self._now()}
            with self.store.transaction() as conn:
                check, bills = rules.pay(self.store, str(body["vendor"]), applications, ctx)
                check["ReferenceNbr"] = f"{db.next_number(conn, 'AP:Check'):06d}"
                saved = db.insert(conn, ENTITIES["Check"], check)
                for bill in bills:
                    for row in bill["Applications"]:
                        row["ReferenceNbr"] = row["ReferenceNbr"] or check["ReferenceNbr"]
                    db.replace(conn, ENTITIES["Bill"], bill)
        except (KeyError, ValueError, TypeError, ArithmeticError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return _json(saved, 201)

    # --- helpers ---------------------------------------------------------------------------

    def _bill_number(self, vendor: str, named: dict[str, Any]) -> str:
        if "ReferenceNbr" in named:
            return str(named["ReferenceNbr"])
        where = "json_extract(body, '$.Vendor') = ? AND json_extract(body, '$.VendorRef') = ?"
        found = db.query(self.store, "Bill", where, [vendor, str(named["VendorRef"])])
        if len(found) != 1:
            raise ValueError(f"{len(found)} bills of {vendor} with VendorRef {named['VendorRef']}")
        return str(found[0]["ReferenceNbr"])

    def _now(self) -> str:
        return self.clock.now().replace(microsecond=0).isoformat()

    @property
    def _idle(self) -> float:
        return float(self.config["session_timeout_minutes"]) * 60

    def _session(self, request: Request) -> Any:
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            secret = auth[7:].strip()
        else:
            secret = request.cookies.get(AUTH_COOKIE, "")
        if not secret:
            return None
        return db.touch_session(self.store, secret, self.clock.now(), self._idle)

    def _seat_free(self) -> bool:
        limit = int(self.config["api_user_limit"])
        return not limit or db.live_sessions(self.store, self.clock.now(), self._idle) < limit

    # --- endpoints and auth ----------------------------------------------------------------

    async def endpoints(self, request: Request) -> Response:
        versions = list(self.config["endpoint_versions"])
        return _json({
            "version": {"acumaticaBuildVersion": BUILD, "isTenantAware": True},
            "endpoints": [
                {"name": ENDPOINT, "version": v, "href": f"/entity/{ENDPOINT}/{v}/"}
                for v in versions
            ],
        })  # fmt: skip

    async def instance_swagger(self, request: Request) -> Response:
        return _json(instance_swagger())

    async def login(self, request: Request) -> Response:
        if not await self.throttle.admit():
            return error(429, "API request limit reached")
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError:
            return error(400, "The request is invalid.")
        if not isinstance(body, dict) or not body.get("name"):
            return error(400, "The request is invalid.")
        given = str(body.get("password") or "")
        if (
            body.get("name") != API_USER
            or not hmac.compare_digest(given.encode(), API_PASSWORD.encode())
            or str(body.get("tenant") or TENANT) != TENANT
        ):
            return error(500, "An error has occurred.", INVALID_CREDENTIALS)
        if not self._seat_free():
            return error(429, "API Login Limit")
        secret = db.new_secret()
        now = self.clock.now()
        self.store.execute(
            "INSERT INTO sessions VALUES (?, 'cookie', ?, ?, ?, NULL)",
            (secret, API_USER, now.isoformat(), now.isoformat()),
        )
        response = Response(status_code=204)
        response.headers.append("Set-Cookie", f"{AUTH_COOKIE}={secret}; path=/; HttpOnly")
        response.headers.append(
            "Set-Cookie", f"{SESSION_COOKIE}={uuid.uuid4().hex[:24]}; path=/; HttpOnly"
        )
        response.headers.append(
            "Set-Cookie", f"UserBranch={body.get('branch') or DEFAULT_BRANCH}; path=/"
        )
        return response

    async def logout(self, request: Request) -> Response:
        if "content-length" not in request.headers and "transfer-encoding" not in request.headers:
            page = "<h2>Length Required</h2><hr><p>HTTP Error 411. The request must be chunked "
            return Response(page + "or have a content length.</p>", 411, media_type="text/html")
        auth = request.headers.get("authorization", "")
        secret = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        secret = secret or request.cookies.get(AUTH_COOKIE, "")
        if secret:
            db.end_session(self.store, secret)
        return Response(status_code=204)

    async def token(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return JSONResponse({"error": "invalid_client"}, status_code=400)
        now = self.clock.now()
        grant = form.get("grant_type")
        if grant == "password":
            if form.get("username") != API_USER or form.get("password") != API_PASSWORD:
                return JSONResponse({"error": "invalid_grant",
                                     "error_description": "invalid_username_or_password"},
                                    status_code=400)  # fmt: skip
            if "offline_access" not in (form.get("scope") or "").split():
                return JSONResponse({"error": "invalid_scope"}, status_code=400)
        elif grant == "refresh_token":
            hashed = db.token_hash(form.get("refresh_token") or "")
            rows = self.store.rows("SELECT * FROM refresh_tokens WHERE token_hash = ?", (hashed,))
            if (
                not rows
                or rows[0]["used_at"] is not None
                or datetime.fromisoformat(rows[0]["expires_at"]) <= now
            ):
                return JSONResponse({"error": "invalid_grant"}, status_code=401)
            # Rotation: the token is spent now, whether or not the answer reaches the client.
            self.store.execute(
                "UPDATE refresh_tokens SET used_at = ? WHERE token_hash = ?",
                (now.isoformat(), hashed),
            )
        else:
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        if not self._seat_free():
            return error(429, "API Login Limit")
        lifetime = int(self.config["token_lifetime_seconds"])
        access, refresh = db.new_secret(), db.new_secret()
        db_now = now.isoformat()
        self.store.execute(
            "INSERT INTO sessions VALUES (?, 'oauth', ?, ?, ?, ?)",
            (access, API_USER, db_now, db_now,
             (now + timedelta(seconds=lifetime)).isoformat()),
        )  # fmt: skip
        days = float(self.config["refresh_token_lifetime_days"])
        self.store.execute(
            "INSERT INTO refresh_tokens VALUES (?, ?, ?, ?, ?, NULL)",
            (db.token_hash(refresh), CLIENT_ID, API_USER, db_now,
             (now + timedelta(days=days)).isoformat()),
        )  # fmt: skip
        return JSONResponse({"access_token": access, "expires_in": lifetime,
                             "token_type": "Bearer", "refresh_token": refresh,
                             "scope": "api offline_access"})  # fmt: skip

    # --- the entity API --------------------------------------------------------------------

    async def entity_route(self, request: Request) -> Response:
        endpoint = request.path_params["endpoint"]
        version = request.path_params["version"]
        rest = request.path_params["rest"].strip("/")
        if endpoint != ENDPOINT or version not in self.config["endpoint_versions"]:
            return error(404, f"No HTTP resource was found that matches the request URI "
                              f"'{request.url.path}'.")  # fmt: skip
        if rest == "swagger.json":
            return _json(swagger(endpoint, version))
        if self._session(request) is None:
            return error(401, NOT_LOGGED_IN)
        if not await self.throttle.admit():
            return error(429, "The request has been declined: the API request limit of the "
                              "license has been reached.")  # fmt: skip
        parts = rest.split("/")
        entity = ENTITIES.get(parts[0])
        if entity is None or not entity.in_version(version):
            return error(404, f"No HTTP resource was found that matches the request URI "
                              f"'{request.url.path}'.")  # fmt: skip
        try:
            if request.method == "GET" and len(parts) == 1:
                return self.collection(request, entity, version)
            if request.method == "PUT" and len(parts) == 1:
                return await self.put(request, entity, version)
            if request.method == "POST" and len(parts) == 2 and parts[1] in entity.actions:
                return await self.action(request, entity, version, parts[1])
            if request.method == "GET" and len(parts) == 4 and parts[2] == "status":
                return self.action_status(parts[3])
            if request.method == "GET":
                return self.single(request, entity, version, parts[1:])
        except QueryError as exc:
            return error(400, str(exc))
        return error(405, "The requested resource does not support this HTTP method.")

    def _base(self, request: Request, version: str, entity: Entity) -> str:
        return f"/entity/{ENDPOINT}/{version}/{entity.name}"

    def _render(
        self, request: Request, entity: Entity, version: str, record: dict[str, Any]
    ) -> dict[str, Any]:
        q = request.query_params
        fields = entity.fields_in(version)
        select = names(q.get("$select"), [f.name for f in fields], "$select")
        expand = names(q.get("$expand"), entity.expandable, "$expand") or set()
        if select is not None:
            fields = tuple(f for f in fields if f.name in select or f.name in expand)
        result: dict[str, Any] = wrap(fields, record, expand, self._base(request, version, entity))
        return result

    def collection(self, request: Request, entity: Entity, version: str) -> Response:
        q = request.query_params
        scalars = [f.name for f in entity.fields_in(version) if f.is_scalar]
        where = compile_filter(q.get("$filter"), scalars)
        rows = db.query(
            self.store, entity.name, where.sql, where.params,
            limit=count(q.get("$top"), "$top"), offset=count(q.get("$skip"), "$skip") or 0,
        )  # fmt: skip
        return _json(
            [
                self._render(request, entity, version, {**r, "rowNumber": n})
                for n, r in enumerate(rows, 1)
            ]
        )

    def _find(self, entity: Entity, parts: list[str]) -> dict[str, Any] | None:
        if len(parts) == 1:
            try:
                uuid.UUID(parts[0])
            except ValueError:
                pass
            else:
                found = db.by_id(self.store, entity, parts[0])
                if found is not None:
                    return found
        if len(parts) != len(entity.keys):
            return None
        return db.by_key(self.store, entity, "/".join(parts))

    def single(self, request: Request, entity: Entity, version: str, parts: list[str]) -> Response:
        record = self._find(entity, parts)
        if record is None:
            return error(500, "An error has occurred.", "No entity satisfies the condition.",
                         NO_ENTITY)  # fmt: skip
        return _json(self._render(request, entity, version, record))

    async def put(self, request: Request, entity: Entity, version: str) -> Response:
        try:
            raw = db.loads(await request.body() or b"null")
            plain = unwrap(entity.fields_in(version), raw)
        except ValueError as exc:
            return error(400, str(exc) if isinstance(exc, BadBody) else "The request is invalid.")
        existing = None
        if plain.get("id"):
            existing = db.by_id(self.store, entity, str(plain["id"]))
        key = db.key_of(entity, {**entity.defaults, **plain})
        if existing is None and key is not None:
            existing = db.by_key(self.store, entity, key)
        if existing is not None and request.headers.get("if-none-match", "").strip() == "*":
            return error(412, "The record already exists.")
        record = self._merge(entity, existing, plain)
        ctx = {
            "now": self._now(),
            "branch": DEFAULT_BRANCH,
            "period_status": self.period_status,
            "duplicate_vendor_ref": bool(self.config["duplicate_vendor_ref"]),
        }
        problems = rules.RULES.get(entity.name, rules.generic)(self.store, record, ctx)
        if existing is None and db.key_of(entity, record) is None and entity.name not in (
            "Bill", "Check"
        ):  # fmt: skip
            problems.setdefault(entity.keys[-1], f"'{entity.keys[-1]}' cannot be empty.")
        if problems:
            return _json(self._errors(entity, version, record, problems), 422)
        with self.store.transaction() as conn:
            if existing is None:
                if db.key_of(entity, record) is None:
                    record["ReferenceNbr"] = f"{db.next_number(conn, f'AP:{entity.name}'):06d}"
                record = db.insert(conn, entity, record)
            else:
                db.replace(conn, entity, record)
        return _json(self._render(request, entity, version, record))

    @staticmethod
    def _merge(
        entity: Entity, existing: dict[str, Any] | None, plain: dict[str, Any]
    ) -> dict[str, Any]:
        if existing is None:
            record = {**entity.defaults, **plain}
            for detail in entity.fields:
                if detail.type == "rows" and detail.name in record:
                    rows = [r for r in record[detail.name] if not r.get("delete")]
                    record[detail.name] = [{**r, "id": str(uuid.uuid4())} for r in rows]
            record.pop("id", None)
            return record
        record = {**existing}
        for name, value in plain.items():
            f = entity.field(name)
            if f is not None and f.type == "rows":
                rows = list(existing.get(name) or [])
                for row in value:
                    match = next((r for r in rows if row.get("id") and r.get("id") == row["id"]),
                                 None)  # fmt: skip
                    if match is not None and row.get("delete"):
                        rows.remove(match)
                    elif match is not None:
                        match.update({k: v for k, v in row.items() if k != "delete"})
                    elif not row.get("delete"):
                        rows.append({**row, "id": str(uuid.uuid4())})
                record[name] = rows
            elif f is not None and f.type == "object" and isinstance(value, dict):
                record[name] = {**(existing.get(name) or {}), **value}
            elif name != "id":
                record[name] = value
        return record

    def _errors(
        self, entity: Entity, version: str, record: dict[str, Any], problems: dict[str, str]
    ) -> dict[str, Any]:
        expand = set(entity.expandable)
        body: dict[str, Any] = wrap(entity.fields_in(version), record, expand, "")
        for path, message in problems.items():
            if not path:
                body["error"] = message
            elif path.startswith("Details["):
                n = int(path[len("Details[") : path.index("]")])
                name = path.split(".", 1)[1]
                row = body.setdefault("Details", [])[n - 1]
                row.setdefault(name, {"value": None})["error"] = message
            else:
                body.setdefault(path, {"value": None})
                body[path]["error"] = message
        body.setdefault(
            "error",
            f"Inserting '{entity.name}' record raised at least one error. "
            "Please review the errors.",
        )
        return body

    async def action(self, request: Request, entity: Entity, version: str, action: str) -> Response:
        try:
            raw = db.loads(await request.body() or b"null")
            target = unwrap(entity.fields_in(version), (raw or {}).get("entity") or {})
        except (ValueError, AttributeError) as exc:
            return error(400, str(exc))
        record = None
        if target.get("id"):
            record = db.by_id(self.store, entity, str(target["id"]))
        key = db.key_of(entity, {**entity.defaults, **target})
        if record is None and key:
            record = db.by_key(self.store, entity, key)
        if record is None:
            return error(500, "An error has occurred.", "No entity satisfies the condition.",
                         NO_ENTITY)  # fmt: skip
        problem = rules.release_bill(self.store, record) if action == "ReleaseBill" else None
        if problem is None:
            record["LastModifiedDateTime"] = self._now()
            with self.store.transaction() as conn:
                db.replace(conn, entity, record)
        op = str(uuid.uuid4())
        self.store.execute(
            "INSERT INTO operations VALUES (?, ?, ?)",
            (op, int(self.config["release_polls"]), problem),
        )
        location = f"/entity/{ENDPOINT}/{version}/{entity.name}/{action}/status/{op}"
        return Response(status_code=202, headers={"Location": location})

    def action_status(self, op: str) -> Response:
        rows = self.store.rows("SELECT * FROM operations WHERE id = ?", (op,))
        if not rows:
            return error(404, "The operation is not found.")
        if rows[0]["error"]:
            return error(500, "An error has occurred.", rows[0]["error"])
        if rows[0]["polls_left"] > 0:
            self.store.execute(
                "UPDATE operations SET polls_left = polls_left - 1 WHERE id = ?", (op,)
            )
            return Response(status_code=202)
        return Response(status_code=204)

    # --- fault answers in Acumatica's dialect ------------------------------------------------

    def answer_expire_session(self, request: Request, fault: Fault) -> Response:
        auth = request.headers.get("authorization", "")
        secret = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        secret = secret or request.cookies.get(AUTH_COOKIE, "")
        if secret:
            db.end_session(self.store, secret)
        return error(401, NOT_LOGGED_IN)

    def answer_auth_fail(self, request: Request, fault: Fault) -> Response:
        return error(500, "An error has occurred.", INVALID_CREDENTIALS)

    def answer_validation(self, request: Request, fault: Fault) -> Response:
        message = fault.message or "'Vendor' cannot be found in the system."
        return _json({"Vendor": {"value": None, "error": message},
                      "error": "Inserting 'Bill' record raised at least one error. "
                               "Please review the errors."}, 422)  # fmt: skip

    def answer_server_error(self, request: Request, status: int) -> Response:
        if status == 500:
            return error(500, "An error has occurred.", "Object reference not set to an "
                         "instance of an object.", "System.NullReferenceException")  # fmt: skip
        title = {502: "Bad Gateway", 503: "Service Unavailable"}.get(status, "Error")
        return PlainTextResponse(f"{status} {title}", status_code=status)

    def answer_rate_limit(self, request: Request, retry_after: float | None) -> Response:
        headers = {}
        if retry_after is not None:
            headers["Retry-After"] = str(max(1, round(retry_after + 0.4999)))
        return Response(
            db.dumps({"message": "API request limit reached"}),
            status_code=int(self.config["rate_limit_status"]),
            headers=headers,
            media_type="application/json",
        )


def create_app(state_dir: Path) -> Starlette:
    """The Acumatica sandbox app over `state_dir` (the runner's `module:factory`)."""
    return build_app(AcumaticaSandbox(state_dir))


APP_FACTORY = "bridge_pipelines.sandbox.acumatica.app:create_app"
