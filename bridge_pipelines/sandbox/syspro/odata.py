"""The read-only SYSPRO OData v4 service: suppliers, GL accounts and analysis codes.

[C] OData v4, read-only, HTTP basic auth against operators enabled for OData.
[I] Root `/SYSPRO8Odata/SYSPROOData` and a server page of 5,000 rows (a third-party catalog);
the page size is the `odata_page_size` setting. Entity sets are named after the company tables
they expose: `ApSupplier`, `GenMaster`, `GenAnalysisCode` and `ApInvoice` (posted AP invoices).

Query options: `$filter` (eq ne gt ge lt le, and or not, parentheses, contains / startswith /
endswith), `$top`, `$skip`, `$select`, `$orderby`, `$count`. A page that stops short of the
result carries `@odata.nextLink` (same options, `$skip` advanced).
"""

import base64
import binascii
import hmac
import json
import re
import urllib.parse
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bridge_pipelines.sandbox.erp_base.odata import csdl
from bridge_pipelines.sandbox.erp_base.odata.model import (
    EDM_DATE,
    EDM_DECIMAL,
    EDM_INT32,
    EDM_STRING,
    EntitySetDef,
    EntityType,
    Prop,
    ServiceModel,
)
from bridge_pipelines.sandbox.erp_base.sandbox import ErpSandbox
from bridge_pipelines.sandbox.syspro import appay, extensions

ODATA_ROOT = "/SYSPRO8Odata/SYSPROOData"
ENTITY_SETS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    # entity set -> (table, columns, key)
    "ApSupplier": (
        "ApSupplier",
        (
            "Supplier",
            "SupplierName",
            "SupShortName",
            "SupplierType",
            "SupplierClass",
            "Branch",
            "Currency",
            "TermsCode",
            "TaxRegnNum",
            "Email",
            "Telephone",
            "SupAddr1",
            "SupAddr2",
            "SupAddr3",
            "SupAddr4",
            "SupAddr5",
            "SupPostalCode",
            "OnHold",
            "PayByEft",
            "CurrentBalance",
        ),
        ("Supplier",),
    ),
    "GenMaster": (
        "GenMaster",
        ("GlCode", "Description", "AccountType", "AccountOnHold"),
        ("GlCode",),
    ),
    "GenAnalysisCode": (
        "GenAnalysisCode",
        ("AnalysisType", "AnalysisCode", "Description"),
        ("AnalysisType", "AnalysisCode"),
    ),
    # [I] posted AP invoices, read-only like every table here: reconciliation lists ours by
    # `startswith(Reference,'BP')` without taking the operator's one e.net session.
    "ApInvoice": (
        "ApInvoice",
        (
            "Supplier",
            "Invoice",
            "Reference",
            "Journal",
            "JournalDate",
            "InvoiceDate",
            "DueDate",
            "Currency",
            "OrigInvValue",
            "TaxValue",
            "InvoiceStatus",
            "MthInvBal1",  # the open balance [C column], paid when 0 [I]: APSTPM lowers it
        ),
        ("Supplier", "Invoice"),
    ),
    # [I] payments against invoices (APSTPM), read-only: ours by `PaymentReference`.
    "ApInvoicePay": ("ApInvoicePay", appay.COLUMNS, appay.KEY),
}
DECIMAL_COLUMNS = frozenset({"CurrentBalance", "OrigInvValue", "TaxValue", "MthInvBal1"})
DECIMAL_COLUMNS |= appay.MONEY_COLUMNS
INT_COLUMNS = frozenset({"AnalysisType", "TrnYear", "TrnMonth"})
DATE_COLUMNS = frozenset({"InvoiceDate", "DueDate", "JournalDate", "ChequeDate"})
# [I] schema namespace and container of the generated `$metadata`.
NAMESPACE = "SYSPRO"
CONTAINER = "SYSPROOData"
_KEY_PART = re.compile(r"\s*(?:(?P<name>[A-Za-z_]\w*)\s*=\s*)?(?P<value>'(?:[^']|'')*'|-?\d+)\s*")
_ADDRESSED = re.compile(r"^(?P<set>[A-Za-z_]\w*)\((?P<key>.*)\)$")
KNOWN_OPTIONS = frozenset({"$filter", "$top", "$skip", "$select", "$orderby", "$count", "$format"})

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)(?![\w-])|(?P<date>\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}:\d{2}Z)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<punct>[(),]))"
)
_COMPARE = {"eq": "=", "ne": "<>", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
_FUNCTIONS = {"contains": "%{}%", "startswith": "{}%", "endswith": "%{}"}


class ODataError(ValueError):
    """A query the service refuses (HTTP 400)."""


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise ODataError(f"syntax error in $filter at position {position}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


class _FilterParser:
    """Recursive descent over `$filter` into a SQL WHERE clause with bound parameters."""

    def __init__(self, text: str, columns: tuple[str, ...]) -> None:
        self.tokens = _tokens(text)
        self.columns = columns
        self.position = 0
        self.params: list[Any] = []

    def parse(self) -> str:
        sql = self._or()
        if self.position != len(self.tokens):
            raise ODataError(f"unexpected '{self.tokens[self.position][1]}' in $filter")
        return sql

    def _peek(self) -> tuple[str, str]:
        return self.tokens[self.position] if self.position < len(self.tokens) else ("", "")

    def _take(self) -> tuple[str, str]:
        token = self._peek()
        if not token[0]:
            raise ODataError("$filter ends too early")
        self.position += 1
        return token

    def _expect(self, value: str) -> None:
        if self._take()[1] != value:
            raise ODataError(f"expected '{value}' in $filter")

    def _or(self) -> str:
        parts = [self._and()]
        while self._peek() == ("name", "or"):
            self._take()
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    def _and(self) -> str:
        parts = [self._unary()]
        while self._peek() == ("name", "and"):
            self._take()
            parts.append(self._unary())
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    def _unary(self) -> str:
        if self._peek() == ("name", "not"):
            self._take()
            return f"NOT ({self._unary()})"
        if self._peek() == ("punct", "("):
            self._take()
            inner = self._or()
            self._expect(")")
            return f"({inner})"
        kind, value = self._take()
        if kind == "name" and value in _FUNCTIONS:
            self._expect("(")
            column = self._column(self._take())
            self._expect(",")
            literal = self._literal(self._take())
            self._expect(")")
            escaped = str(literal).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            self.params.append(_FUNCTIONS[value].format(escaped))
            return f"{column} LIKE ? ESCAPE '\\'"
        column = self._column((kind, value))
        operator_kind, operator = self._take()
        if operator_kind != "name" or operator not in _COMPARE:
            raise ODataError(f"unknown operator '{operator}' in $filter")
        literal = self._literal(self._take())
        if literal is None:
            if operator not in ("eq", "ne"):
                raise ODataError("null compares with eq or ne only")
            return f"{column} IS {'NOT ' if operator == 'ne' else ''}NULL"
        self.params.append(literal)
        if column in DECIMAL_COLUMNS:
            return f"CAST({column} AS NUMERIC) {_COMPARE[operator]} ?"
        return f"{column} {_COMPARE[operator]} ?"

    def _column(self, token: tuple[str, str]) -> str:
        if token[0] != "name" or token[1] not in self.columns:
            raise ODataError(f"could not find a property named '{token[1]}'")
        return token[1]

    def _literal(self, token: tuple[str, str]) -> Any:
        kind, value = token
        if kind == "str":
            return value[1:-1].replace("''", "'")
        if kind == "num":
            return Decimal(value) if "." in value else int(value)
        if kind == "date":
            return value
        if kind == "name" and value in ("true", "false"):
            return value == "true"
        if kind == "name" and value == "null":
            return None
        raise ODataError(f"expected a literal, found '{value}'")


def _odata_error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": "", "message": message}}, status_code=status)


def _json_value(column: str, value: Any) -> str:
    if value is not None and column in DECIMAL_COLUMNS:
        return str(Decimal(value))  # Edm.Decimal as a JSON number, never through float
    return json.dumps(value, ensure_ascii=False)


def _json(payload: dict[str, Any], rows: list[dict[str, Any]]) -> bytes:
    head = json.dumps(payload, ensure_ascii=False)[1:-1]
    body = ",".join(
        "{" + ",".join(f"{json.dumps(k)}:{_json_value(k, v)}" for k, v in row.items()) + "}"
        for row in rows
    )
    tail = "" if not head else ","
    return ("{" + head + tail + '"value":[' + body + "]}").encode("utf-8")


def _edm_type(column: str) -> str:
    if column in DECIMAL_COLUMNS:
        return EDM_DECIMAL
    if column in INT_COLUMNS:
        return EDM_INT32
    if column in DATE_COLUMNS:
        return EDM_DATE
    return EDM_STRING


def service_model(entity_sets: Mapping[str, tuple[str, tuple[str, ...], tuple[str, ...]]]
                  | None = None) -> ServiceModel:  # fmt: skip
    """The read-only model of every set in `ENTITY_SETS` now: one source for `$metadata`.

    A set another module adds to `ENTITY_SETS` (and its money columns to `DECIMAL_COLUMNS`)
    is described without an edit here.
    """
    sets = ENTITY_SETS if entity_sets is None else entity_sets
    return ServiceModel(
        namespace=NAMESPACE,
        container=CONTAINER,
        entity_sets=tuple(
            EntitySetDef(
                name=name,
                type=EntityType(
                    name=name,
                    key=key,
                    properties=tuple(Prop(c, _edm_type(c), nullable=c not in key) for c in columns),
                ),
            )
            for name, (_table, columns, key) in sets.items()
        ),
    )


def _key_values(name: str, text: str) -> list[Any]:
    """The key of `Set(<text>)`: `'K'`, a number, or `Name=value,...` for a composite key."""
    _table, _columns, key = ENTITY_SETS[name]
    parts = _split_key(text)
    if len(parts) != len(key):
        raise ODataError(f"the key of '{name}' has {len(key)} part(s): {', '.join(key)}")
    values: dict[str, Any] = {}
    for position, (given, literal) in enumerate(parts):
        column = given or key[position]
        if column not in key or (given is None and len(key) > 1):
            raise ODataError(f"invalid key segment '{text}' for '{name}'")
        values[column] = (
            literal[1:-1].replace("''", "'") if literal.startswith("'") else int(literal)
        )
    return [values[k] for k in key]


def _split_key(text: str) -> list[tuple[str | None, str]]:
    parts: list[tuple[str | None, str]] = []
    position = 0
    while position < len(text):
        match = _KEY_PART.match(text, position)
        if not match or match.end() == position:
            raise ODataError(f"invalid key segment '{text}'")
        parts.append((match.group("name"), match.group("value")))
        position = match.end()
        if position < len(text):
            if text[position] != ",":
                raise ODataError(f"invalid key segment '{text}'")
            position += 1
    return parts


def _versioned(response: Response) -> Response:
    # [C] OData v4: every answer names the protocol version.
    response.headers["OData-Version"] = "4.0"
    return response


def odata_routes(sandbox: ErpSandbox) -> list[Route]:
    """The OData service's routes, bound to the SYSPRO sandbox's store and settings."""

    def authorized(request: Request) -> bool:
        header = request.headers.get("authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic" or not encoded:
            return False
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        rows = sandbox.store.rows(
            "SELECT password, odata_enabled FROM operators WHERE operator = ?", (user,)
        )
        return bool(
            rows
            and rows[0]["odata_enabled"]
            and hmac.compare_digest(rows[0]["password"].encode(), password.encode())
        )

    def unauthorized() -> Response:
        return Response(
            "Unauthorized",
            status_code=401,
            headers={"WWW-Authenticate": 'Basic realm="SYSPRO OData"'},
            media_type="text/plain",
        )

    async def service_document(request: Request) -> Response:
        if not authorized(request):
            return _versioned(unauthorized())
        root = f"{request.base_url}{ODATA_ROOT.lstrip('/')}"
        document = csdl.service_document(service_model(), root)
        listed = {entry["name"] for entry in document["value"]}
        document["value"] += [  # sets served by their own module (extensions.py)
            {"name": n, "kind": "EntitySet", "url": n}
            for n in extensions.entity_sets()
            if n not in listed
        ]
        return _versioned(JSONResponse(document))

    async def metadata(request: Request) -> Response:
        if not authorized(request):
            return _versioned(unauthorized())
        body = csdl.metadata_document(service_model())
        return _versioned(Response(body, media_type="application/xml"))

    async def entity_set(request: Request) -> Response:
        if not authorized(request):
            return _versioned(unauthorized())
        segment = request.path_params["entity_set"]
        extension = extensions.handler_for(segment)
        if extension is not None:  # a set served by its own module (extensions.py)
            page_size = int(sandbox.config["odata_page_size"])
            return _versioned(extension.handler(sandbox.store, request, segment, page_size))
        addressed = _ADDRESSED.match(segment)
        name = addressed.group("set") if addressed else segment
        if name not in ENTITY_SETS:
            return _versioned(_odata_error(404, f"Resource not found for the segment '{name}'."))
        try:
            if addressed:
                return _versioned(_single(sandbox, request, name, addressed.group("key")))
            return _versioned(_query(sandbox, request, name))
        except ODataError as exc:
            return _versioned(_odata_error(400, str(exc)))

    async def count(request: Request) -> Response:
        if not authorized(request):
            return _versioned(unauthorized())
        name = request.path_params["entity_set"]
        if name not in ENTITY_SETS:
            return _versioned(_odata_error(404, f"Resource not found for the segment '{name}'."))
        try:
            where, values = _where(request, name)
        except ODataError as exc:
            return _versioned(_odata_error(400, str(exc)))
        table = ENTITY_SETS[name][0]
        rows = sandbox.store.rows(f"SELECT COUNT(*) AS n FROM {table}{where}", values)
        return _versioned(PlainTextResponse(str(rows[0]["n"])))

    return [
        Route(ODATA_ROOT, service_document, methods=["GET"]),
        Route(ODATA_ROOT + "/", service_document, methods=["GET"]),
        Route(ODATA_ROOT + "/$metadata", metadata, methods=["GET"]),
        Route(ODATA_ROOT + "/{entity_set}/$count", count, methods=["GET"]),
        Route(ODATA_ROOT + "/{entity_set}", entity_set, methods=["GET"]),
    ]


def _where(request: Request, name: str) -> tuple[str, list[Any]]:
    text = request.query_params.get("$filter")
    if not text:
        return "", []
    parser = _FilterParser(text, ENTITY_SETS[name][1])
    return " WHERE " + parser.parse(), parser.params


def _single(sandbox: ErpSandbox, request: Request, name: str, key_text: str) -> Response:
    """`Set('K')` or `Set(A=1,B='x')`: one entity, or 404 [C standard OData key access]."""
    table, columns, key = ENTITY_SETS[name]
    unknown = {p for p in request.query_params if p.startswith("$")} - {"$select", "$format"}
    if unknown:
        raise ODataError(f"unsupported query option {sorted(unknown)[0]}")
    selected = list(columns)
    if request.query_params.get("$select"):
        selected = [c.strip() for c in request.query_params["$select"].split(",")]
        for column in selected:
            if column not in columns:
                raise ODataError(f"could not find a property named '{column}'")
    values = _key_values(name, key_text)
    where = " AND ".join(f"{k} = ?" for k in key)
    rows = sandbox.store.rows(f"SELECT {', '.join(selected)} FROM {table} WHERE {where}", values)
    if not rows:
        return _odata_error(404, f"No entity of '{name}' has the key ({key_text}).")
    row = dict(rows[0])
    for column in INT_COLUMNS & row.keys():
        row[column] = int(row[column])
    base = f"{request.base_url}{ODATA_ROOT.lstrip('/')}"
    head = json.dumps({"@odata.context": f"{base}/$metadata#{name}/$entity"})[1:-1]
    fields = ",".join(f"{json.dumps(k)}:{_json_value(k, v)}" for k, v in row.items())
    return Response(("{" + head + "," + fields + "}").encode(),
                    media_type="application/json; odata.metadata=minimal")  # fmt: skip


def _int_option(params: dict[str, str], name: str) -> int | None:
    if name not in params:
        return None
    try:
        value = int(params[name])
    except ValueError:
        raise ODataError(f"{name} must be a non-negative integer") from None
    if value < 0:
        raise ODataError(f"{name} must be a non-negative integer")
    return value


def _query(sandbox: ErpSandbox, request: Request, name: str) -> Response:
    table, columns, key = ENTITY_SETS[name]
    params = dict(request.query_params)
    unknown = {p for p in params if p.startswith("$")} - KNOWN_OPTIONS
    if unknown:
        raise ODataError(f"unsupported query option {sorted(unknown)[0]}")
    where, values = "", []
    if params.get("$filter"):
        parser = _FilterParser(params["$filter"], columns)
        where = " WHERE " + parser.parse()
        values = parser.params
    selected = list(columns)
    if params.get("$select"):
        selected = [c.strip() for c in params["$select"].split(",")]
        for column in selected:
            if column not in columns:
                raise ODataError(f"could not find a property named '{column}'")
    order = list(key)
    if params.get("$orderby"):
        order = []
        for part in params["$orderby"].split(","):
            column, _, direction = part.strip().partition(" ")
            if column not in columns or direction.strip().lower() not in ("", "asc", "desc"):
                raise ODataError(f"invalid $orderby '{part.strip()}'")
            order.append(f"{column} {direction.strip().upper()}".strip())
        order += [k for k in key if k not in params["$orderby"]]
    top = _int_option(params, "$top")
    skip = _int_option(params, "$skip") or 0
    page_size = int(sandbox.config["odata_page_size"])
    limit = page_size if top is None else min(top, page_size)
    sql = f"SELECT {', '.join(selected)} FROM {table}{where} ORDER BY {', '.join(order)}"
    rows = [
        dict(r) for r in sandbox.store.rows(f"{sql} LIMIT ? OFFSET ?", [*values, limit + 1, skip])
    ]
    more = len(rows) > limit
    rows = rows[:limit]
    base = f"{request.base_url}{ODATA_ROOT.lstrip('/')}"
    payload: dict[str, Any] = {"@odata.context": f"{base}/$metadata#{name}"}
    if params.get("$count", "").lower() == "true":
        count_rows = sandbox.store.rows(f"SELECT COUNT(*) AS n FROM {table}{where}", values)
        payload["@odata.count"] = int(count_rows[0]["n"])
    remaining = None if top is None else top - len(rows)
    if more and (remaining is None or remaining > 0):
        following = {**params, "$skip": str(skip + len(rows))}
        if remaining is not None:
            following["$top"] = str(remaining)
        payload["@odata.nextLink"] = f"{base}/{name}?{urllib.parse.urlencode(following)}"
    for row in rows:
        for column in INT_COLUMNS & row.keys():
            row[column] = int(row[column])
    body = _json(payload, rows)
    return Response(body, media_type="application/json; odata.metadata=minimal")
