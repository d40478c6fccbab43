"""The SYSPRO sandbox's HTTP side: e.net Solutions REST under `/SYSPROWCFService/Rest`, OData.

Every e.net call is a GET with query parameters [C]; another verb gets 405. Logon answers the
session GUID, JSON-quoted by default (`logon_response_format`: "json" or "plain") [C both seen].
Failures are HTTP 200 with a body starting `ERROR` [C]; an unknown or expired UserId answers
`ERROR: Invalid UserId` [I text]. A missing parameter answers HTTP 400 `ERROR: Missing
parameter` [I: "strict about missing parameters" is confirmed, the answer's form is not].
Business-object answers are XML declared and encoded Windows-1252 [C].

Fault answers in SYSPRO's dialect: `expire_session` ends the session and answers the invalid
UserId text; `auth_fail` answers `ERROR: Invalid operator password`; `validation` answers the
object's XML with an `ErrorDescription`. [I] Rate limiting: SYSPRO documents none; a gateway in
front of it (Azure API Management is common) answers 429 with Retry-After, so that is the
default (`rate_limit_status`, `rate_limit_retry_after`). [I] Concurrency over `max_concurrent`
queues, as WCF service throttling does.
"""

import functools
import hmac
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

from lxml import etree
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Scope

from bridge_pipelines.sandbox.erp_base import calendar
from bridge_pipelines.sandbox.erp_base.app import build_app
from bridge_pipelines.sandbox.erp_base.faults import Fault
from bridge_pipelines.sandbox.erp_base.sandbox import ErpSandbox
from bridge_pipelines.sandbox.erp_base.store import StateStore
from bridge_pipelines.sandbox.syspro import (
    appay,
    apstin,
    browse_fetch,
    business_objects,
    extensions,
    gentjl,
    odata,
    period_data,
)
from bridge_pipelines.sandbox.syspro.apsssp import SetupAction
from bridge_pipelines.sandbox.syspro.seed import SYSPRO_SEED
from bridge_pipelines.sandbox.syspro.store import SCHEMA, Sessions, write_seed
from bridge_pipelines.sandbox.syspro.xml_codec import (
    CONTENT_TYPE,
    XmlInError,
    count_text,
    element,
    parse,
    render,
    sub,
)

REST_ROOT = "/SYSPROWCFService/Rest"
EXTENDED_BY = (period_data.EXTENSION,)  # imported for their registration
LOGON_PARAMS = ("Operator", "OperatorPassword", "CompanyId", "CompanyPassword")
POST_PARAMS = ("UserId", "BusinessObject", "XmlParameters", "XmlIn")
QUERY_PARAMS = ("UserId", "BusinessObject", "XmlIn")
ENET_VERSION = "8.0.000"  # [I] the form of the Version attribute SYSPRO puts on its output


class _CaseInsensitiveRoute(Route):
    """Every path under `prefix`, whatever its case, as `path_params["call"]`."""

    def __init__(self, prefix: str, endpoint: Callable[[Request], Awaitable[Response]]) -> None:
        # Every verb reaches the endpoint, which answers 405 itself for a call's wrong verb.
        methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
        super().__init__(prefix + "/{call:path}", endpoint, methods=methods)
        self._prefix = prefix.lower() + "/"

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        path = str(scope.get("path", ""))
        if scope["type"] == "http" and path.lower().startswith(self._prefix):
            return Match.FULL, {"endpoint": self.endpoint,
                                "path_params": {"call": path[len(self._prefix) :]}}  # fmt: skip
        return Match.NONE, {}


def _text(body: str, status: int = 200) -> Response:
    return PlainTextResponse(body, status_code=status)


def _xml(body: bytes) -> Response:
    return Response(body, headers={"content-type": CONTENT_TYPE})


class SysproSandbox(ErpSandbox):
    """SYSPRO e.net Solutions REST and OData over the demo company."""

    name: ClassVar[str] = "syspro"
    schema: ClassVar[str] = SCHEMA + appay.SCHEMA + gentjl.SCHEMA + extensions.schema()
    period_rule: ClassVar[calendar.CalendarRule] = apstin.PERIOD_RULE
    default_config: ClassVar[dict[str, Any]] = {
        "session_idle_minutes": 20,  # [I] server setting; one client assumes 20 minutes
        "logon_response_format": "json",  # "json": "\"<guid>\"", "plain": <guid>
        "invalid_session_message": "ERROR: Invalid UserId",  # [I] exact text not found
        "unlicensed_message": "e.net exception 100000",  # [C] the text; [I] nothing around it
        "licensed_business_objects": [
            "APSTIN",
            "APSSSP",
            "COMFND",
            "GENTJL",
            appay.BUSINESS_OBJECT,
        ],
        "closed_periods": [],  # "YYYY-MM" periods closed for AP/GL posting
        "posting_period_source": "parameter",  # [I] "parameter" (C/P) or "invoice_date"
        "odata_page_size": 5000,  # [I] from a third-party catalog
    }

    def __init__(self, state_dir: Path) -> None:
        super().__init__(state_dir)
        self.sessions = Sessions(self.store)

    def seed(self) -> None:
        write_seed(self.store, SYSPRO_SEED)
        appay.seed(self.store)
        for extension in extensions.EXTENSIONS:
            extension.seed(self.store)

    def seed_info(self) -> dict[str, Any]:
        return {
            **SYSPRO_SEED.to_json(),
            "rest_root": REST_ROOT,
            "odata_root": odata.ODATA_ROOT,
        }

    def documents(self) -> list[dict[str, Any]]:
        return apstin.documents(self.store) + appay.documents(self.store)

    def routes(self) -> list[BaseRoute]:
        rest: list[BaseRoute] = [_CaseInsensitiveRoute(REST_ROOT, self.rest_call)]
        return rest + list(odata.odata_routes(self))

    async def rest_call(self, request: Request) -> Response:
        """One e.net call; [I] the path matched without regard to case, as the WCF host does."""
        call = request.path_params["call"].strip("/").lower()
        calls: dict[str, tuple[str, Callable[[Request], Awaitable[Response]]]] = {
            "logon": ("GET", self.logon),
            "logoff": ("GET", self.logoff),
            "getversion": ("GET", self.get_version),
            "transaction/post": ("GET", self.transaction_post),
            "transaction/postld": ("POST", self.transaction_post_ld),
            "query/query": ("GET", self.query),
            "query/browse": ("GET", self.browse),
            "query/fetch": ("GET", self.fetch),
            **{
                f"setup/{action}": ("GET", functools.partial(self.setup, action=action))
                for action in ("add", "update", "delete")
            },
        }
        if call not in calls:
            return _text("Endpoint not found.", 404)
        method, handler = calls[call]
        if request.method != method:
            refused = _text("Method not allowed.", 405)
            refused.headers["Allow"] = method
            return refused
        return await handler(request)

    # --- e.net calls -------------------------------------------------------------------

    async def logon(self, request: Request) -> Response:
        missing = _missing(request, LOGON_PARAMS)
        if missing:
            return missing
        q = request.query_params
        operator = self.store.rows("SELECT * FROM operators WHERE operator = ?", (q["Operator"],))
        company = self.store.rows("SELECT * FROM companies WHERE company = ?", (q["CompanyId"],))
        if not operator:
            return _text(f"ERROR: Invalid operator '{q['Operator']}'")
        if not _same(operator[0]["password"], q["OperatorPassword"]):
            return _text("ERROR: Invalid operator password")
        if not company or operator[0]["company"] != company[0]["company"]:
            return _text(f"ERROR: Invalid company '{q['CompanyId']}'")
        if not _same(company[0]["password"], q["CompanyPassword"]):
            return _text("ERROR: Invalid company password")
        guid = self.sessions.logon(q["Operator"], q["CompanyId"], self.clock.now())
        if self.config["logon_response_format"] == "plain":
            return _text(guid)
        return Response(f'"{guid}"', media_type="application/json; charset=utf-8")

    async def logoff(self, request: Request) -> Response:
        missing = _missing(request, ("UserId",))
        if missing:
            return missing
        if not self.sessions.end(request.query_params["UserId"].strip()):
            return _text(str(self.config["invalid_session_message"]))
        return Response("true", media_type="application/json; charset=utf-8")

    def _idle(self) -> timedelta:
        return timedelta(minutes=float(self.config["session_idle_minutes"]))

    def _session(self, request: Request) -> Any:
        user_id = request.query_params["UserId"].strip()
        return self.sessions.touch(user_id, self.clock.now(), self._idle())

    def _unlicensed(self, name: str, call: business_objects.CallClass) -> Response | None:
        if business_objects.available(name, call, list(self.config["licensed_business_objects"])):
            return None
        return _text(str(self.config["unlicensed_message"]))

    async def transaction_post(self, request: Request) -> Response:
        missing = _missing(request, POST_PARAMS)
        if missing:
            return missing
        q = request.query_params
        return self._post(q["UserId"], q["BusinessObject"], q["XmlParameters"], q["XmlIn"])

    async def transaction_post_ld(self, request: Request) -> Response:
        """[C] `POST /Transaction/PostLD`: the four parameters in a `TransactionPostLD` body."""
        try:
            root = parse((await request.body()).decode("utf-8"), "TransactionPostLD")
        except (XmlInError, UnicodeDecodeError) as exc:
            return _text(f"ERROR: {exc}", 400)
        values = {etree.QName(child).localname: (child.text or "") for child in root}
        for name in POST_PARAMS:
            if name not in values:
                return _text(f"ERROR: Missing parameter '{name}'", 400)
        return self._post(
            values["UserId"], values["BusinessObject"], values["XmlParameters"], values["XmlIn"]
        )

    def _post(self, user_id: str, business_object: str, parameters: str, xml_in: str) -> Response:
        session = self.sessions.touch(user_id.strip(), self.clock.now(), self._idle())
        if session is None:
            return _text(str(self.config["invalid_session_message"]))
        name = business_object.strip().upper()
        refused = self._unlicensed(name, "transaction")
        if refused:
            return refused
        context = apstin.PostContext(self.store, self.clock.now(), session["operator"], self.config)
        try:
            body = business_objects.TRANSACTION_OBJECTS[name](context, parameters, xml_in)
        except XmlInError as exc:
            return _text(f"ERROR: {exc}")
        return _xml(body)

    async def get_version(self, request: Request) -> Response:
        """[C] `GET /GetVersion` answers the e.net version; [I] the value, quoted as Logon's."""
        if self.config["logon_response_format"] == "plain":
            return _text(ENET_VERSION)
        return Response(f'"{ENET_VERSION}"', media_type="application/json; charset=utf-8")

    async def browse(self, request: Request) -> Response:
        return self._lookup(request, browse_fetch.browse)

    async def fetch(self, request: Request) -> Response:
        return self._lookup(request, browse_fetch.fetch)

    def _lookup(self, request: Request, run: Callable[[StateStore, str], bytes]) -> Response:
        """Browse or Fetch: `UserId` and `XmlIn` only [C]; errors as `ERROR:` text [C prefix]."""
        missing = _missing(request, ("UserId", "XmlIn"))
        if missing:
            return missing
        if self._session(request) is None:
            return _text(str(self.config["invalid_session_message"]))
        try:
            return _xml(run(self.store, request.query_params["XmlIn"]))
        except (XmlInError, LookupError) as exc:
            return _text(f"ERROR: {exc.args[0] if exc.args else exc}")

    async def query(self, request: Request) -> Response:
        missing = _missing(request, QUERY_PARAMS)
        if missing:
            return missing
        if self._session(request) is None:
            return _text(str(self.config["invalid_session_message"]))
        name = request.query_params["BusinessObject"].strip().upper()
        refused = self._unlicensed(name, "query")
        if refused:
            return refused
        try:
            body = business_objects.QUERY_OBJECTS[name](self.store, request.query_params["XmlIn"])
        except XmlInError as exc:
            return _text(f"ERROR: {exc}")
        return _xml(body)

    async def setup(self, request: Request, action: SetupAction = "add") -> Response:
        missing = _missing(request, POST_PARAMS)
        if missing:
            return missing
        if self._session(request) is None:
            return _text(str(self.config["invalid_session_message"]))
        q = request.query_params
        name = q["BusinessObject"].strip().upper()
        refused = self._unlicensed(name, "setup")
        if refused:
            return refused
        try:
            body = business_objects.SETUP_OBJECTS[name](
                self.store, action, q["XmlParameters"], q["XmlIn"]
            )
        except XmlInError as exc:
            return _text(f"ERROR: {exc}")
        return _xml(body)

    # --- fault answers in SYSPRO's dialect ----------------------------------------------

    def answer_expire_session(self, request: Request, fault: Fault) -> Response:
        user_id = request.query_params.get("UserId", "").strip()
        if user_id:
            self.sessions.end(user_id)
        if request.url.path.startswith(odata.ODATA_ROOT):
            return _text("Unauthorized", 401)
        return _text(str(self.config["invalid_session_message"]))

    def answer_auth_fail(self, request: Request, fault: Fault) -> Response:
        if request.url.path.startswith(odata.ODATA_ROOT):
            return Response(
                "Unauthorized",
                status_code=401,
                headers={"WWW-Authenticate": 'Basic realm="SYSPRO OData"'},
            )
        return _text("ERROR: Invalid operator password")

    def answer_validation(self, request: Request, fault: Fault) -> Response:
        message = fault.message or "Supplier not found"
        name = request.query_params.get("BusinessObject", "").strip().upper()
        root_tag = business_objects.OUTPUT_ROOTS.get(name)
        if root_tag is None:
            return _text(f"ERROR: {message}")
        root = element(root_tag)
        sub(sub(root, "Item"), "ErrorDescription", message)
        status = sub(root, "StatusOfItems")
        sub(status, "ItemsProcessed", count_text(0))
        sub(status, "ItemsInvalid", count_text(1))
        return _xml(render(root))

    def answer_server_error(self, request: Request, status: int) -> Response:
        # What IIS/WCF puts in front of an unhandled failure: a short HTML page.
        page = (
            "<HTML><HEAD><TITLE>Request Error</TITLE></HEAD><BODY><P>The server encountered "
            "an error processing the request.</P></BODY></HTML>"
        )
        return Response(page, status_code=status, media_type="text/html")


def _same(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.encode())


def _missing(request: Request, names: tuple[str, ...]) -> Response | None:
    for name in names:
        if name not in request.query_params:
            return _text(f"ERROR: Missing parameter '{name}'", 400)
    return None


def create_app(state_dir: Path) -> Starlette:
    """The SYSPRO sandbox app over `state_dir` (the runner's `module:factory`)."""
    return build_app(SysproSandbox(state_dir))


APP_FACTORY = "bridge_pipelines.sandbox.syspro.app:create_app"
