"""Column specs and their vectorized checks: how one text cell becomes one typed value.

Every cell is read as text. A field turns it into a typed value with polars expressions (regex
and non-strict casts: a cell that does not convert becomes null, and null-where-text-was-given
is the failure flag), so a million rows are checked without a Python loop. Only the cells that
fail are looked at again, in Python, to write a precise message quoting the value.
"""

import re
from dataclasses import dataclass
from typing import Literal

import polars as pl

from bridge_pipelines.tenants.models import FileTemplate

FieldType = Literal["text", "money", "date", "timestamp", "int", "enum", "pattern", "bool"]

MONEY_RE = r"^-?[0-9]{1,16}(?:\.[0-9]{1,2})?$"
MONEY_DTYPE = pl.Decimal(18, 2)
TIMESTAMP_RE = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?"
    r"(?:Z|[+-][0-9]{2}:?[0-9]{2})$"
)
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S%.f%#z"
TIMESTAMP_DTYPE = pl.Datetime("us", "UTC")
DEFAULT_DATE_FORMAT = "%Y-%m-%d"
TRUE_WORDS = ("true", "True", "TRUE")
FALSE_WORDS = ("false", "False", "FALSE")


@dataclass(frozen=True)
class Field:
    """One column of a Stampli export.

    Attributes:
        name: Canonical snake_case name in our frames.
        column: Column name in Stampli's default template.
        type: How the text is checked and converted.
        required: An empty cell is an error.
        optional_column: The column may be missing from the header (then every cell is empty).
        choices: Allowed values for `enum`.
        pattern: Regex for `pattern`, with a human description in `hint`.
        max_len: Longest allowed text, in characters.
    """

    name: str
    column: str
    type: FieldType = "text"
    required: bool = True
    optional_column: bool = False
    choices: tuple[str, ...] = ()
    pattern: str | None = None
    hint: str = ""
    max_len: int | None = None

    def dtype(self) -> pl.DataType:
        """The polars type of the canonical column."""
        if self.type == "money":
            return MONEY_DTYPE
        if self.type == "date":
            return pl.Date()
        if self.type == "timestamp":
            return TIMESTAMP_DTYPE
        if self.type == "int":
            return pl.Int32()
        if self.type == "bool":
            return pl.Boolean()
        return pl.String()

    @property
    def converts(self) -> bool:
        """True when the canonical value is not the text itself (money, dates, numbers...)."""
        return self.type in ("money", "date", "timestamp", "int", "bool")

    def typed(self, template: FileTemplate) -> pl.Expr:
        """The converted value (converting fields only); null where it does not convert."""
        raw = pl.col(self.name)
        if self.type == "money":
            text = _money_text(raw, template)
            return pl.when(text.str.contains(MONEY_RE)).then(text.cast(MONEY_DTYPE, strict=False))
        if self.type == "date":
            parsed = _in_python_range(raw.str.strptime(pl.Date, template.date_format, strict=False))
            if template.date_format == DEFAULT_DATE_FORMAT:
                # chrono also takes "2026-2-3"; the template says YYYY-MM-DD.
                return pl.when(raw.str.len_bytes() == 10).then(parsed)
            return parsed
        if self.type == "timestamp":
            return pl.when(raw.str.contains(TIMESTAMP_RE)).then(
                _in_python_range(
                    raw.str.to_datetime(
                        TIMESTAMP_FORMAT, strict=False, time_unit="us", time_zone="UTC"
                    )
                )
            )
        if self.type == "int":
            return pl.when(raw.str.contains(r"^-?[0-9]{1,9}$")).then(
                raw.cast(pl.Int32, strict=False)
            )
        if self.type == "bool":
            return (
                pl.when(raw.is_in(TRUE_WORDS))
                .then(pl.lit(True))
                .when(raw.is_in(FALSE_WORDS))
                .then(pl.lit(False))
            )
        raise ValueError(f"{self.name}: a {self.type} field keeps its text")

    def _text_ok(self) -> pl.Expr | None:
        raw = pl.col(self.name)
        if self.type == "enum":
            return raw.is_in(self.choices)
        if self.type == "pattern":
            assert self.pattern is not None
            return raw.str.contains(self.pattern)
        if self.max_len is not None:
            return raw.str.len_chars() <= self.max_len
        return None

    def bad(self) -> pl.Expr:
        """True where the cell fails; converting fields read their `__t_<name>` column."""
        raw = pl.col(self.name)
        if self.converts:
            failed = raw.is_not_null() & pl.col(f"__t_{self.name}").is_null()
        else:
            ok = self._text_ok()
            failed = pl.lit(False) if ok is None else (raw.is_not_null() & ~ok)
        return (failed | raw.is_null()) if self.required else failed

    def value(self) -> pl.Expr:
        """The canonical column, once `__t_<name>` exists for converting fields."""
        return (pl.col(f"__t_{self.name}") if self.converts else pl.col(self.name)).alias(self.name)

    def describe(self, value: str | None, template: FileTemplate) -> str:
        """Why `value` failed this field (the value is quoted so the user can find it)."""
        if value is None:
            return "is required but empty"
        shown = repr(value) if len(value) <= 60 else repr(value[:57] + "...")
        if self.type == "money":
            return f"{shown} {_money_problem(value, template)}"
        if self.type == "date":
            if template.date_format == DEFAULT_DATE_FORMAT and re.fullmatch(
                r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value
            ):
                return f"{shown} is not a real calendar date"
            return f"{shown} is not a date in the format {template.date_format!r}"
        if self.type == "timestamp":
            if re.fullmatch(TIMESTAMP_RE, value) is None:
                return (
                    f"{shown} is not an ISO 8601 timestamp with offset (2026-11-21T13:02:11-05:00)"
                )
            return f"{shown} is not a real date and time"
        if self.type == "int":
            return f"{shown} is not a whole number"
        if self.type == "bool":
            return f"{shown} is not true or false"
        if self.type == "enum":
            return f"{shown} is not one of {', '.join(self.choices)}"
        if self.type == "pattern":
            return f"{shown} is not {self.hint}"
        return f"{shown} is longer than {self.max_len} characters"


def _in_python_range(value: pl.Expr) -> pl.Expr:
    """`value` where its (UTC) year is 1-9999, else null (so the cell is refused).

    polars takes "0000-01-01" and "9999-12-31T23:59:59-14:00" (year 10000 in UTC); Python's
    date and datetime cannot hold them, so the documents and the error messages built from
    such a row would crash instead of refusing it.
    """
    return pl.when(value.dt.year().is_between(1, 9999)).then(value)


def _money_text(raw: pl.Expr, template: FileTemplate) -> pl.Expr:
    if template.decimal_separator == ",":
        # A '.' left after the swap was a thousands separator: the regex refuses it.
        return raw.str.replace_all(".", "#", literal=True).str.replace(",", ".", literal=True)
    return raw


def _money_problem(value: str, template: FileTemplate) -> str:
    sep = template.decimal_separator
    group = "," if sep == "." else "."
    body = value.lstrip("+-")
    if value != value.strip():
        return "has leading or trailing spaces"
    if group in body:
        return f"has a thousands separator {group!r}; write the amount without grouping"
    if re.fullmatch(r"[0-9.,]*[eE][+-]?[0-9]+", body):
        return "uses an exponent; write a plain decimal"
    if body.count(sep) == 1:
        whole, frac = body.split(sep)
        if whole.isdigit() and frac.isdigit() and len(frac) > 2:
            return f"has {len(frac)} decimals; at most 2 are allowed"
        if whole.isdigit() and len(whole) > 16:
            return "is too large (more than 16 digits before the decimal separator)"
    elif body.isdigit() and len(body) > 16:
        return "is too large (more than 16 digits before the decimal separator)"
    return f"is not a decimal amount (digits, optional '-', {sep!r} and at most 2 decimals)"
