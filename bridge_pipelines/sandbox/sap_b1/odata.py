"""OData query options as the Service Layer reads them: `$filter`, `$select`, `$top`, `$skip`.

`$filter` is compiled by the shared `erp_base/odata/filter.py` over
`json_extract(body, '$.<Property>')`, from a whitelist of the entity's scalar properties, so
a lookup by `CardCode` + `NumAtCard` stays an indexed query however many invoices a
benchmark posted. Supported [C: what public clients send]: `eq ne gt ge lt le`, `and or
not`, parentheses, `contains(P,'x')`, `startswith(P,'x')`, `endswith(P,'x')`, v1's
`substringof('x',P)`; literals: quoted strings (`''` escapes a quote), numbers, `null`,
`true`/`false`, v2 bare dates (`2024-05-01`) and enum literals (`SAPB1.BoYesNoEnum'tNO'`).
Anything else is a `QueryError` (400, code 201).
"""

import re
from collections.abc import Collection

from bridge_pipelines.sandbox.erp_base.odata.filter import Filter, FilterError, compile_filter

# The Service Layer answers a refused query option 400 / code 201.
QueryError = FilterError
__all__ = ["Filter", "QueryError", "compile_filter", "max_page_size", "parse_count",
           "parse_select"]  # fmt: skip


def parse_select(text: str | None, properties: Collection[str]) -> list[str] | None:
    """`$select=A,B` as a list, each name checked; None when absent."""
    if text is None or not text.strip():
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    for name in names:
        if name not in properties:
            raise QueryError(f"Property '{name}' is invalid")
    return names


def parse_count(value: str | None, option: str) -> int | None:
    """`$top`/`$skip` as a non-negative int; None when absent."""
    if value is None:
        return None
    if not value.strip().isdigit():
        raise QueryError(f"Query string error - invalid value of {option}")
    return int(value)


_MAX_PAGE = re.compile(r"odata\.maxpagesize\s*=\s*(\d+)")


def max_page_size(prefer: str | None) -> int | None:
    """The `odata.maxpagesize` of a `Prefer` header, or None."""
    match = _MAX_PAGE.search(prefer or "")
    return int(match.group(1)) if match else None
