"""System query options parsed and checked against an entity type, for any OData sandbox.

`parse_options` reads `$select`, `$orderby`, `$top`, `$skip`, `$count` / `$inlinecount` and
`$expand` (the `$filter` text is passed through: each sandbox compiles it to its own SQL). It
raises `UnsupportedOption` for a system option outside the service's `supported` set (the
sandbox answers with its documented error, never a silent 200) and `OptionError` for a value
it cannot honour (an unknown property, a bad direction, a negative `$top`).
"""

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from bridge_pipelines.sandbox.erp_base.odata.model import EntityType

ALL_OPTIONS = frozenset(
    {"$filter", "$select", "$orderby", "$top", "$skip", "$count", "$inlinecount", "$expand",
     "$format", "$search", "$apply", "$skiptoken", "$levels", "$compute", "$index"}
)  # fmt: skip


class OptionError(ValueError):
    """A query option the service refuses; `option` names it."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(message)
        self.option = option


class UnsupportedOption(OptionError):
    """A system query option the service does not implement."""


@dataclass(frozen=True)
class OrderKey:
    """One `$orderby` key."""

    name: str
    descending: bool = False


@dataclass(frozen=True)
class QueryOptions:
    """The parsed options of one request."""

    filter: str | None = None
    select: tuple[str, ...] | None = None
    orderby: tuple[OrderKey, ...] = ()
    top: int | None = None
    skip: int = 0
    count: bool = False
    expand: tuple[str, ...] = ()
    extra: Mapping[str, str] = field(default_factory=dict)


def _int(params: Mapping[str, str], name: str) -> int | None:
    if name not in params:
        return None
    text = params[name].strip()
    if not text.isdigit():
        raise OptionError(name, f"invalid value of {name}: '{params[name]}'")
    return int(text)


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def parse_orderby(text: str, sortable: Collection[str]) -> tuple[OrderKey, ...]:
    """`$orderby=A desc,B` as keys; each a sortable property with `asc`/`desc` or nothing."""
    keys: list[OrderKey] = []
    for part in _names(text):
        words = part.split()
        direction = words[1].lower() if len(words) == 2 else ""
        if len(words) > 2 or words[0] not in sortable or direction not in ("", "asc", "desc"):
            raise OptionError("$orderby", f"invalid $orderby '{part}'")
        keys.append(OrderKey(words[0], direction == "desc"))
    if not keys:
        raise OptionError("$orderby", "empty $orderby")
    return tuple(keys)


def parse_options(
    params: Mapping[str, str],
    entity_type: EntityType,
    supported: Collection[str],
    *,
    count_true: str = "true",
) -> QueryOptions:
    """The system query options of a request against `entity_type`.

    `supported` lists the options the service implements; `count_true` is what turns the
    inline count on (`$count=true` in v4; v3's `$inlinecount=allpages` is read as well when
    `$inlinecount` is supported).
    """
    for name in params:
        if name.startswith("$") and name not in supported:
            raise UnsupportedOption(name, f"query option '{name}' is not supported")
    select = None
    if params.get("$select", "").strip():
        select = tuple(_names(params["$select"]))
        for name in select:
            if name not in entity_type.property_names:
                raise OptionError("$select", f"Property '{name}' is invalid")
    orderby: tuple[OrderKey, ...] = ()
    if params.get("$orderby", "").strip():
        orderby = parse_orderby(params["$orderby"], entity_type.scalar_names)
    expand: tuple[str, ...] = ()
    if params.get("$expand", "").strip():
        expand = tuple(_names(params["$expand"]))
        for name in expand:
            if name not in entity_type.collections and entity_type.navigation(name) is None:
                raise OptionError("$expand", f"Property '{name}' cannot be expanded")
    count_text = params.get("$count", "").strip().lower()
    if count_text not in ("", "true", "false"):
        raise OptionError("$count", f"invalid value of $count: '{params['$count']}'")
    inline = params.get("$inlinecount", "").strip().lower()
    if inline not in ("", "allpages", "none"):
        raise OptionError("$inlinecount", f"invalid value of $inlinecount: '{inline}'")
    return QueryOptions(
        filter=params.get("$filter") or None,
        select=select,
        orderby=orderby,
        top=_int(params, "$top"),
        skip=_int(params, "$skip") or 0,
        count=count_text == count_true or inline == "allpages",
        expand=expand,
        extra={k: v for k, v in params.items() if not k.startswith("$")},
    )
