"""Taking a tenant's pending files: download, archive, parse, validate, record.

One call handles every pending file of one kind for one tenant-day, so re-running a failed
partition simply finishes whatever is still pending; the ledger makes a second pass harmless.
"""

import logging
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl

from bridge_pipelines.errors import (
    FileRejectedError,
    FileUnstableError,
    FileVanishedError,
)
from bridge_pipelines.faultpoints import fault_point
from bridge_pipelines.intake.runtime import Runtime
from bridge_pipelines.ledger.models import DocumentIn, FileRow, RowErrorIn
from bridge_pipelines.sftp.archive import archive_file
from bridge_pipelines.sftp.client import RemoteEntry, SftpClient
from bridge_pipelines.stampli.parse import ParsedDocument, ParseResult, RowError, parse_export
from bridge_pipelines.tenants.models import FileKind, TenantConfig

log = logging.getLogger(__name__)


@dataclass
class FileOutcome:
    """What happened to one file in this pass, for metadata and the CLI."""

    file_id: int
    name: str
    state: str
    reason: str | None = None
    rows_total: int = 0
    rows_rejected: int = 0
    documents: int = 0
    duplicates: int = 0
    held: int = 0


@dataclass
class KindReport:
    """Everything one pass over a tenant-day-kind produced."""

    tenant: str
    kind: FileKind
    day: date | None
    files: list[FileOutcome] = field(default_factory=list)
    frames: list[pl.DataFrame] = field(default_factory=list)
    row_errors: list[RowError] = field(default_factory=list)
    left_pending: list[str] = field(default_factory=list)

    @property
    def frame(self) -> pl.DataFrame | None:
        """The canonical rows accepted in this pass, all files together."""
        frames = [f for f in self.frames if f.height]
        return pl.concat(frames, how="vertical_relaxed") if frames else None


def process_pending(
    ctx: Runtime, tenant: TenantConfig, kind: FileKind, day: date | None
) -> KindReport:
    """Take every pending file of `kind` for the tenant-day; returns what happened."""
    report = KindReport(tenant=tenant.id, kind=kind, day=day)
    pending = ctx.ledger.pending_files(tenant.id, kind, day)
    if not pending:
        return report
    with ctx.sftp(tenant) as client:
        for row in pending:
            _take_file(ctx, tenant, client, row, report)
    return report


def _take_file(
    ctx: Runtime, tenant: TenantConfig, client: SftpClient, row: FileRow, report: KindReport
) -> None:
    ledger = ctx.ledger
    if row.state == "stable":
        expected = RemoteEntry(name=row.name, size=row.size, mtime=row.mtime)
        try:
            downloaded = client.download(
                row.folder,
                row.name,
                ctx.work_dir,
                max_bytes=tenant.sftp.max_file_bytes,
                expected=expected,
            )
        except FileVanishedError as exc:
            done = ledger.mark_vanished(row.id, str(exc))
            report.files.append(FileOutcome(row.id, row.name, done.state, done.reason))
            return
        except FileUnstableError as exc:
            # Still being written: leave it pending, the next pass takes it once it settles.
            report.left_pending.append(f"{row.name}: {exc}")
            return
        except FileRejectedError as exc:
            done = ledger.mark_quarantined(row.id, str(exc))
            report.files.append(FileOutcome(row.id, row.name, done.state, done.reason))
            return
        fault_point("after_download")
        try:
            archived = archive_file(downloaded.path, downloaded.sha256, ctx.archive_dir)
        finally:
            downloaded.path.unlink(missing_ok=True)
        row = ledger.mark_downloaded(
            row.id, sha256=downloaded.sha256, size=downloaded.size, archive_path=str(archived)
        )
        if row.state == "duplicate":
            report.files.append(FileOutcome(row.id, row.name, row.state, row.reason))
            return
        if tenant.sftp.delete_after_download:
            client.remove(row.folder, row.name)
    _parse_and_record(ctx, tenant, row, report)


def _parse_and_record(ctx: Runtime, tenant: TenantConfig, row: FileRow, report: KindReport) -> None:
    """Parse the archived copy (never the remote file again) and record it atomically."""
    ledger = ctx.ledger
    assert row.archive_path is not None
    data = Path(row.archive_path).read_bytes()
    template = getattr(tenant.templates, row.kind)
    try:
        parsed = parse_export(
            report.kind,
            data,
            source=row.name,
            template=template,
            max_rows=tenant.max_rows_per_file,
        )
    except FileRejectedError as exc:
        done = ledger.mark_quarantined(row.id, str(exc))
        log.warning("tenant %s: file %s quarantined: %s", tenant.id, row.name, exc)
        report.files.append(FileOutcome(row.id, row.name, done.state, done.reason))
        return
    fault_point("after_parse")
    outcome = ledger.complete_parse(
        row.id,
        documents=[_document_in(d) for d in parsed.documents],
        row_errors=[RowErrorIn(e.row, e.field, e.message, e.document) for e in parsed.errors],
        rows_total=parsed.rows_total,
        rows_rejected=parsed.rows_rejected,
    )
    for error in parsed.errors:
        log.warning("tenant %s: %s", tenant.id, error)
    report.frames.append(parsed.frame)
    report.row_errors.extend(parsed.errors)
    report.files.append(
        FileOutcome(
            row.id,
            row.name,
            "parsed",
            _summary(parsed),
            rows_total=parsed.rows_total,
            rows_rejected=parsed.rows_rejected,
            documents=outcome.accepted,
            duplicates=outcome.duplicates,
            held=outcome.held,
        )
    )


def _document_in(doc: ParsedDocument) -> DocumentIn:
    return DocumentIn(
        kind=doc.kind,
        identity=doc.identity,
        content_hash=doc.content_hash,
        rows=doc.rows,
        payload=doc.payload,
        document_day=doc.document_day,
        amount=doc.amount,
        currency=doc.currency,
    )


def _summary(parsed: ParseResult) -> str | None:
    if not parsed.errors:
        return None
    return (
        f"{parsed.rows_rejected} of {parsed.rows_total} rows rejected ({len(parsed.errors)} errors)"
    )


def total_amount(frame: pl.DataFrame | None, column: str) -> Decimal:
    """Sum a money column exactly (Decimal), for materialization metadata."""
    if frame is None or column not in frame.columns or frame.height == 0:
        return Decimal("0")
    value = frame.get_column(column).sum()
    return Decimal(str(value)) if value is not None else Decimal("0")
