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
import hmac
import json
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote, unquote, urlencode, urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from bridge_pipelines.sandbox.erp_base import calendar
from bridge_pipelines.sandbox.erp_base.app import build_app
from bridge_pipelines.sandbox.erp_base.faults import Fault
from bridge_pipelines.sandbox.erp_base.odata import csdl
from bridge_pipelines.sandbox.erp_base.odata.batch import (
    BatchFormatError,
    BatchRequest,
    BatchResponse,
    parse_batch,
    render_batch,
)
from bridge_pipelines.sandbox.erp_base.odata.etag import etag_of, if_match_fails
from bridge_pipelines.sandbox.erp_base.odata.options import OptionError, QueryOptions, parse_options
from bridge_pipelines.sandbox.erp_base.sandbox import ErpSandbox
from bridge_pipelines.sandbox.sap_b1 import metadata, odata, payments
from bridge_pipelines.sandbox.sap_b1.documents import (
    CREATORS,
    ENTITY_SETS,
    PERIOD_RULE,
    B1Error,
    EntitySet,
    delete_record,
    patch_record,
    run_action,
    with_balances,
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
    r"^(?P<set>[A-Za-z]+)(?:\((?P<key>'(?:[^']|'')*'|-?\d+)\))?"
    r"(?:(?P<count>/\$count)|/(?P<action>[A-Za-z]+))?$"
)
STALE_ETAG = "The entity has changed since it was read: its ETag does not match If-Match"
# System query options each version implements; any other answers 400 / 201, never a silent 200.
V1_OPTIONS = frozenset({"$filter", "$select", "$orderby", "$top", "$skip", "$inlinecount",
                        "$expand"})  # fmt: skip
V2_OPTIONS = V1_OPTIONS | {"$count"}


class _ChangesetFailed(Exception):
    """A request of a changeset failed: the changeset is rolled back, this is its answer."""

    def __init__(self, response: BatchResponse) -> None:
        super().__init__(response.status)
        self.response = response


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
        response = await self._dispatch(request)
        # [C] v2 is OData v4 and says so; v1 (OData v3) answers DataServiceVersion.
        if _version(request) == "v2":
            response.headers["OData-Version"] = "4.0"
        else:
            response.headers["DataServiceVersion"] = "3.0"
        return response

    async def _dispatch(self, request: Request) -> Response:
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
        if resource in ("", "$metadata") and request.method == "GET":
            return self.describe(request, version, resource)
        if resource == "$batch" and request.method == "POST":
            return await self.batch(request, version)
        match = _RESOURCE.match(resource)
        entity = ENTITY_SETS.get(match.group("set")) if match else None
        if match is None or entity is None:
            return _error(request, 404, -1000, f"Resource not found for the segment '{resource}'")
        try:
            key = self._key(entity, match.group("key"))
            action = match.group("action")
            if match.group("count"):
                if key is not None or request.method != "GET":
                    raise B1Error(400, -1000, "Invalid $count request")
                return self.count(request, entity, version)
            if action is not None:
                if key is None or request.method != "POST":
                    raise B1Error(405, -1000, f"Method {request.method} is not allowed")
                return self.action(request, entity, key, action)
            if key is None:
                if request.method == "GET":
                    return self.collection(request, entity, version)
                if request.method == "POST" and entity.writable:
                    return await self.create(request, entity, version)
            elif request.method == "GET":
                return self.single(request, entity, key, version)
            elif request.method == "PATCH" and entity.writable:
                self._check_etag(request, entity, key)
                patch_record(self.store, entity, key, await self._body(request))
                return Response(status_code=204)
            elif request.method == "DELETE":
                self._check_etag(request, entity, key)
                delete_record(self.store, entity, key)
                return Response(status_code=204)
            raise B1Error(405, -1000, f"Method {request.method} is not allowed on '{entity.name}'")
        except B1Error as exc:
            return _error(request, exc.status, exc.code, exc.message)
        except (odata.QueryError, OptionError) as exc:
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
        # Instance annotations (`@odata.type`, which generic v4 clients send) are not properties.
        return {k: v for k, v in body.items() if "@" not in k and not k.startswith("odata.")}

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

    def describe(self, request: Request, version: str, resource: str) -> Response:
        """`$metadata` (CSDL from the entity definitions) or the service document at the root."""
        model = metadata.service_model()
        odata_version = "4.0" if version == "v2" else "3.0"
        if resource == "$metadata":
            return Response(
                csdl.metadata_document(model, odata_version), media_type="application/xml"
            )
        root = f"{str(request.base_url).rstrip('/')}{SERVICE_ROOT}/{version}"
        return _json(csdl.service_document(model, root, odata_version))

    def _options(self, request: Request, entity: EntitySet, version: str) -> QueryOptions:
        supported = V2_OPTIONS if version == "v2" else V1_OPTIONS
        return parse_options(request.query_params, metadata.entity_type(entity), supported)

    def _shape(
        self, row: dict[str, Any], entity: EntitySet, options: QueryOptions
    ) -> dict[str, Any]:
        """A record as answered: balances computed, navigations expanded, `$select` applied."""
        if entity.name == "BusinessPartners":
            row = with_balances(self.store, row)
        expanded: dict[str, Any] = {}
        for name in options.expand:
            if name == "BusinessPartner":  # the only navigation property (Document -> partner)
                partner = get_record(self.store, "BusinessPartners", row.get("CardCode"))
                expanded[name] = with_balances(self.store, partner) if partner else None
        if options.select is not None:
            # [I] an expanded complex collection is answered even when `$select` leaves it out.
            for name in options.expand:
                if name in entity.collection_properties():
                    expanded.setdefault(name, row.get(name) or [])
            row = {name: row.get(name) for name in options.select}
        return {**row, **expanded}

    def single(self, request: Request, entity: EntitySet, key: Any, version: str) -> Response:
        record = get_record(self.store, entity.name, key)
        if record is None:
            raise B1Error(404, -2028, NOT_FOUND)  # [C]
        options = self._options(request, entity, version)
        body = self._metadata(
            request, version, entity.name + ("/@Element" if version == "v1" else "/$entity")
        )
        headers: dict[str, str] = {}
        if entity.etag:
            # [C] weak ETag header and the entity's etag annotation; [C] If-None-Match on a GET
            # still answers 200 with the body (SL never answers 304).
            tag = etag_of(record)
            headers["ETag"] = tag
            body["@odata.etag" if version == "v2" else "odata.etag"] = tag
        return _json({**body, **self._shape(record, entity, options)}, headers=headers)

    def count(self, request: Request, entity: EntitySet, version: str = "v1") -> Response:
        options = self._options(request, entity, version)
        where = odata.compile_filter(options.filter, entity.scalar_properties)
        total = count_records(self.store, entity.name, where.sql, where.params)
        return PlainTextResponse(str(total))

    def _page_size(self, request: Request, headers: dict[str, str]) -> int:
        """`Prefer: odata.maxpagesize` [C], else the `B1S-PageSize` header [C], else the setting."""
        preferred = odata.max_page_size(request.headers.get("prefer"))
        if preferred is not None:
            headers["Preference-Applied"] = f"odata.maxpagesize={preferred}"
            return preferred
        b1s = request.headers.get("b1s-pagesize")
        if b1s is not None:
            if not b1s.strip().isdigit():
                raise B1Error(400, -1000, f"Invalid value of header B1S-PageSize '{b1s}'")  # [I]
            return int(b1s)
        return int(self.config["default_page_size"])

    def collection(self, request: Request, entity: EntitySet, version: str) -> Response:
        q = request.query_params
        options = self._options(request, entity, version)
        where = odata.compile_filter(options.filter, entity.scalar_properties)
        top, skip = options.top, options.skip
        headers: dict[str, str] = {}
        page = self._page_size(request, headers)
        limit = top if page == 0 else (page if top is None else min(top, page))
        order = ", ".join(
            f"json_extract(body, '$.{k.name}') {'DESC' if k.descending else 'ASC'}"
            for k in options.orderby
        )
        rows = query_records(self.store, entity.name, where.sql, where.params,
                             limit=limit, offset=skip, order_by=order or None)  # fmt: skip
        rows = [self._shape(row, entity, options) for row in rows]
        body: dict[str, Any] = {**self._metadata(request, version, entity.name), "value": rows}
        if options.count:
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

    def _check_etag(self, request: Request, entity: EntitySet, key: Any) -> None:
        """[C] a stale `If-Match` answers 412 and changes nothing; only `W/` values are checked."""
        if not entity.etag:
            return
        record = get_record(self.store, entity.name, key)
        if record is not None and if_match_fails(
            request.headers.get("if-match"), etag_of(record), weak_only=True
        ):
            raise B1Error(412, -1000, STALE_ETAG)  # [I] code and text

    def action(self, request: Request, entity: EntitySet, key: Any, action: str) -> Response:
        """`POST <Set>(key)/Cancel` or `/Close`: 204 [I]."""
        self._check_etag(request, entity, key)
        run_action(self.store, entity, key, action, self.clock.now().date().isoformat())
        return Response(status_code=204)

    async def create(self, request: Request, entity: EntitySet, version: str) -> Response:
        # [I] a null property in a create means "no value": generic OData clients send every
        # property they know, unset ones as null.
        body = {k: v for k, v in (await self._body(request)).items() if v is not None}
        config = {**self.config, "today": self.clock.now().date().isoformat()}
        record = CREATORS[entity.name](self.store, body, config)
        key = record[entity.key]
        root = f"{str(request.base_url).rstrip('/')}{SERVICE_ROOT}/{version}"
        # A key is percent-encoded in the Location header, as in any URL ('/' and Unicode too).
        location = f"{root}/{entity.name}({quote(_key_literal(key), safe=chr(39))})"
        etag = etag_of(get_record(self.store, entity.name, key) or record)
        fragment = entity.name + ("/@Element" if version == "v1" else "/$entity")
        return _json(
            {**self._metadata(request, version, fragment), **record},
            201,
            {"Location": location, "ETag": etag},
        )

    async def batch(self, request: Request, version: str) -> Response:
        """`POST $batch`: each part run as its own request; a changeset all or nothing [C]."""
        try:
            parts = parse_batch(await request.body(), request.headers.get("content-type"))
        except BatchFormatError as exc:
            return _error(request, 400, -1000, f"Invalid batch request: {exc}")  # [I] text
        answers: list[tuple[bool, list[BatchResponse]]] = []
        for part in parts:
            if not part.changeset:
                answers.append(
                    (False, [await self._sub_request(request, version, part.requests[0])])
                )
                continue
            responses: list[BatchResponse] = []
            try:
                with self.store.transaction():
                    for sub in part.requests:
                        answer = await self._sub_request(request, version, sub)
                        if answer.status >= 400:
                            raise _ChangesetFailed(answer)
                        responses.append(answer)
            except _ChangesetFailed as failed:
                answers.append((False, [failed.response]))
                continue
            answers.append((True, responses))
        body, content_type = render_batch(answers)
        # [I] v3 batches answer 202 Accepted, v4 ones 200 OK.
        return Response(body, status_code=202 if version == "v1" else 200, media_type=content_type)

    async def _sub_request(self, outer: Request, version: str, sub: BatchRequest) -> BatchResponse:
        """One request of a batch, dispatched like any other with the batch's session cookie."""
        url = urlsplit(sub.url)
        path = url.path if url.path.startswith("/") else f"{SERVICE_ROOT}/{version}/{url.path}"
        if not path.startswith(f"{SERVICE_ROOT}/") or path.endswith("/$batch"):
            return BatchResponse(
                400,
                body=dumps(error_body(version, -1000, f"Invalid batch URL '{sub.url}'")).encode(),
            )
        # [C] the Service Layer ignores If-Match on a request inside a batch (guide, ETag).
        headers = [(k.encode(), v.encode()) for k, v in sub.headers.items()
                   if k not in ("cookie", "if-match")]  # fmt: skip
        headers += [(k, v) for k, v in outer.scope["headers"] if k == b"cookie"]
        scope = {**outer.scope, "method": sub.method, "path": unquote(path),
                 "raw_path": path.encode(), "query_string": url.query.encode(),
                 "headers": headers,
                 "path_params": {"rest": unquote(path)[len(SERVICE_ROOT) + 1 :]}}  # fmt: skip
        payload = sub.body

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": payload, "more_body": False}

        response = await self.dispatch(Request(scope, receive))
        kept = [(k, v) for k, v in response.headers.items() if k.lower() != "content-length"]
        return BatchResponse(response.status_code, kept, bytes(response.body), sub.content_id)

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
