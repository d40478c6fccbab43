"""`$filter` compiled to a parameterised SQL condition, for any OData sandbox.

Supported: `eq ne gt ge lt le`, `and or not`, parentheses, `contains(P,'x')`,
`startswith(P,'x')`, `endswith(P,'x')`, v3's `substringof('x',P)`; literals: quoted strings
(`''` escapes a quote, an optional type prefix such as `SAPB1.BoYesNoEnum'tNO'`), numbers,
`null`, `true`/`false`, bare dates (`2024-05-01`). A property outside the whitelist, or
anything else, is a `FilterError`. Values are bound parameters, never pasted into the SQL.
"""

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

_TOKEN = re.compile(
    r"\s*(?:(?P<str>(?:[A-Za-z_][\w.]*)?'(?:[^']|'')*')"
    r"|(?P<date>\d{4}-\d{2}-\d{2}(?:T[\d:.]+Z?)?)"
    r"|(?P<num>-?\d+(?:\.\d+)?)"
    r"|(?P<name>[A-Za-z_]\w*)"
    r"|(?P<punct>[(),]))"
)
_COMPARE = {"eq": "=", "ne": "<>", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
_FUNCTIONS = ("contains", "startswith", "endswith", "substringof")


class FilterError(ValueError):
    """A `$filter` the service refuses; the sandbox answers it in its own error shape."""


@dataclass
class Filter:
    """A compiled `$filter`: SQL text and its parameters."""

    sql: str = "1"
    params: list[Any] = field(default_factory=list)


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise FilterError(f"Query string error - Invalid filter condition near '{text[pos:]}'")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(
        self, text: str, properties: Collection[str], column: Callable[[str], str]
    ) -> None:
        self.tokens = _tokens(text)
        self.pos = 0
        self.properties = properties
        self.column_sql = column
        self.params: list[Any] = []

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            raise FilterError("Query string error - Invalid filter condition")
        self.pos += 1
        return token

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token and token[0] == "name" and token[1] == word:
            self.pos += 1
            return True
        return False

    def parse(self) -> str:
        sql = self.or_expr()
        if self.peek() is not None:
            raise FilterError("Query string error - Invalid filter condition")
        return sql

    def or_expr(self) -> str:
        parts = [self.and_expr()]
        while self.keyword("or"):
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    def and_expr(self) -> str:
        parts = [self.unary()]
        while self.keyword("and"):
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    def unary(self) -> str:
        if self.keyword("not"):
            return f"NOT ({self.unary()})"
        token = self.peek()
        if token and token[1] == "(":
            self.take("(")
            inner = self.or_expr()
            self.take(")")
            return inner
        if token and token[0] == "name" and token[1] in _FUNCTIONS:
            return self.function()
        column = self.column()
        op = self.take()
        if op[0] != "name" or op[1] not in _COMPARE:
            raise FilterError("Query string error - Invalid filter condition")
        value = self.literal()
        if value is None:
            return f"{column} IS {'NOT ' if op[1] == 'ne' else ''}NULL"
        self.params.append(value)
        return f"{column} {_COMPARE[op[1]]} ?"

    def function(self) -> str:
        name = self.take()[1]
        self.take("(")
        if name == "substringof":
            value = self.literal()
            self.take(",")
            column = self.column()
        else:
            column = self.column()
            self.take(",")
            value = self.literal()
        self.take(")")
        if not isinstance(value, str):
            raise FilterError(f"Query string error - {name} needs a string literal")
        if name == "startswith":
            self.params.extend([value, value])
            return f"substr({column}, 1, length(?)) = ?"
        if name == "endswith":
            self.params.extend([value, value])
            return f"substr({column}, -length(?)) = ?"
        self.params.append(value)
        return f"instr({column}, ?) > 0"

    def column(self) -> str:
        kind, name = self.take()
        if kind != "name" or name not in self.properties:
            raise FilterError(f"Property '{name}' is invalid")
        return self.column_sql(name)

    def literal(self) -> Any:
        kind, text = self.take()
        if kind == "str":
            return text[text.index("'") + 1 : -1].replace("''", "'")
        if kind == "date":
            return text
        if kind == "num":
            return float(text) if "." in text else int(text)
        if kind == "name" and text in ("null", "true", "false"):
            return {"null": None, "true": 1, "false": 0}[text]
        raise FilterError("Query string error - Invalid filter condition")


def json_column(name: str) -> str:
    """A property of a record kept as one JSON body (`body` column)."""
    return f"json_extract(body, '$.{name}')"


def compile_filter(
    text: str | None, properties: Collection[str], column: Callable[[str], str] = json_column
) -> Filter:
    """The SQL condition of a `$filter`; raises `FilterError` on anything unsupported.

    `properties` whitelists what may be named; `column` turns a property into its SQL
    expression (a JSON path by default, a plain column for a table per entity set).
    """
    if text is None or not text.strip():
        return Filter()
    parser = _Parser(text, properties, column)
    return Filter(parser.parse(), parser.params)
