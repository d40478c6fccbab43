"""The Default endpoint's entities as data: what validation, rendering and swagger.json read.

One definition per entity drives three things, so they cannot drift apart: the check of a PUT
body (every field wrapped as `{"value": ...}`, known names only, types, lengths), the rendering
of a stored record (values wrapped, `id` / `rowNumber` / `note` / `custom` / `_links` added),
and the OpenAPI 3.0 document served at `/entity/{Endpoint}/{Version}/swagger.json`, as the real
product serves one per endpoint version (and one for the instance, `/entity/swagger.json`)
[C: Acumatica-AI-Resources, IS__IS_CB_REST_Endpoint_API_Reference.md].

A field is a scalar (`string`, `decimal`, `int`, `boolean`, `datetime`, `guid`), a linked
object (`object`: wrapped fields one level down, e.g. `MainContact`) or a detail collection
(`rows`: an array, not wrapped itself; each row's fields are) [C: erp-facts §4 Records].
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

ENDPOINT = "Default"
VERSIONS = ("23.200.001", "24.200.001", "25.200.001")
"""Versions this instance serves (a 2025 R2 instance); 26.200.001 answers 404 here."""

SCALARS = ("string", "decimal", "int", "boolean", "datetime", "guid")


@dataclass(frozen=True)
class Field:
    """One field of an entity (or of a detail row / linked object)."""

    name: str
    type: str = "string"
    max_length: int | None = None
    read_only: bool = False
    fields: tuple["Field", ...] = ()
    since: str = VERSIONS[0]

    @property
    def is_scalar(self) -> bool:
        return self.type in SCALARS

    def child(self, name: str) -> "Field | None":
        return next((f for f in self.fields if f.name == name), None)


@dataclass(frozen=True)
class Entity:
    """A top-level entity of the endpoint: its key fields, fields and actions."""

    name: str
    keys: tuple[str, ...]
    fields: tuple[Field, ...]
    actions: tuple[str, ...] = ()
    since: str = VERSIONS[0]
    defaults: Mapping[str, Any] = field(default_factory=dict)

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)

    def in_version(self, version: str) -> bool:
        return version >= self.since

    def fields_in(self, version: str) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if version >= f.since)

    @property
    def expandable(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if not f.is_scalar)


def _s(name: str, length: int | None = None, **kw: Any) -> Field:
    return Field(name, "string", length, **kw)


def _d(name: str, **kw: Any) -> Field:
    return Field(name, "decimal", **kw)


def _b(name: str, **kw: Any) -> Field:
    return Field(name, "boolean", **kw)


def _t(name: str, **kw: Any) -> Field:
    return Field(name, "datetime", **kw)


ADDRESS = Field(
    "Address",
    "object",
    fields=(
        _s("AddressLine1", 50),
        _s("AddressLine2", 50),
        _s("City", 50),
        _s("State", 50),
        _s("PostalCode", 20),
        _s("Country", 2),
    ),
)
MAIN_CONTACT = Field(
    "MainContact",
    "object",
    fields=(_s("DisplayName", 255), _s("Email", 255), _s("Phone1", 50), ADDRESS),
)

VENDOR = Entity(
    "Vendor",
    keys=("VendorID",),
    fields=(
        _s("VendorID", 30),
        _s("VendorName", 255),
        _s("VendorClass", 10),
        _s("Status", 20),
        _s("Terms", 10),
        _s("CurrencyID", 5),
        _s("TaxRegistrationID", 50),
        _t("LastModifiedDateTime", read_only=True),
        MAIN_CONTACT,
    ),
    defaults={"VendorClass": "DEFAULT", "Status": "Active", "CurrencyID": "USD", "Terms": "30D"},
)
ACCOUNT = Entity(
    "Account",
    keys=("AccountCD",),
    fields=(
        _s("AccountCD", 10),
        _s("Description", 60),
        _s("Type", 20),
        _b("Active"),
        _s("PostOption", 20),
        _s("CurrencyID", 5),
        _s("AccountClass", 20),
    ),
)
SUBACCOUNT = Entity(
    "Subaccount",
    keys=("SubaccountCD",),
    fields=(_s("SubaccountCD", 30), _s("Description", 60), _b("Active")),
)
BRANCH = Entity(
    "Branch",
    keys=("BranchID",),
    fields=(_s("BranchID", 30), _s("BranchName", 60), _b("Active")),
)
PROJECT = Entity(
    "Project",
    keys=("ProjectID",),
    fields=(
        _s("ProjectID", 30),
        _s("Description", 255),
        _s("Status", 20),
        _s("Customer", 30),
        _s("Branch", 30),
        _b("NonProject", read_only=True),
    ),
)
PO_LINE = Field(
    "Details",
    "rows",
    fields=(
        Field("LineNbr", "int"),
        _s("InventoryID", 30),
        _s("LineDescription", 255),
        _d("OrderQty"),
        _d("QtyOnReceipts"),
        _d("UnitCost"),
        _d("ExtendedCost"),
        _s("Account", 10),
        _s("Subaccount", 30),
        _s("Project", 30),
        _s("ProjectTask", 30),
        _s("Branch", 30),
        _b("Completed"),
    ),
)
PURCHASE_ORDER = Entity(
    "PurchaseOrder",
    keys=("Type", "OrderNbr"),
    fields=(
        _s("Type", 20),
        _s("OrderNbr", 15),
        _s("VendorID", 30),
        _t("Date"),
        _s("Status", 20),
        _b("Hold"),
        _s("VendorRef", 40),
        _s("CurrencyID", 5),
        _d("OrderTotal", read_only=True),
        _s("Description", 255),
        _s("Branch", 30),
        PO_LINE,
    ),
)
BILL_LINE = Field(
    "Details",
    "rows",
    fields=(
        _s("Branch", 30),
        _s("InventoryID", 30),
        _s("TransactionDescription", 255),
        _d("Qty"),
        _d("UnitCost"),
        _d("ExtendedCost"),
        _d("Amount", read_only=True),
        _s("Account", 10),
        _s("Subaccount", 30),
        _s("Project", 30),
        _s("ProjectTask", 30),
        _s("TaxCategory", 15),
        _s("POOrderType", 20),
        _s("POOrderNbr", 15),
        Field("POLine", "int"),
    ),
)
APPLICATIONS = Field(
    "Applications",
    "rows",
    read_only=True,
    fields=(
        _s("DocType", 20),
        _s("ReferenceNbr", 15),
        _d("AmountPaid"),
        _d("Balance"),
        _t("ApplicationDate"),
    ),
)
BILL = Entity(
    "Bill",
    keys=("Type", "ReferenceNbr"),
    fields=(
        _s("Type", 20),
        _s("ReferenceNbr", 15),
        _s("Vendor", 30),
        _s("VendorRef", 40),
        _s("LocationID", 10),
        _t("Date"),
        _t("DueDate"),
        _s("PostPeriod", 6),
        _s("Description", 255),
        _s("CurrencyID", 5),
        _s("Terms", 10),
        _d("Amount"),
        _d("Balance", read_only=True),
        _s("Status", 20, read_only=True),
        _b("Hold"),
        _s("BranchID", 30),
        _t("LastModifiedDateTime", read_only=True),
        BILL_LINE,
        APPLICATIONS,
    ),
    actions=("ReleaseBill",),
    defaults={"Type": "Bill", "Hold": False, "LocationID": "MAIN", "CurrencyID": "USD"},
)
CHECK_LINE = Field(
    "Details",
    "rows",
    fields=(_s("DocType", 20), _s("ReferenceNbr", 15), _d("AmountPaid"), _d("Balance")),
)
CHECK = Entity(
    "Check",
    keys=("Type", "ReferenceNbr"),
    fields=(
        _s("Type", 20),
        _s("ReferenceNbr", 15),
        _s("Vendor", 30),
        _s("PaymentMethod", 10),
        _s("CashAccount", 10),
        _s("PaymentRef", 40),
        _t("ApplicationDate"),
        _d("PaymentAmount"),
        _s("CurrencyID", 5),
        _s("Status", 20, read_only=True),
        _b("Hold"),
        _s("Description", 255),
        _t("LastModifiedDateTime", read_only=True),
        CHECK_LINE,
    ),
    actions=("ReleaseCheck",),
    defaults={"Type": "Payment", "Hold": False, "CurrencyID": "USD", "PaymentMethod": "CHECK"},
)

ENTITIES: Mapping[str, Entity] = {
    e.name: e for e in (VENDOR, ACCOUNT, SUBACCOUNT, BRANCH, PROJECT, PURCHASE_ORDER, BILL, CHECK)
}


# --- wrapping -------------------------------------------------------------------------------


class BadBody(ValueError):
    """A body the endpoint refuses with 400 (unwrapped field, unknown field, wrong type)."""


def _scalar(f: Field, raw: Any, where: str) -> Any:
    if not isinstance(raw, dict) or set(raw) - {"value"} or "value" not in raw:
        raise BadBody(
            f"The value of the field '{where}' must be an object with a 'value' property, "
            f'such as {{"{f.name}": {{"value": ...}}}}'
        )
    value = raw["value"]
    if value is None:
        return None
    ok = {
        "string": isinstance(value, str),
        "guid": isinstance(value, str),
        "datetime": isinstance(value, str),
        "boolean": isinstance(value, bool),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "decimal": (isinstance(value, int | float) and not isinstance(value, bool))
        or isinstance(value, Decimal),
    }[f.type]
    if not ok:
        raise BadBody(f"The value of the field '{where}' is not a valid {f.type}")
    return value


def unwrap(fields: tuple[Field, ...], body: Any, where: str = "") -> dict[str, Any]:
    """A PUT body (wrapped) as plain values, checked against `fields`.

    `id` and `delete` are bare row controls [C]; `rowNumber`, `note`, `custom`, `_links`
    from a record read back are ignored. Read-only fields sent are ignored, as the product
    ignores them.

    Raises:
        BadBody: a field not wrapped, not known, or of the wrong type.
    """
    if not isinstance(body, dict):
        raise BadBody(f"{where or 'The request body'} must be a JSON object")
    plain: dict[str, Any] = {}
    for name, raw in body.items():
        if name in ("id", "delete"):
            plain[name] = raw
            continue
        if name in ("rowNumber", "note", "custom", "_links", "files"):
            continue
        f = next((x for x in fields if x.name == name), None)
        path = f"{where}.{name}" if where else name
        if f is None:
            raise BadBody(f"The field '{path}' is not defined in the entity")
        if f.read_only:
            continue
        if f.type == "rows":
            if not isinstance(raw, list):
                raise BadBody(f"The field '{path}' must be an array of rows")
            plain[name] = [unwrap(f.fields, row, path) for row in raw]
        elif f.type == "object":
            plain[name] = unwrap(f.fields, raw, path)
        else:
            plain[name] = _scalar(f, raw, path)
    return plain


def wrap(fields: tuple[Field, ...], record: Mapping[str, Any], expand: set[str], base: str) -> Any:
    """A stored record as the endpoint answers it: values wrapped, row fields added."""
    out: dict[str, Any] = {"id": record.get("id"), "rowNumber": record.get("rowNumber", 1)}
    out["note"] = {"value": record.get("note") or ""}
    for f in fields:
        if f.name not in record:
            continue
        value = record[f.name]
        if f.type == "rows":
            if f.name in expand:
                out[f.name] = [
                    wrap(f.fields, {**row, "rowNumber": n}, set(), "")
                    for n, row in enumerate(value or [], start=1)
                ]
        elif f.type == "object":
            if f.name in expand and isinstance(value, dict):
                inner = wrap(f.fields, value, {x.name for x in f.fields}, base)
                for control in ("note", "rowNumber"):
                    inner.pop(control, None)
                out[f.name] = inner
        else:
            out[f.name] = {} if value is None else {"value": value}
    out["custom"] = {}
    if base:
        out["_links"] = {"self": f"{base}/{record.get('id')}"}
    return out


# --- swagger.json (OpenAPI 3.0) ----------------------------------------------------------------

_VALUE_TYPES = {
    "string": ("StringValue", "string", None),
    "guid": ("GuidValue", "string", "uuid"),
    "datetime": ("DateTimeValue", "string", "date-time"),
    "boolean": ("BooleanValue", "boolean", None),
    "int": ("IntValue", "integer", "int32"),
    "decimal": ("DecimalValue", "number", "double"),
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _schema(fields: tuple[Field, ...], version: str, owner: str, out: dict[str, Any]) -> None:
    properties: dict[str, Any] = {}
    for f in fields:
        if version < f.since:
            continue
        if f.type in ("rows", "object"):
            name = f"{owner}{f.name}"
            _schema(f.fields, version, name, out)
            properties[f.name] = (
                {"type": "array", "items": _ref(name)} if f.type == "rows" else _ref(name)
            )
        else:
            properties[f.name] = _ref(_VALUE_TYPES[f.type][0])
    out[owner] = {"allOf": [_ref("Entity"), {"type": "object", "properties": properties}]}


def _json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _operations(entity: Entity) -> dict[str, Any]:
    ref = _ref(entity.name)
    query = [
        {"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
        for n in ("$select", "$filter", "$expand", "$custom")
    ] + [
        {"name": n, "in": "query", "required": False, "schema": {"type": "integer"}}
        for n in ("$skip", "$top")
    ]
    paths: dict[str, Any] = {
        f"/{entity.name}": {
            "get": {
                "tags": [entity.name],
                "operationId": f"{entity.name}_GetList",
                "parameters": query,
                "responses": {"200": {"description": "OK", "content": _json_content(
                    {"type": "array", "items": ref})}},
            },
            "put": {
                "tags": [entity.name],
                "operationId": f"{entity.name}_PutEntity",
                "parameters": query[:3],
                "requestBody": {"required": True, "content": _json_content(ref)},
                "responses": {
                    "200": {"description": "OK", "content": _json_content(ref)},
                    "412": {"description": "The record exists (If-None-Match: *)"},
                    "422": {"description": "Field-level validation errors",
                            "content": _json_content(ref)},
                },
            },
        }
    }  # fmt: skip
    keys = "/".join("{" + k + "}" for k in entity.keys)
    paths[f"/{entity.name}/{keys}"] = {
        "get": {
            "tags": [entity.name],
            "operationId": f"{entity.name}_GetByKeys",
            "parameters": [
                {"name": k, "in": "path", "required": True, "schema": {"type": "string"}}
                for k in entity.keys
            ],
            "responses": {"200": {"description": "OK", "content": _json_content(ref)}},
        }
    }
    for action in entity.actions:
        body = {"type": "object", "properties": {"entity": ref}}
        paths[f"/{entity.name}/{action}"] = {
            "post": {
                "tags": [entity.name],
                "operationId": f"{entity.name}_InvokeAction_{action}",
                "requestBody": {"required": True, "content": _json_content(body)},
                "responses": {"202": {"description": "Accepted; poll the Location"},
                              "204": {"description": "Done"}},
            }
        }  # fmt: skip
    return paths


def swagger(endpoint: str, version: str) -> dict[str, Any]:
    """The OpenAPI 3.0 document of one endpoint version, from the definitions above [C]."""
    schemas: dict[str, Any] = {
        "Entity": {
            "type": "object",
            "properties": {
                "id": {"type": "string", "format": "uuid"},
                "rowNumber": {"type": "integer", "format": "int64"},
                "note": _ref("StringValue"),
                "custom": {"type": "object"},
                "_links": {"type": "object"},
            },
        }
    }
    for value_name, kind, fmt in _VALUE_TYPES.values():
        inner: dict[str, Any] = {"type": kind}
        if fmt:
            inner["format"] = fmt
        schemas[value_name] = {"type": "object", "properties": {"value": inner}}
    paths: dict[str, Any] = {}
    for entity in ENTITIES.values():
        if entity.in_version(version):
            _schema(entity.fields_in(version), version, entity.name, schemas)
            paths.update(_operations(entity))
    return {
        "openapi": "3.0.1",
        "info": {"title": f"{endpoint}/{version}", "version": version},
        "servers": [{"url": f"/entity/{endpoint}/{version}"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "oauth2": {
                    "type": "oauth2",
                    "flows": {"password": {"tokenUrl": "/identity/connect/token", "scopes": {
                        "api": "the contract-based API", "offline_access": "refresh tokens"}}},
                },
                "cookie": {"type": "apiKey", "in": "cookie", "name": ".ASPXAUTH"},
            },
        },
    }  # fmt: skip


def instance_swagger() -> dict[str, Any]:
    """The instance's OpenAPI 3.0 document: sign in, sign out, the version [C]."""
    credentials = {
        "type": "object",
        "properties": {
            k: {"type": "string"} for k in ("name", "password", "tenant", "branch", "locale")
        },
    }
    return {
        "openapi": "3.0.1",
        "info": {"title": "Acumatica ERP instance", "version": "1"},
        "paths": {
            "/entity/auth/login": {"post": {
                "operationId": "Auth_Login",
                "requestBody": {"required": True, "content": _json_content(credentials)},
                "responses": {"204": {"description": "Signed in"},
                              "429": {"description": "API Login Limit"}}}},
            "/entity/auth/logout": {"post": {
                "operationId": "Auth_Logout",
                "responses": {"204": {"description": "Signed out"}}}},
            "/entity": {"get": {
                "operationId": "Endpoints_Get",
                "responses": {"200": {"description": "The version and the endpoints"}}}},
        },
    }  # fmt: skip
