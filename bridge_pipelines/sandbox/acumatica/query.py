"""Query options of the contract-based REST API: `$filter`, `$select`, `$expand`, `$top`, `$skip`.

`$filter` is compiled to SQL over `json_extract(body, '$.<Field>')`, fields whitelisted from the
entity's scalar fields, so a lookup by `Vendor` + `VendorRef` stays an indexed query however
many bills a benchmark posted. Supported: `eq ne gt ge lt le`, `and or not`, parentheses,
`startswith(F,'x')`, `endswith(F,'x')`, `substringof('x',F)` [I: OData v3 functions, the
protocol version the contract-based API speaks]; literals: quoted strings (`''` escapes a
quote), numbers, `true`/`false`, `null` and `datetimeoffset'2024-08-18T23:59:59.999+04:00'`
[C: erp-facts §4]. Paging is `$top`/`$skip` only: no nextLink is ever answered [C].
"""

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

_TOKEN = re.compile(
    r"\s*(?:(?P<dto>datetimeoffset'[^']*')"
    r"|(?P<str>'(?:[^']|'')*')"
    r"|(?P<num>-?\d+(?:\.\d+)?)"
    r"|(?P<name>[A-Za-z_]\w*)"
    r"|(?P<punct>[(),]))"
)
_COMPARE = {"eq": "=", "ne": "<>", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
_FUNCTIONS = ("startswith", "endswith", "substringof")


class QueryError(ValueError):
    """A query option the endpoint refuses (400)."""


@dataclass
class Filter:
    """A compiled `$filter`: SQL text and its parameters."""

    sql: str = "1"
    params: list[Any] = field(default_factory=list)


def instant(text: str) -> str:
    """An ISO instant as stored: UTC, seconds, `+00:00`."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise QueryError(f"Invalid $filter near '{text[pos : pos + 20]}'")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


class _Parser:
    def __init__(self, text: str, fields: Collection[str]) -> None:
        self.tokens = _tokens(text)
        self.pos = 0
        self.fields = fields
        self.params: list[Any] = []

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise QueryError("Unexpected end of $filter")
        self.pos += 1
        return token

    def expect(self, value: str) -> None:
        _, text = self.take()
        if text != value:
            raise QueryError(f"Expected '{value}' in $filter, found '{text}'")

    def parse(self) -> str:
        sql = self.disjunction()
        if self.peek() is not None:
            raise QueryError(f"Unexpected '{self.peek()[1]}' in $filter")  # type: ignore[index]
        return sql

    def disjunction(self) -> str:
        parts = [self.conjunction()]
        while self.peek() == ("name", "or"):
            self.take()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    def conjunction(self) -> str:
        parts = [self.unary()]
        while self.peek() == ("name", "and"):
            self.take()
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    def unary(self) -> str:
        if self.peek() == ("name", "not"):
            self.take()
            return f"NOT ({self.unary()})"
        if self.peek() == ("punct", "("):
            self.take()
            inner = self.disjunction()
            self.expect(")")
            return f"({inner})"
        return self.comparison()

    def field(self, name: str) -> str:
        if name not in self.fields:
            raise QueryError(f"The field '{name}' cannot be used in $filter")
        return f"json_extract(body, '$.{name}')"

    def literal(self) -> Any:
        kind, text = self.take()
        if kind == "str":
            return text[1:-1].replace("''", "'")
        if kind == "dto":
            try:
                return instant(text[len("datetimeoffset'") : -1])
            except ValueError as exc:
                raise QueryError(f"Invalid datetimeoffset literal {text}") from exc
        if kind == "num":
            return float(text) if "." in text else int(text)
        if (kind, text) == ("name", "true"):
            return 1
        if (kind, text) == ("name", "false"):
            return 0
        if (kind, text) == ("name", "null"):
            return None
        raise QueryError(f"Expected a literal in $filter, found '{text}'")

    def function(self, name: str) -> str:
        self.expect("(")
        if name == "substringof":
            needle = self.literal()
            self.expect(",")
            column = self.field(self.take()[1])
        else:
            column = self.field(self.take()[1])
            self.expect(",")
            needle = self.literal()
        self.expect(")")
        if not isinstance(needle, str):
            raise QueryError(f"{name} takes a string")
        escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = {
            "startswith": escaped + "%",
            "endswith": "%" + escaped,
            "substringof": "%" + escaped + "%",
        }[name]
        self.params.append(pattern)
        # GLOB would be case-sensitive; Acumatica compares case-insensitively, as LIKE does.
        return f"{column} LIKE ? ESCAPE '\\'"

    def comparison(self) -> str:
        kind, text = self.take()
        if kind != "name":
            raise QueryError(f"Expected a field name in $filter, found '{text}'")
        if text in _FUNCTIONS:
            sql = self.function(text)
            if self.peek() == ("name", "eq"):
                self.take()
                if self.literal() == 0:
                    sql = f"NOT ({sql})"
            return sql
        column = self.field(text)
        _, op = self.take()
        if op not in _COMPARE:
            raise QueryError(f"Unknown operator '{op}' in $filter")
        value = self.literal()
        if value is None:
            return f"{column} IS {'NOT ' if op == 'ne' else ''}NULL"
        self.params.append(value)
        if isinstance(value, str):
            return f"{column} {_COMPARE[op]} ? COLLATE NOCASE"
        return f"{column} {_COMPARE[op]} ?"


def compile_filter(text: str | None, fields: Collection[str]) -> Filter:
    """`$filter` as SQL; None or blank is every record.

    Raises:
        QueryError: a syntax error or a field that is not a scalar field of the entity.
    """
    if not text or not text.strip():
        return Filter()
    parser = _Parser(text, fields)
    sql = parser.parse()
    return Filter(sql, parser.params)


def names(text: str | None, allowed: Collection[str], option: str) -> set[str] | None:
    """`$select` / `$expand` as a set of top-level names; None when absent.

    `Details/Account` style paths keep their first segment.

    Raises:
        QueryError: a name the entity does not have.
    """
    if text is None:
        return None
    chosen = {part.strip().split("/", 1)[0] for part in text.split(",") if part.strip()}
    unknown = chosen - set(allowed)
    if unknown:
        raise QueryError(f"{option}: unknown field(s) {', '.join(sorted(unknown))}")
    return chosen


def count(text: str | None, option: str) -> int | None:
    """`$top` / `$skip` as a non-negative int; None when absent."""
    if text is None or text == "":
        return None
    try:
        value = int(text)
    except ValueError:
        raise QueryError(f"{option} must be a whole number") from None
    if value < 0:
        raise QueryError(f"{option} must not be negative")
    return value
