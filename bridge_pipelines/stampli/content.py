"""Canonical content of a document: the text form of typed values and its sha256.

The hash is computed with Python's json module over plain strings and ints, so it depends on no
library's formatting beyond the text form of values fixed here (money "1090.00", dates ISO,
timestamps in UTC "2026-11-21T18:02:11+00:00"). A golden test pins a known invoice's hash:
changing any of this would make every re-exported document look changed.
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


def content_hash(payload: dict[str, Any]) -> str:
    """sha256 of the canonical JSON (sorted keys, no spaces, UTF-8) of a payload."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
