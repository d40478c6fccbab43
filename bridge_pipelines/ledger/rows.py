"""Result rows as the ledger's frozen dataclasses, with their states as enums."""

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

from bridge_pipelines.ledger.models import FileRow, PostingRow, RecordRow
from bridge_pipelines.ledger.states import FileState, PostingKind, PostingState, RecordState

T = TypeVar("T")


def from_row(cls: type[T], r: Mapping[Any, Any], **converted: Any) -> T:
    """A result row as one of our frozen dataclasses; `converted` overrides raw column values."""
    values = {
        f.name: r[f.name]
        for f in dataclasses.fields(cls)  # type: ignore[arg-type]
        if f.name in r and f.name not in converted
    }
    return cls(**values, **converted)


def file_row(r: Mapping[Any, Any]) -> FileRow:
    """A `files` row."""
    return from_row(FileRow, r, state=FileState(r["state"]))


def record_row(r: Mapping[Any, Any]) -> RecordRow:
    """A `records` row; its source rows as a tuple."""
    return from_row(RecordRow, r, state=RecordState(r["state"]), rows=tuple(r["rows"]))


def posting_row(r: Mapping[Any, Any], *, claimed_from: PostingState | None = None) -> PostingRow:
    """A `postings` row; `claimed_from` is the state a claim took it from, if any."""
    return from_row(
        PostingRow,
        r,
        state=PostingState(r["state"]),
        claimed_from=claimed_from,
        kind=PostingKind(r["kind"]) if "kind" in r else PostingKind.INVOICE,
    )
