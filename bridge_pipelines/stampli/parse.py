"""Parsing and validating one Stampli export: the entry point intake and asset checks call.

`parse_export` either refuses the whole file (`FileRejectedError`, naming the file and, where it
applies, the column, line or byte) or returns every data row accounted for: accepted rows in a
typed canonical frame, refused rows as located `RowError`s (a bad line refuses its whole
invoice; the other invoices flow), so `rows_total == rows_accepted + rows_rejected`.

Work is vectorized in polars; Python objects are built only per failing cell and, lazily, per
document (`ParseResult.documents`). The accepted frame is validated once more with the pandera
model of its kind; a failure there is a parser bug, and its documents are refused, not passed.
"""

from collections import Counter
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Any, Literal, cast

import polars as pl

from bridge_pipelines.errors import FileRejectedError
from bridge_pipelines.stampli import invoices
from bridge_pipelines.stampli.csv_reader import read_csv_source
from bridge_pipelines.stampli.encoding import BOM
from bridge_pipelines.stampli.gl_accounts import GL_ACCOUNTS
from bridge_pipelines.stampli.grouping import with_runs
from bridge_pipelines.stampli.models import ParsedDocument, ParseResult, RowError
from bridge_pipelines.stampli.payments import PAYMENTS
from bridge_pipelines.stampli.records import (
    IDENTITY,
    RecordKind,
    build_documents,
    duplicate_verdict,
    with_identity,
)
from bridge_pipelines.stampli.schemas import validate_frame
from bridge_pipelines.stampli.source import SourceFrame
from bridge_pipelines.stampli.validate import (
    ROW_BAD,
    Issue,
    Verdict,
    cap_errors,
    check_rows,
    finish,
)
from bridge_pipelines.stampli.vendors import VENDORS
from bridge_pipelines.stampli.xml_reader import read_invoices_xml
from bridge_pipelines.tenants.models import FILE_KINDS, FileKind, FileTemplate

__all__ = ["ParseResult", "ParsedDocument", "RowError", "detect_format", "parse_export"]

Format = Literal["csv", "xml"]
RECORD_KINDS: dict[str, RecordKind] = {
    "payments": PAYMENTS,
    "vendors": VENDORS,
    "gl_accounts": GL_ACCOUNTS,
}


def detect_format(data: bytes, source: str) -> Format:
    """`.csv` / `.xml` from the name; otherwise XML when the text starts with '<'."""
    suffix = PurePosixPath(source).suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix == ".xml":
        return "xml"
    head = data[:4096].removeprefix(BOM).lstrip()
    return "xml" if head.startswith(b"<") else "csv"


def parse_export(
    kind: FileKind,
    data: bytes,
    *,
    source: str,
    template: FileTemplate = FileTemplate(),  # noqa: B008 - frozen, never mutated
    max_rows: int = 2_000_000,
    fmt: Format | None = None,
) -> ParseResult:
    """Parse and validate one export of `kind`.

    Args:
        kind: Which export this is.
        data: The file's bytes (the archived copy).
        source: The file name, used in every message.
        template: The tenant's column renames, date format and decimal separator.
        max_rows: Data records (CSV) or invoices (XML) above which the file is refused.
        fmt: "csv" or "xml"; detected from `source` or the content when None.

    Returns:
        The accepted canonical frame, the located errors and (lazily) the documents.

    Raises:
        FileRejectedError: the whole file is refused; the message names the file and where.
    """
    if kind not in FILE_KINDS:
        raise FileRejectedError(f"{source}: unknown export kind {kind!r}")
    fmt = fmt or detect_format(data, source)
    if fmt not in ("csv", "xml"):
        raise FileRejectedError(f"{source}: unsupported format {fmt!r} (csv or xml)")
    if kind == "invoices":
        # No local name keeps the string cells alive: _parse_invoices drops them early.
        return _parse_invoices(
            read_invoices_xml(data, source=source, max_rows=max_rows)
            if fmt == "xml"
            else read_csv_source(
                data, source=source, fields=invoices.FIELDS, template=template, max_rows=max_rows
            ),
            source,
            template,
        )
    if fmt == "xml":
        raise FileRejectedError(
            f"{source}: XML is supported for approved invoices only; {kind} exports are CSV"
        )
    record_kind = RECORD_KINDS[kind]
    src = read_csv_source(
        data, source=source, fields=record_kind.fields, template=template, max_rows=max_rows
    )
    return _parse_records(record_kind, src, source, template)


def _parse_invoices(src: SourceFrame, source: str, template: FileTemplate) -> ParseResult:
    grouped = SourceFrame(
        with_runs(src.frame, "invoice_id"), src.display, src.rows_total, src.refused
    )
    checked = check_rows(
        grouped,
        invoices.FIELDS,
        invoices.ROW_RULES,
        template,
        shared=invoices.HEADER,
        key="invoice_id",
    )
    assert checked.heads is not None
    display, rows_total = src.display, src.rows_total
    del src, grouped  # the string cells: let them go before the canonical copy is made
    verdict = invoices.document_rules(checked.frame, checked.heads, display)
    accepted, errors = finish(
        source=source,
        frame=checked.frame,
        key="invoice_id",
        label=invoices.label,
        issues=checked.issues,
        verdict=verdict,
        display=display,
        noun="invoice",
        omitted=checked.omitted,
    )
    omitted = checked.omitted
    del checked
    frame = invoices.canonical_frame(accepted, source)
    del accepted
    frame, late = _schema_pass("invoices", frame, "invoice_id", invoices.label, display, source)
    return _result(
        "invoices", source, frame, errors + late, rows_total, invoices.build_documents, omitted
    )


def _parse_records(
    kind: RecordKind, src: SourceFrame, source: str, template: FileTemplate
) -> ParseResult:
    checked = check_rows(src, kind.fields, kind.rules, template)
    frame = with_identity(kind, checked.frame)
    accepted, errors = finish(
        source=source,
        frame=frame,
        key=IDENTITY,
        label=kind.label,
        issues=checked.issues,
        verdict=duplicate_verdict(kind, frame),
        display=src.display,
        noun=kind.noun,
        omitted=checked.omitted,
    )
    canonical = accepted.with_columns(pl.lit(source, dtype=pl.String).alias("source_file")).select(
        kind.columns
    )
    canonical, late = _schema_pass(
        kind.kind, canonical, IDENTITY, kind.label, src.display, source, identity=kind
    )
    return _result(
        kind.kind,
        source,
        canonical,
        errors + late,
        src.rows_total,
        lambda f: build_documents(kind, f),
        checked.omitted,
    )


def _schema_pass(
    kind: str,
    frame: pl.DataFrame,
    key: str,
    label: Callable[[Any], str | None],
    display: dict[str, str],
    source: str,
    identity: RecordKind | None = None,
) -> tuple[pl.DataFrame, list[RowError]]:
    """Run pandera over the accepted frame; documents it fails are refused, never passed on."""
    failures = validate_frame(cast(FileKind, kind), frame, source=source) if frame.height else []
    if not failures:
        return frame, []
    keyed = with_identity(identity, frame) if identity is not None else frame
    issues = [Issue(f.row, f.field, f"internal check failed ({f.message})") for f in failures]
    rows = {f.row for f in failures}
    rejected = set(keyed.filter(pl.col("source_row").is_in(list(rows))).get_column(key))
    if any(f.row is None for f in failures):
        rejected = set(keyed.get_column(key))
    accepted, errors = finish(
        source=source,
        frame=keyed.with_columns(pl.lit(False).alias(ROW_BAD)),
        key=key,
        label=label,
        issues=[],
        verdict=Verdict(rejected=rejected, issues=[i for i in issues if i.row is not None]),
        display=display,
        noun="document",
    )
    return accepted.select(frame.columns), errors


def _result(
    kind: str,
    source: str,
    frame: pl.DataFrame,
    errors: list[RowError],
    rows_total: int,
    build: Callable[[pl.DataFrame], list[ParsedDocument]],
    omitted: Counter[str],
) -> ParseResult:
    kept, capped = cap_errors(errors, omitted, source)
    result = ParseResult(
        kind=kind,
        source=source,
        frame=frame,
        errors=kept,
        rows_total=rows_total,
        _build_documents=lambda: build(frame),
    )
    if capped:
        # Not every refused row has an error of its own any more: count them from the frame.
        result.rows_rejected_count = rows_total - result.rows_accepted
    return result
