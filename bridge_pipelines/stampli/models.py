"""What a parse yields: accepted canonical rows, one object per source document, located errors.

`ParseResult.documents` is built on first access: the canonical frame is what parsing produces
(vectorized, in polars), while documents are Python objects (a payload dict and a sha256 per
invoice) that only the ledger needs. Building them lazily keeps a caller that only wants the
frame (asset checks, previews) from paying for a million line dicts.
"""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple

import polars as pl

from bridge_pipelines.stampli.content import canonical_json


@dataclass(frozen=True)
class RowError:
    """One refused row of a tenant's file, located so the user can find and fix it.

    Attributes:
        source: The file name as the tenant sees it.
        row: 1-based data record in the file (header excluded, a quoted line break does not
            start a record); for XML, the 1-based `<Invoice>` index. None for file-wide problems.
        field: The column as named in the file (the tenant's name, not ours).
        message: What is wrong, quoting the offending value.
        document: The document the row belongs to, e.g. "invoice STI-1001".
    """

    source: str
    row: int | None
    field: str | None
    message: str
    document: str | None = None

    def __str__(self) -> str:
        where = self.source
        if self.row is not None:
            where += f" row {self.row}"
        if self.field is not None:
            where += f", field {self.field}"
        suffix = f" ({self.document})" if self.document else ""
        return f"{where}: {self.message}{suffix}"


class ParsedDocument(NamedTuple):
    """One source document (an invoice with its lines, a payment, a vendor, a GL account).

    The document is carried as its canonical JSON (`payload_json`, UTF-8 bytes, sorted keys,
    no spaces, non-ASCII as is), which is what `content_hash` is the sha256 of: building the text
    for a whole file is vectorized in polars, while a Python dict per document (and per
    invoice line) is made only when `payload` is read, each time it is read (not cached: a
    million-line file's dicts would double its memory). `content_hash` covers the business
    content only (never the file name or row numbers), so the same document exported again
    unchanged hashes the same and any change shows. A named tuple, not a frozen dataclass:
    as immutable, and made three times faster (a file may hold 200,000 invoices).
    """

    kind: str
    identity: str
    content_hash: str
    rows: tuple[int, ...]
    payload_json: bytes
    document_day: date | None = None
    amount: Decimal | None = None
    currency: str | None = None

    @classmethod
    def of(
        cls,
        *,
        kind: str,
        identity: str,
        rows: tuple[int, ...],
        payload: dict[str, Any],
        document_day: date | None = None,
        amount: Decimal | None = None,
        currency: str | None = None,
    ) -> "ParsedDocument":
        """A document from its payload dict (strings, ints and None only)."""
        text = canonical_json(payload).encode("utf-8")
        return cls(
            kind=kind,
            identity=identity,
            content_hash=hashlib.sha256(text).hexdigest(),
            rows=rows,
            payload_json=text,
            document_day=document_day,
            amount=amount,
            currency=currency,
        )

    def __repr__(self) -> str:
        return (
            f"ParsedDocument(kind={self.kind!r}, identity={self.identity!r}, "
            f"content_hash={self.content_hash!r}, rows={self.rows!r})"
        )

    @property
    def payload(self) -> dict[str, Any]:
        """The canonical content as a new dict (amounts and dates as text)."""
        value: dict[str, Any] = json.loads(self.payload_json)
        return value


@dataclass
class ParseResult:
    """Everything one file yields; `rows_total == rows_accepted + rows_rejected`."""

    kind: str
    source: str
    frame: pl.DataFrame
    errors: list[RowError]
    rows_total: int
    _build_documents: Callable[[], list[ParsedDocument]] = field(repr=False, default=list)
    _documents: list[ParsedDocument] | None = field(repr=False, default=None)
    rows_rejected_count: int | None = None

    @property
    def documents(self) -> list[ParsedDocument]:
        """The accepted documents, in file order; built once, on first access."""
        if self._documents is None:
            self._documents = self._build_documents()
        return self._documents

    @property
    def rows_accepted(self) -> int:
        if self.frame.height == 0:
            return 0
        return int(self.frame.get_column("source_row").n_unique())

    @property
    def rows_rejected(self) -> int:
        """Rows refused; counted from the frame when the errors were capped (`limits.py`)."""
        if self.rows_rejected_count is not None:
            return self.rows_rejected_count
        return len({e.row for e in self.errors if e.row is not None})
