"""Canonical content of a document: the text form of typed values, its JSON text and sha256.

The hash is the sha256 of the canonical JSON text (sorted keys, no spaces, UTF-8, non-ASCII
kept) of a payload of plain strings and ints, so it depends on no library's formatting beyond
the text form of values fixed here (money "1090.00", dates ISO, timestamps in UTC
"2026-11-21T18:02:11+00:00"). That text is what Python's `json.dumps(sort_keys=True,
separators=(",", ":"), ensure_ascii=False)` writes; `json_object` writes the same text with
polars expressions (`json_encode`), so a whole file's documents are serialized without a
Python loop.
A golden test pins a known invoice's hash: changing any of this would make every re-exported
document look changed.
"""

import hashlib
import json
from typing import Any

import polars as pl

TIMESTAMP_TEXT = "%Y-%m-%dT%H:%M:%S%.f%:z"


def as_text(schema: pl.Schema, column: str) -> pl.Expr:
    """Column `column` as its canonical text (strings and ints unchanged)."""
    dtype = schema[column]
    if isinstance(dtype, pl.Datetime):
        return pl.col(column).dt.to_string(TIMESTAMP_TEXT)
    if dtype == pl.String or dtype.is_integer():
        return pl.col(column)
    return pl.col(column).cast(pl.String)


def json_object(schema: pl.Schema, columns: dict[str, pl.Expr | None]) -> pl.Expr:
    """The JSON object text of `columns`, keys sorted as `json.dumps(sort_keys=True)` does.

    `columns` maps each key to an expression giving its value's JSON text as is, or to None
    for the canonical value of the column of that name (text, or a number for integers),
    which polars' `json_encode` writes: it escapes strings as `json.dumps(ensure_ascii=False)`
    does (a test holds it to that).
    """
    parts: list[pl.Expr] = []
    plain: list[str] = []

    def flush() -> None:
        if plain:
            values = [
                pl.col(k) if schema[k].is_integer() else as_text(schema, k).alias(k) for k in plain
            ]
            encoded = pl.struct(values).struct.json_encode()
            parts.append(encoded.str.strip_prefix("{").str.strip_suffix("}"))
            plain.clear()

    for key in sorted(columns):
        value = columns[key]
        if value is None:
            plain.append(key)
            continue
        flush()
        parts.append(pl.concat_str(pl.lit(json.dumps(key) + ":"), value))
    flush()
    return pl.concat_str(pl.lit("{"), pl.concat_str(parts, separator=","), pl.lit("}"))


def canonical_json(payload: dict[str, Any]) -> str:
    """The canonical JSON text of a payload: sorted keys, no spaces, non-ASCII kept."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_hex(text: str) -> str:
    """sha256 of `text` as UTF-8, in hex."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def content_hash(payload: dict[str, Any]) -> str:
    """sha256 of the canonical JSON (sorted keys, no spaces, UTF-8) of a payload."""
    return sha256_hex(canonical_json(payload))
