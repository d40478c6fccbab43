"""Bounds on what one export may cost us, whatever its bytes say.

A file is refused whole (`FileRejectedError`) only where reading it at all would cost too much
(a header of 400,000 columns); a cell too long refuses its row, located, and the good documents
of the file still flow. Row errors are kept per file up to `MAX_ROW_ERRORS`; the rest are
counted by kind into one summary error, so a file of half a million bad invoices writes a
thousand rows to the ledger, not millions.

With these bounds, parsing takes at most `MEMORY_MULTIPLE` times the file's size in memory
above the interpreter's own (see docs/design-notes.md, "Bounded parsing", for the figures and
`python -m bench.hostile_parse` to measure them again).
"""

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from bridge_pipelines.errors import FileRejectedError

# Every default template has at most 19 columns; a tenant's renames do not add any.
MAX_COLUMNS = 200
# The longest cell we read: descriptions are sentences, not documents.
MAX_CELL_BYTES = 32 * 1024
# Located row errors stored per file; the rest are summarised in one more error.
MAX_ROW_ERRORS = 1_000
# The memory a parse may take above a warmed-up interpreter's: a fixed part, a multiple of the
# file's size and a part per record (CSV record or <Invoice>): polars keeps 16 bytes per string
# cell even when empty, so a 10-byte `<Invoice/>` costs far more than its bytes. Measured
# figures and the command are in docs/design-notes.md ("Bounded parsing").
MEMORY_BASE = 64 * 1024 * 1024
MEMORY_MULTIPLE = 20
MEMORY_PER_RECORD = 2 * 1024


@dataclass(frozen=True)
class CellIssue:
    """A cell refused before any field check: which record, which canonical field, why."""

    row: int
    field: str
    message: str


def check_column_count(count: int, source: str, expected: int) -> None:
    """Refuse a header with more than `MAX_COLUMNS` columns, naming the count.

    Raises:
        FileRejectedError: too many columns.
    """
    if count > MAX_COLUMNS:
        raise FileRejectedError(
            f"{source}: the header has {count:,} columns; at most {MAX_COLUMNS} are read "
            f"(this export has {expected})"
        )


def cap_cells(frame: pl.DataFrame, names: Sequence[str]) -> tuple[pl.DataFrame, list[CellIssue]]:
    """Cut cells longer than `MAX_CELL_BYTES` and say where they were.

    The cut cell keeps its first bytes only, so no later step (a regex, an error message) works
    on the whole of it; its row is refused through the returned issues.
    """
    present = [n for n in names if n in frame.columns and frame.schema[n] == pl.String]
    if not present or frame.height == 0:
        return frame, []
    longest = frame.select(pl.col(present).str.len_bytes().max())
    over = [n for n in present if (longest.get_column(n)[0] or 0) > MAX_CELL_BYTES]
    if not over:
        return frame, []
    issues: list[CellIssue] = []
    for name in over:
        hits = frame.select("source_row", pl.col(name).str.len_bytes().alias("n")).filter(
            pl.col("n") > MAX_CELL_BYTES
        )
        for row, size in hits.iter_rows():
            issues.append(
                CellIssue(
                    row,
                    name,
                    f"is {size:,} bytes long; a cell may hold at most {MAX_CELL_BYTES:,} bytes",
                )
            )
    frame = frame.with_columns(
        pl.when(pl.col(n).str.len_bytes() > MAX_CELL_BYTES)
        .then(pl.col(n).str.slice(0, 60))
        .otherwise(pl.col(n))
        .alias(n)
        for n in over
    )
    return frame, issues
