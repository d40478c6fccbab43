"""Canonical content of a document: the text form of typed values, its JSON text and sha256.

The hash is the sha256 of the canonical JSON text (sorted keys, no spaces, UTF-8, non-ASCII
kept) of a payload of plain strings and ints, so it depends on no library's formatting beyond
the text form of values fixed here (money "1090.00", dates ISO, timestamps in UTC
"2026-11-21T18:02:11+00:00"). That text is what Python's `json.dumps(sort_keys=True,
separators=(",", ":"), ensure_ascii=False)` writes; `json_string` / `json_int` write the same
text with polars expressions, so a whole file's documents are serialized without a Python loop.
A golden test pins a known invoice's hash: changing any of this would make every re-exported
document look changed.
"""

import hashlib
import json
from typing import Any

import polars as pl

TIMESTAMP_TEXT = "%Y-%m-%dT%H:%M:%S%.f%:z"

# What json.dumps(ensure_ascii=False) escapes in a string: '"', '\\' and the C0 controls.
_JSON_ESCAPES: dict[str, str] = {chr(c): f"\\u{c:04x}" for c in range(0x20)} | {
    "\\": "\\\\",
    '"': '\\"',
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}


def as_text(schema: pl.Schema, column: str) -> pl.Expr:
    """Column `column` as its canonical text (strings and ints unchanged)."""
    dtype = schema[column]
    if isinstance(dtype, pl.Datetime):
        return pl.col(column).dt.to_string(TIMESTAMP_TEXT)
    if dtype == pl.String or dtype.is_integer():
        return pl.col(column)
    return pl.col(column).cast(pl.String)


def json_value(schema: pl.Schema, column: str) -> pl.Expr:
    """The JSON text of column `column`'s canonical value (`null` for a missing one)."""
    if schema[column].is_integer():
        return pl.col(column).cast(pl.String).fill_null(pl.lit("null"))
    text = as_text(schema, column).str.replace_many(
        list(_JSON_ESCAPES), list(_JSON_ESCAPES.values())
    )
    return pl.concat_str(pl.lit('"'), text, pl.lit('"')).fill_null(pl.lit("null"))


def json_object(schema: pl.Schema, columns: dict[str, pl.Expr | None]) -> pl.Expr:
    """The JSON object text of `columns`, keys sorted as `json.dumps(sort_keys=True)` does.

    `columns` maps each key to the expression of its JSON text, or to None for the canonical
    value of the column of that name.
    """
    parts: list[pl.Expr] = []
    for index, key in enumerate(sorted(columns)):
        parts.append(pl.lit(("{" if index == 0 else ",") + json.dumps(key) + ":"))
        value = columns[key]
        parts.append(json_value(schema, key) if value is None else value)
    parts.append(pl.lit("}"))
    return pl.concat_str(parts)


def canonical_json(payload: dict[str, Any]) -> str:
    """The canonical JSON text of a payload: sorted keys, no spaces, non-ASCII kept."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_hex(text: str) -> str:
    """sha256 of `text` as UTF-8, in hex."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def content_hash(payload: dict[str, Any]) -> str:
    """sha256 of the canonical JSON (sorted keys, no spaces, UTF-8) of a payload."""
    return sha256_hex(canonical_json(payload))
