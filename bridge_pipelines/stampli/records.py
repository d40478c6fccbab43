"""Exports where one row is one document (payments, vendors, GL accounts).

Each kind declares its fields, row rules, identity and the columns that feed the ledger; the
shared code here refuses identities that appear twice in one file (which one would be right?)
and builds the documents.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import polars as pl

from bridge_pipelines.stampli.content import as_text
from bridge_pipelines.stampli.fields import Field
from bridge_pipelines.stampli.models import ParsedDocument
from bridge_pipelines.stampli.validate import Issue, RowRule, Verdict

IDENTITY = "__identity"


@dataclass(frozen=True)
class RecordKind:
    """How one single-row export kind is checked and turned into documents.

    Attributes:
        kind: The FileKind.
        noun: What one document is called in messages ("payment").
        fields: Its columns.
        identity: Expression over canonical typed columns giving the document identity.
        rules: Cross-field row rules.
        day: Column giving `document_day` (a date or a UTC timestamp), if any.
        amount: Money column giving `amount`, if any.
        currency: Column giving `currency`, if any.
    """

    kind: str
    noun: str
    fields: tuple[Field, ...]
    identity: Callable[[pl.Schema], pl.Expr]
    rules: tuple[RowRule, ...] = ()
    day: str | None = None
    amount: str | None = None
    currency: str | None = None
    names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", tuple(f.name for f in self.fields))

    @property
    def columns(self) -> tuple[str, ...]:
        """Canonical frame columns, in order."""
        return (*self.names, "source_file", "source_row")

    def label(self, identity: Any) -> str | None:
        return f"{self.noun} {identity}" if identity is not None else None


def with_identity(kind: RecordKind, frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with the document identity in column `IDENTITY`."""
    return frame.with_columns(kind.identity(frame.schema).alias(IDENTITY))


def duplicate_verdict(kind: RecordKind, frame: pl.DataFrame) -> Verdict:
    """Refuse every row of an identity that appears on more than one row of the file."""
    verdict = Verdict()
    dupes = frame.filter(pl.col(IDENTITY).is_not_null() & pl.col(IDENTITY).is_duplicated())
    if dupes.height == 0:
        return verdict
    rows_of: dict[Any, list[int]] = {}
    for identity, row in dupes.select(IDENTITY, "source_row").sort("source_row").iter_rows():
        rows_of.setdefault(identity, []).append(row)
    for identity, rows in rows_of.items():
        verdict.rejected.add(identity)
        for row in rows:
            others = ", ".join(str(r) for r in rows if r != row)
            verdict.issues.append(
                Issue(
                    row,
                    kind.fields[0].name,
                    f"{kind.noun} {identity!r} appears more than once in this file "
                    f"(also row {others}); which one is right cannot be told",
                )
            )
    return verdict


def build_documents(kind: RecordKind, frame: pl.DataFrame) -> list[ParsedDocument]:
    """One document per accepted row, payload holding every field as canonical text."""
    if frame.height == 0:
        return []
    text = frame.select(
        *(as_text(frame.schema, name) for name in kind.names),
        kind.identity(frame.schema).alias(IDENTITY),
        pl.col("source_row"),
    )
    documents: list[ParsedDocument] = []
    for row in text.iter_rows(named=True):
        payload = {name: row[name] for name in kind.names}
        documents.append(
            ParsedDocument.of(
                kind=kind.kind,
                identity=row[IDENTITY],
                rows=(row["source_row"],),
                payload=payload,
                document_day=_day(row[kind.day]) if kind.day else None,
                amount=Decimal(row[kind.amount]) if kind.amount else None,
                currency=row[kind.currency] if kind.currency else None,
            )
        )
    return documents


def _day(text: str | None) -> date | None:
    if text is None:
        return None
    if len(text) == 10:
        return date.fromisoformat(text)
    return datetime.fromisoformat(text).date()


def identity_of(*names: str, timestamps: Sequence[str] = ()) -> Callable[[pl.Schema], pl.Expr]:
    """Identity = the named columns joined by '|'; timestamps in their canonical UTC text."""

    def build(schema: pl.Schema) -> pl.Expr:
        parts = [as_text(schema, n) if n in timestamps else pl.col(n) for n in names]
        return pl.concat_str(parts, separator="|") if len(parts) > 1 else parts[0]

    return build
