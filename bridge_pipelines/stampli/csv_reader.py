"""Reading a Stampli CSV export into string cells, every column as text (never inferred).

polars reads the whole file as strings with the header taken as an ordinary record, so header
names are checked by us (duplicates, unknown and missing columns) rather than silently renamed.
UTF-8 (BOM or not), CRLF or LF and RFC 4180 quoting are handled by polars; when it refuses the
file, the file is read again with Python's strict csv module only to say where.
"""

import csv
import io
from collections.abc import Sequence

import polars as pl

from bridge_pipelines.errors import FileRejectedError
from bridge_pipelines.stampli.encoding import check_not_binary, first_invalid_utf8, require_utf8
from bridge_pipelines.stampli.fields import Field
from bridge_pipelines.stampli.limits import MAX_COLUMNS, cap_cells, check_column_count
from bridge_pipelines.stampli.source import SourceFrame
from bridge_pipelines.tenants.models import FileTemplate


def read_csv_source(
    data: bytes,
    *,
    source: str,
    fields: Sequence[Field],
    template: FileTemplate,
    max_rows: int,
) -> SourceFrame:
    """Read `data` as one export with the columns `fields` (renamed per `template`).

    Raises:
        FileRejectedError: empty, binary or non-UTF-8 content, malformed CSV, duplicate,
            unknown or missing columns, or more than `max_rows` data records.
    """
    check_not_binary(data, source)
    check_column_count(_header_width(data), source, len(fields))
    try:
        cells = pl.read_csv(
            data,
            has_header=False,
            infer_schema=False,
            n_rows=max_rows + 2,
            quote_char='"',
            # A quoted empty field ("") is as empty as an unquoted one: writers that quote every
            # field must not turn an empty optional date into '' is not a date.
            null_values=[""],
            raise_if_empty=True,
        )
    except pl.exceptions.NoDataError as exc:
        raise FileRejectedError(f"{source}: empty file (no header row)") from exc
    except pl.exceptions.ComputeError as exc:
        raise _located_csv_error(data, source, exc) from exc
    if cells.height == 0:
        raise FileRejectedError(f"{source}: no header row could be read (malformed CSV)")
    names = [name.strip() if name is not None else "" for name in cells.row(0)]
    display = _map_header(names, fields, template, source)
    rows = cells.height - 1
    if rows > max_rows:
        raise FileRejectedError(
            f"{source}: too many rows (more than {max_rows:,}, the tenant's limit per file)"
        )
    by_default = {f.column: f for f in fields}
    renames = {
        old: by_default[display_default].name
        for old, display_default in zip(cells.columns, _defaults(names, template), strict=True)
    }
    # Built from series, not `with_columns`, which would first align every column's chunks
    # (a copy of all the cells).
    frame = pl.DataFrame(
        [
            *(c.slice(1).alias(renames[c.name]) for c in cells.get_columns()),
            pl.int_range(1, rows + 1, dtype=pl.Int64, eager=True).alias("source_row"),
        ]
    )
    missing = [f.name for f in fields if f.name not in frame.columns]
    if missing:
        frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(n) for n in missing)
    frame = _drop_blank_records(frame, fields)
    frame, too_long = cap_cells(frame, [f.name for f in fields])
    return SourceFrame(frame=frame, display=display, rows_total=frame.height, refused=too_long)


def _header_width(data: bytes) -> int:
    """The number of columns of the header record, read without reading the rest.

    polars sizes its reader on the first record: 400 KB of commas made it take 710 MB. The
    commas of the first line bound the count from above (cheap, C speed); only a line with
    more than `MAX_COLUMNS` of them is read as CSV to count exactly (quoted commas).
    """
    end = data.find(b"\n")
    line = data if end < 0 else data[:end]
    if line.count(b",") < MAX_COLUMNS:
        return line.count(b",") + 1
    text = line.decode("utf-8", "replace").removeprefix("\ufeff")
    try:
        first = next(csv.reader(io.StringIO(text, newline="")), [])
    except csv.Error:
        return line.count(b",") + 1
    return len(first)


def _defaults(names: list[str], template: FileTemplate) -> list[str]:
    return [template.columns.get(name, name) for name in names]


def _map_header(
    names: list[str], fields: Sequence[Field], template: FileTemplate, source: str
) -> dict[str, str]:
    """Canonical name -> the file's column name; refuses unknown, duplicate and missing ones."""
    by_default = {f.column: f for f in fields}
    tenant_name = {default: tenant for tenant, default in template.columns.items()}
    display: dict[str, str] = {}
    unknown: list[str] = []
    for position, (name, default) in enumerate(
        zip(names, _defaults(names, template), strict=True), start=1
    ):
        spec = by_default.get(default)
        if spec is None:
            unknown.append(repr(name) if name else f"(unnamed column {position})")
            continue
        if spec.name in display:
            raise FileRejectedError(
                f"{source}: column {name!r} appears twice in the header "
                f"(as {display[spec.name]!r} and {name!r})"
            )
        display[spec.name] = name
    if unknown:
        raise FileRejectedError(
            f"{source}: unknown column(s) {', '.join(unknown)} in the header; expected only "
            f"{', '.join(tenant_name.get(f.column, f.column) for f in fields)}"
        )
    missing = [
        tenant_name.get(f.column, f.column)
        for f in fields
        if f.name not in display and not f.optional_column
    ]
    if missing:
        raise FileRejectedError(f"{source}: missing required column(s) {', '.join(missing)}")
    for f in fields:
        display.setdefault(f.name, tenant_name.get(f.column, f.column))
    return display


def _drop_blank_records(frame: pl.DataFrame, fields: Sequence[Field]) -> pl.DataFrame:
    """Blank lines carry no data; they keep their record number but are not rows."""
    names = [f.name for f in fields]
    probe = next((f.name for f in fields if f.required), names[0])
    if frame.get_column(probe).null_count() == 0:
        return frame
    return frame.filter(pl.any_horizontal(pl.col(names).is_not_null()))


def _located_csv_error(data: bytes, source: str, exc: Exception) -> FileRejectedError:
    """Say where a file polars refused goes wrong, re-reading it with the strict csv module."""
    if first_invalid_utf8(data) is not None:
        try:
            require_utf8(data, source)
        except FileRejectedError as located:
            return located
    text = data.decode("utf-8").removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    width: int | None = None
    record = 0
    try:
        for fields in reader:
            if width is None:
                width = len(fields)
                continue
            record += 1
            if len(fields) > width:
                return FileRejectedError(
                    f"{source}: malformed CSV at row {record} (line {reader.line_num}): "
                    f"{len(fields)} fields but the header has {width}; quote fields that hold "
                    "commas"
                )
    except csv.Error as err:
        return FileRejectedError(
            f"{source}: malformed CSV at row {record + 1} (line {reader.line_num}): {err}"
        )
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return FileRejectedError(f"{source}: malformed CSV: {first_line}")
