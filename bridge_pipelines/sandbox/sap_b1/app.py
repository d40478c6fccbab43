"""The SAP B1 sandbox's HTTP side: the Service Layer under `/b1s/v1` (OData v3) and `/b1s/v2`.

Paths are case-sensitive [C]: any path that is not a known one, `/login` included, answers as
a request without a session does, 401 with code 301 [C erp-facts; `/login` -> 401]. With a valid
session an unknown entity set answers 404 [I]. Every error uses the version's shape [C]:
v1 `{"error":{"code":301,"message":{"lang":"en-us","value":"..."}}}`, v2 `{"error":{"code":
"301","message":"...","details":[...]}}`. Sessions end after `session_timeout_minutes` (30) of
inactivity on the sandbox clock [C]. Parallel logins over `parallel_login_limit` (0 = off) answer
500 / 299 "SAML Login Failed" [C the answer; I the trigger]; `login_latency_ms` makes Login slow,
as it is on real servers. Rate limiting: none is documented [I]; the limiter answers as the load
balancer would, 503 without Retry-After (configurable through the shared settings).
"""

import asyncio
import hashlib
import hmac
import json
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from bridge_pipelines.sandbox.erp_base import calendar
from bridge_pipelines.sandbox.erp_base.app import build_app
from bridge_pipelines.sandbox.erp_base.faults import Fault
from bridge_pipelines.sandbox.erp_base.sandbox import ErpSandbox
from bridge_pipelines.sandbox.sap_b1 import odata, payments
from bridge_pipelines.sandbox.sap_b1.documents import (
    CREATORS,
    ENTITY_SETS,
    PERIOD_RULE,
    B1Error,
    EntitySet,
    patch_record,
)
from bridge_pipelines.sandbox.sap_b1.seed import SAP_B1_SEED
from bridge_pipelines.sandbox.sap_b1.store import (
    SCHEMA,
    Sessions,
    count_records,
    dumps,
    get_record,
    query_records,
    write_seed,
)

SERVICE_ROOT = "/b1s"
VERSIONS = ("v1", "v2")
SESSION_COOKIE = "B1SESSION"
ROUTE_COOKIE = "ROUTEID"
B1_VERSION = "1000110"
INVALID_SESSION = "Invalid session or session already timeout."
LOGIN_FAILED = "Fail to NONE-SSO login from SLD."
NOT_FOUND = "No matching records found (ODBC -2028)"
payments.register()  # VendorPayments (issue 15)
_RESOURCE = re.compile(
    r"^(?P<set>[A-Za-z]+)(?:\((?P<key>'(?:[^']|'')*'|-?\d+)\))?(?P<count>/\$count)?$"
)


def error_body(version: str, code: int, message: str) -> dict[str, Any]:
    """The Service Layer's error body in the shape of `version` [C]."""
    if version == "v2":
        return {"error": {"code": str(code), "message": message,
                          "details": [{"code": "", "message": ""}]}}  # fmt: skip
    return {"error": {"code": code, "message": {"lang": "en-us", "value": message}}}


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        dumps(body), status_code=status, headers=headers,
        media_type="application/json; odata.metadata=minimal; charset=utf-8",
    )  # fmt: skip


def _version(request: Request) -> str:
    parts = request.url.path.split("/")
    return parts[2] if len(parts) > 2 and parts[2] in VERSIONS else "v1"


def _error(request: Request, status: int, code: int, message: str) -> Response:
    return _json(error_body(_version(request), code, message), status)


def _key_literal(value: Any) -> str:
    return str(value) if isinstance(value, int) else "'" + str(value).replace("'", "''") + "'"


class SapB1Sandbox(ErpSandbox):
    """SAP Business One Service Layer over the demo company."""

    name: ClassVar[str] = "sap_b1"
    schema: ClassVar[str] = SCHEMA
    period_rule: ClassVar[calendar.CalendarRule] = PERIOD_RULE
    default_config: ClassVar[dict[str, Any]] = {
        "session_timeout_minutes": 30,  # [C] 30 minutes of inactivity
        "default_page_size": 20,  # [C]
        "parallel_login_limit": 0,  # [I] logins in flight before 500/299; 0 = no limit
        "login_latency_ms": 0,  # real Login takes hundreds of ms
        "block_duplicate_vendor_ref": False,  # [I] B1 document setting, off by default
        "route_id": ".node1",  # [C] ROUTEID cookie value
        "rate_limit_status": 503,  # [I] no 429 documented; the load balancer's answer
        "rate_limit_retry_after": False,
    }

    def __init__(self, state_dir: Path) -> None:
        super().__init__(state_dir)
        self.sessions = Sessions(self.store)
        self._logins_in_flight = 0

    def seed(self) -> None:
        write_seed(self.store, SAP_B1_SEED)

    def seed_info(self) -> dict[str, Any]:
        return {**SAP_B1_SEED.to_json(), "service_root_v1": f"{SERVICE_ROOT}/v1",
                "service_root_v2": f"{SERVICE_ROOT}/v2"}  # fmt: skip

    def documents(self) -> list[dict[str, Any]]:
        """Every posted A/P invoice, credit memo and journal entry, with debit/credit totals.

        Invoices first, then credit memos, then journal entries, each in creation order.
        """
        result: list[dict[str, Any]] = []
        for entity_set, kind in (
            ("PurchaseInvoices", "PurchaseInvoice"),
            ("PurchaseCreditNotes", "PurchaseCreditNote"),
        ):
            for doc in query_records(self.store, entity_set, "1", [], limit=None, offset=0):
                lines = f"{sum(Decimal(str(x['LineTotal'])) for x in doc['DocumentLines']):.2f}"
                total = f"{Decimal(str(doc['DocTotal'])):.2f}"
                # The journal B1 derives. Invoice: expense lines debited, the supplier's AP
                # credited. Credit memo: the reverse.
                debits, credits = (lines, total) if kind == "PurchaseInvoice" else (total, lines)
                result.append({
                    "kind": kind, "DocEntry": doc["DocEntry"],
                    "DocNum": doc["DocNum"], "CardCode": doc["CardCode"],
                    "NumAtCard": doc["NumAtCard"], "JournalMemo": doc.get("JournalMemo"),
                    "DocDate": doc["DocDate"],
                    "DocTotal": total, "Cancelled": doc["Cancelled"],
                    "PaidToDate": f"{Decimal(str(doc.get('PaidToDate') or 0)):.2f}",
                    "lines": doc["DocumentLines"], "debits": debits, "credits": credits,
                })  # fmt: skip
        for entry in query_records(self.store, "JournalEntries", "1", [], limit=None, offset=0):
            lines = entry["JournalEntryLines"]
            result.append({
                "kind": "JournalEntry", "JdtNum": entry["JdtNum"],
                "Reference": entry.get("Reference"), "ReferenceDate": entry["ReferenceDate"],
                "lines": lines,
                "debits": f"{sum(float(x['Debit']) for x in lines):.2f}",
                "credits": f"{sum(float(x['Credit']) for x in lines):.2f}",
            })  # fmt: skip
        result.extend(payments.sandbox_documents(self.store))
        return result

    def routes(self) -> list[BaseRoute]:
        return [
            Route(
                f"{SERVICE_ROOT}/{{rest:path}}",
                self.dispatch,
                methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
            )
        ]

    # --- dispatch ------------------------------------------------------------------------

    async def dispatch(self, request: Request) -> Response:
        parts = request.path_params["rest"].split("/", 1)
        version = parts[0]
        resource = parts[1] if len(parts) > 1 else ""
        if version not in VERSIONS:
            return _error(request, 401, 301, INVALID_SESSION)
        if resource == "Login" and request.method == "POST":
            return await self.login(request, version)
        session = self._session(request)
        if session is None:
            return _error(request, 401, 301, INVALID_SESSION)
        if resource == "Logout" and request.method == "POST":
            self.sessions.end(session["id"])
            return Response(status_code=204)
        match = _RESOURCE.match(resource)
        entity = ENTITY_SETS.get(match.group("set")) if match else None
        if match is None or entity is None:
            return _error(request, 404, -1000, f"Resource not found for the segment '{resource}'")
        try:
            key = self._key(entity, match.group("key"))
            if match.group("count"):
                if key is not None or request.method != "GET":
                    raise B1Error(400, -1000, "Invalid $count request")
                return self.count(request, entity)
            if key is None:
                if request.method == "GET":
                    return self.collection(request, entity, version)
                if request.method == "POST" and entity.writable:
                    return await self.create(request, entity, version)
            elif request.method == "GET":
                return self.single(request, entity, key, version)
            elif request.method == "PATCH" and entity.writable:
                patch_record(self.store, entity, key, await self._body(request))
                return Response(status_code=204)
            raise B1Error(405, -1000, f"Method {request.method} is not allowed on '{entity.name}'")
        except B1Error as exc:
            return _error(request, exc.status, exc.code, exc.message)
        except odata.QueryError as exc:
            return _error(request, 400, 201, str(exc))

    def _session(self, request: Request) -> Any:
        session_id = request.cookies.get(SESSION_COOKIE, "")
        if not session_id:
            return None
        timeout = timedelta(minutes=float(self.config["session_timeout_minutes"]))
        return self.sessions.touch(session_id, self.clock.now(), timeout)

    @staticmethod
    def _key(entity: EntitySet, literal: str | None) -> Any:
        if literal is None:
            return None
        if literal.startswith("'"):
            if entity.int_key:
                raise B1Error(400, -1000, f"Key of '{entity.name}' must be a number")
            return literal[1:-1].replace("''", "'")
        if not entity.int_key:
            raise B1Error(400, -1000, f"Key of '{entity.name}' must be a quoted string")
        return int(literal)

    @staticmethod
    async def _body(request: Request) -> dict[str, Any]:
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError as exc:
            raise B1Error(400, -1000, f"Invalid JSON body: {exc}") from exc
        if not isinstance(body, dict):
            raise B1Error(400, -1000, "The request body must be a JSON object")
        return body

    # --- sessions ------------------------------------------------------------------------

    async def login(self, request: Request, version: str) -> Response:
        self._logins_in_flight += 1
        try:
            limit = int(self.config["parallel_login_limit"])
            if limit and self._logins_in_flight > limit:
                return _error(request, 500, 299, "SAML Login Failed")
            if self.config["login_latency_ms"]:
                await asyncio.sleep(float(self.config["login_latency_ms"]) / 1000)
            try:
                body = await self._body(request)
            except B1Error as exc:
                return _error(request, exc.status, exc.code, exc.message)
            return self._login(request, version, body)
        finally:
            self._logins_in_flight -= 1

    def _login(self, request: Request, version: str, body: dict[str, Any]) -> Response:
        company = str(body.get("CompanyDB", ""))
        user = str(body.get("UserName", ""))
        given = str(body.get("Password", ""))
        users = self.store.rows("SELECT * FROM users WHERE user_name = ?", (user,))
        if not users or not hmac.compare_digest(users[0]["password"].encode(), given.encode()):
            return _error(request, 401, -304, LOGIN_FAILED)  # [C]
        if not self.store.rows("SELECT 1 FROM companies WHERE company_db = ?", (company,)):
            return _error(request, 401, -306, LOGIN_FAILED)  # [C] same message as -304
        session_id = self.sessions.login(company, user, self.clock.now())
        root = f"{str(request.base_url).rstrip('/')}{SERVICE_ROOT}/{version}"
        payload: dict[str, Any] = (
            {"odata.metadata": f"{root}/$metadata#B1Sessions/@Element"}
            if version == "v1"
            else {"@odata.context": f"{root}/$metadata#B1Sessions/$entity"}
        )
        payload |= {"SessionId": session_id, "Version": B1_VERSION,
                    "SessionTimeout": int(self.config["session_timeout_minutes"])}  # fmt: skip
        response = _json(payload)
        response.headers.append("Set-Cookie", f"{SESSION_COOKIE}={session_id};HttpOnly;")
        response.headers.append(
            "Set-Cookie", f"{ROUTE_COOKIE}={self.config['route_id']}; path={SERVICE_ROOT}"
        )
        return response

    # --- reads ---------------------------------------------------------------------------

    def _metadata(self, request: Request, version: str, fragment: str) -> dict[str, str]:
        root = f"{str(request.base_url).rstrip('/')}{SERVICE_ROOT}/{version}"
        if version == "v1":
            return {"odata.metadata": f"{root}/$metadata#{fragment}"}
        return {"@odata.context": f"{root}/$metadata#{fragment}"}

    def single(self, request: Request, entity: EntitySet, key: Any, version: str) -> Response:
        record = get_record(self.store, entity.name, key)
        if record is None:
            raise B1Error(404, -2028, NOT_FOUND)  # [C]
        select = odata.parse_select(request.query_params.get("$select"), entity.properties)
        if select is not None:
            record = {name: record.get(name) for name in select}
        entity_fragment = "/@Element" if version == "v1" else "/$entity"
        return _json({**self._metadata(request, version, entity.name + entity_fragment), **record})

    def count(self, request: Request, entity: EntitySet) -> Response:
        where = odata.compile_filter(request.query_params.get("$filter"), entity.scalar_properties)
        total = count_records(self.store, entity.name, where.sql, where.params)
        return PlainTextResponse(str(total))

    def collection(self, request: Request, entity: EntitySet, version: str) -> Response:
        q = request.query_params
        where = odata.compile_filter(q.get("$filter"), entity.scalar_properties)
        select = odata.parse_select(q.get("$select"), entity.properties)
        top = odata.parse_count(q.get("$top"), "$top")
        skip = odata.parse_count(q.get("$skip"), "$skip") or 0
        page = int(self.config["default_page_size"])
        headers: dict[str, str] = {}
        preferred = odata.max_page_size(request.headers.get("prefer"))
        if preferred is not None:
            page = preferred
            headers["Preference-Applied"] = f"odata.maxpagesize={preferred}"
        limit = top if page == 0 else (page if top is None else min(top, page))
        rows = query_records(self.store, entity.name, where.sql, where.params,
                             limit=limit, offset=skip)  # fmt: skip
        if select is not None:
            rows = [{name: row.get(name) for name in select} for row in rows]
        body: dict[str, Any] = {**self._metadata(request, version, entity.name), "value": rows}
        if (version == "v2" and q.get("$count") == "true") or q.get("$inlinecount") == "allpages":
            total = count_records(self.store, entity.name, where.sql, where.params)
            body["@odata.count" if version == "v2" else "odata.count"] = total
        # [C] a full page carries a nextLink, even when it was the last one.
        if page and len(rows) == page and (top is None or top > page):
            params = [(k, v) for k, v in q.multi_items() if k not in ("$skip", "$top")]
            if top is not None:
                params.append(("$top", str(top - page)))
            params.append(("$skip", str(skip + page)))
            link = f"{entity.name}?{urlencode(params, quote_via=quote, safe='$,')}"
            body["@odata.nextLink" if version == "v2" else "odata.nextLink"] = link
        return _json(body, headers=headers)

    # --- writes --------------------------------------------------------------------------

    async def create(self, request: Request, entity: EntitySet, version: str) -> Response:
        body = await self._body(request)
        config = {**self.config, "today": self.clock.now().date().isoformat()}
        record = CREATORS[entity.name](self.store, body, config)
        key = record[entity.key]
        root = f"{str(request.base_url).rstrip('/')}{SERVICE_ROOT}/{version}"
        # A key is percent-encoded in the Location header, as in any URL ('/' and Unicode too).
        location = f"{root}/{entity.name}({quote(_key_literal(key), safe=chr(39))})"
        etag = 'W/"' + hashlib.sha256(dumps(record).encode()).hexdigest()[:16] + '"'
        fragment = entity.name + ("/@Element" if version == "v1" else "/$entity")
        return _json(
            {**self._metadata(request, version, fragment), **record},
            201,
            {"Location": location, "ETag": etag},
        )

    # --- fault answers in the Service Layer's dialect -----------------------------------

    def answer_expire_session(self, request: Request, fault: Fault) -> Response:
        session_id = request.cookies.get(SESSION_COOKIE, "")
        if session_id:
            self.sessions.end(session_id)
        return _error(request, 401, 301, INVALID_SESSION)

    def answer_auth_fail(self, request: Request, fault: Fault) -> Response:
        return _error(request, 401, -304, LOGIN_FAILED)

    def answer_validation(self, request: Request, fault: Fault) -> Response:
        # [I] text: a closed posting period is the common field error on A/P documents.
        message = fault.message or "Posting period locked; change the posting date [OPCH.DocDate]"
        return _error(request, 400, -5002, message)

    def answer_server_error(self, request: Request, status: int) -> Response:
        if status == 500:
            return _error(request, 500, -1, "Internal error (-1) occurred")  # [I]
        # A broken node behind the Apache load balancer [C: 500/502 are the failure modes].
        title = {502: "Proxy Error", 503: "Service Unavailable"}.get(status, "Error")
        page = f"<!DOCTYPE HTML><html><head><title>{status} {title}</title></head><body>" \
               f"<h1>{title}</h1></body></html>"  # fmt: skip
        return Response(page, status_code=status, media_type="text/html; charset=iso-8859-1")

    def answer_rate_limit(self, request: Request, retry_after: float | None) -> Response:
        headers = {}
        if retry_after is not None:
            headers["Retry-After"] = str(max(1, round(retry_after + 0.4999)))
        status = int(self.config["rate_limit_status"])
        page = "<!DOCTYPE HTML><html><head><title>Service Unavailable</title></head></html>"
        return Response(page, status_code=status, headers=headers, media_type="text/html")


def create_app(state_dir: Path) -> Starlette:
    """The SAP B1 sandbox app over `state_dir` (the runner's `module:factory`)."""
    return build_app(SapB1Sandbox(state_dir))


APP_FACTORY = "bridge_pipelines.sandbox.sap_b1.app:create_app"
