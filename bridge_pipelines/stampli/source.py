"""The text of one export, before any field is checked: a frame of string cells."""

from dataclasses import dataclass, field

import polars as pl

from bridge_pipelines.stampli.limits import CellIssue


@dataclass(frozen=True)
class SourceFrame:
    """String cells under canonical column names, plus where each came from.

    Attributes:
        frame: One row per record (CSV) or invoice line (XML); every field a `pl.String`
            column named canonically, and `source_row` (Int64, 1-based record / `<Invoice>`).
        display: Canonical name -> the name the file uses (tenant column, or XML path), so
            messages name what the user sees.
        rows_total: Data records in the file (CSV records, or `<Invoice>` elements).
        refused: Cells refused while reading (too long); their rows are refused, located.
    """

    frame: pl.DataFrame
    display: dict[str, str]
    rows_total: int
    refused: list[CellIssue] = field(default_factory=list)
