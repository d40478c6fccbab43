"""The reconciliation itself: Stampli files <-> ledger files, records <-> ERP documents.

`verify_tenant` takes what is already open (tenant, ledger, ERP adapter, SFTP client) and
reads; it never writes anywhere. Each invariant of reliability.md §1 becomes one check:

- `duplicates` (P1): one of our references on more than one ERP document, or one invoice
  posted twice in the ledger.
- `unknown_to_ledger` (P4): an ERP document with our reference that the ledger does not hold
  as `posted` with that document's id.
- `lost` (P2, P3): an approved invoice that is neither posted nor held with a reason, or one
  the ledger calls posted that the ERP does not have.
- `files_not_terminal` (P2): a ledger file not in a terminal state, or a settled file on the
  Stampli server the ledger never recorded.
- `files_need_attention` (P2): a quarantined file nobody has replaced with a corrected
  export or dismissed with a reason (`verify.attention`): its invoices were never recorded.
- `journal_imbalances` (P5): ERP documents whose debits differ from their credits, or whose
  total differs from the source invoice's.
- `payments_applied`, `payments_unknown_to_ledger`, `open_balances`: the payments' checks
  (issue 15), in `verify/payments.py`.

With `day`, the ledger side is that partition day: its files, its records, their postings and
the ERP documents carrying their references. The ERP is asked only for documents dated in
the window that day needs (`since` = the earliest invoice or posting date of its records), so a
day's check stays fast after years of history. ERP documents carrying a reference the ledger
does not know belong to no day, so those in that window are reported whatever the day (a
verification without `day` reads them all); files on the server have no day yet either, so
they are always compared.
"""

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from bridge_pipelines.erps.base import ErpAdapter, ErpDocumentRef
from bridge_pipelines.erps.external_ref import is_external_ref
from bridge_pipelines.errors import NotSupportedError
from bridge_pipelines.intake.scan import printable_name
from bridge_pipelines.ledger.models import FileRow, PostingRow, RecordRow
from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.ledger.states import (
    TERMINAL_FILE_STATES,
    FileState,
    PostingKind,
    PostingState,
    RecordState,
)
from bridge_pipelines.posting.payment_run import records_payments
from bridge_pipelines.posting.run import posting_target
from bridge_pipelines.stampli.naming import record_name
from bridge_pipelines.tenants.models import FILE_KINDS, TenantConfig
from bridge_pipelines.verify.attention import attention_message, quarantined_files
from bridge_pipelines.verify.payments import payment_checks
from bridge_pipelines.verify.report import (
    CHECK_NAMES,
    DUPLICATES,
    FILES_NEED_ATTENTION,
    FILES_NOT_TERMINAL,
    JOURNAL_IMBALANCES,
    LOST,
    UNKNOWN_TO_LEDGER,
    CheckStatus,
    VerifyReport,
)

INVOICES = "invoices"
HELD_POSTING_STATES = frozenset({PostingState.NEEDS_REVIEW, PostingState.REJECTED})


class RemoteEntryLike(Protocol):
    """A listed remote file (`sftp.client.RemoteEntry` fits)."""

    @property
    def name(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def mtime(self) -> int: ...


class RejectedNameLike(Protocol):
    """A listed name refused as unsafe (`sftp.client.RejectedName` fits)."""

    @property
    def name(self) -> str: ...


class RemoteLister(Protocol):
    """What verify needs of an SFTP connection: one listing per folder (`SftpClient` fits)."""

    def list_files(
        self, folder: str
    ) -> tuple[Sequence[RemoteEntryLike], Sequence[RejectedNameLike]]: ...


def remote_grace(tenant: TenantConfig) -> timedelta:
    """How long a file may sit on the server unrecorded: it settles, then a sensor tick (x2)."""
    return timedelta(seconds=tenant.sftp.settle_seconds + 2 * tenant.schedules.sensor_interval_s)


@dataclass
class _Ledger:
    """The tenant's ledger rows that one verification reads, indexed."""

    files: dict[int, FileRow]
    records: dict[int, RecordRow]
    postings: list[PostingRow]

    def source(self, record: RecordRow) -> str:
        file = self.files.get(record.file_id)
        name = file.name if file else f"file #{record.file_id}"
        return f"{name} rows {list(record.rows)}"


def _day_of_file(file: FileRow, tenant: TenantConfig) -> date:
    if file.partition_day is not None:
        return file.partition_day
    return file.first_seen_at.astimezone(tenant.zone).date()


def _money(value: Any) -> Decimal | None:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return amount if amount.is_finite() else None


def _text(amount: Decimal | None) -> str | None:
    return None if amount is None else format(amount, "f")


def verify_tenant(
    tenant: TenantConfig,
    ledger: Ledger,
    *,
    day: date | None = None,
    adapter: ErpAdapter | None = None,
    sftp: RemoteLister | None = None,
    now: datetime | None = None,
    grace: timedelta | None = None,
    in_flight: timedelta = timedelta(0),
) -> VerifyReport:
    """Reconcile one tenant (one partition day with `day`) and report every broken invariant.

    Args:
        tenant: the tenant's configuration.
        ledger: the ledger to read.
        day: a partition day in the tenant's zone; None verifies everything.
        adapter: the tenant's ERP adapter, open; None for a tenant without an ERP (its ERP
            checks are skipped) or when the ERP is not to be read (they are not checkable).
        sftp: a connection to the tenant's Stampli server; None leaves the server side out
            (`files_not_terminal` then says so in its note).
        now: the instant files on the server are judged at (tests); default: now.
        grace: how long a settled file may wait on the server for the sensor (default
            `remote_grace`).
        in_flight: a ledger file not yet terminal but changed this recently is in progress,
            not a failure. 0 (the default) is strict; the asset check, which runs beside a
            live sensor, passes `remote_grace`.

    Raises:
        BridgeError: the ERP or the server could not be read (never reported as "none").
    """
    report = VerifyReport(tenant=tenant.id, day=day)
    for name in CHECK_NAMES:
        report.check(name)
    target = posting_target(tenant)
    has_erp = tenant.erp.kind != "none"

    all_files = ledger.files(tenant.id)
    rows = _Ledger(
        files={f.id: f for f in all_files},
        records={r.id: r for r in ledger.records(tenant.id, kind=INVOICES)},
        postings=ledger.postings(tenant.id, kind=PostingKind.INVOICE),
    )
    day_files = [f for f in all_files if day is None or _day_of_file(f, tenant) == day]
    day_records = [r for r in rows.records.values() if day is None or r.partition_day == day]
    day_record_ids = {r.id for r in day_records}
    ours = [p for p in rows.postings if p.target == target]
    by_ref = {p.external_ref: p for p in ours}
    day_postings = [p for p in ours if p.record_id in day_record_ids]

    moment = now or datetime.now(UTC)
    _files_check(report, tenant, day_files, all_files, sftp, moment, grace, in_flight)
    _attention_check(report, tenant, ledger, day_files)

    docs: list[ErpDocumentRef] | None = None
    erp_note: str | None = None
    if not has_erp:
        erp_note = "the tenant has no ERP"
    elif adapter is None:
        erp_note = "the ERP was not read"
    else:
        try:
            docs = [
                d
                for d in adapter.read_posted_documents(since=_window_start(day, day_records))
                if d.external_ref and is_external_ref(d.external_ref)
            ]
        except NotSupportedError as exc:
            erp_note = f"the ERP adapter cannot list our documents: {exc}"

    relevant = (
        None
        if docs is None
        else _relevant_documents(tenant.id, docs, by_ref, day_record_ids, day, ledger)
    )
    docs_by_ref: dict[str, list[ErpDocumentRef]] = defaultdict(list)
    for doc in relevant or []:
        assert doc.external_ref is not None
        docs_by_ref[doc.external_ref].append(doc)

    _duplicates_check(report, rows, day_postings, docs_by_ref)
    _lost_check(report, tenant, rows, day_records, ours, docs_by_ref if docs is not None else None)
    if relevant is not None:
        _unknown_check(report, relevant, by_ref, rows)
        _journal_check(report, relevant, by_ref, rows)
    for name in (DUPLICATES, UNKNOWN_TO_LEDGER, JOURNAL_IMBALANCES):
        check = report.check(name)
        if relevant is None:
            if not has_erp:
                check.status, check.note = CheckStatus.SKIPPED, erp_note
            else:
                # The ledger's half of `duplicates` was still checked; the ERP's was not.
                check.status, check.note = CheckStatus.NOT_CHECKABLE, erp_note
    lost = report.check(LOST)
    if not has_erp:
        lost.status, lost.note = CheckStatus.SKIPPED, erp_note
    elif docs is None:
        lost.note = f"{erp_note}; postings the ledger calls posted were not confirmed in the ERP"

    payment_checks(
        report, tenant, ledger, adapter if has_erp else None, day=day,
        recorded=has_erp and records_payments(tenant),
    )  # fmt: skip
    states = Counter(p.state for p in day_postings)
    accepted = [r for r in day_records if r.state == RecordState.ACCEPTED]
    held_records = sum(1 for r in day_records if r.state == RecordState.HELD)
    report.counts = {
        "files": len(day_files),
        "files_terminal": sum(1 for f in day_files if f.state in TERMINAL_FILE_STATES),
        "records": len(day_records),
        "invoices_approved": len(accepted),
        "postings": len(day_postings),
        "posted": states[PostingState.POSTED],
        "held": held_records + sum(states[s] for s in HELD_POSTING_STATES),
        "needs_review": states[PostingState.NEEDS_REVIEW],
        "rejected": states[PostingState.REJECTED],
        "open_postings": sum(
            states[s] for s in (PostingState.PLANNED, PostingState.SENDING, PostingState.UNKNOWN)
        ),
        "erp_documents": len(relevant or []),
        **report.counts,
    }
    return report


def _window_start(day: date | None, day_records: list[RecordRow]) -> date | None:
    """The earliest ERP document date a day's check needs (None: everything, no day).

    A document is dated by its invoice or posting date, which may lie before the partition day
    (an invoice approved late): the window starts at the earliest of these among the day's
    records, so the ERP is asked for that window only, not for years of history.
    """
    if day is None:
        return None
    dates = [day]
    for record in day_records:
        if record.document_day is not None:
            dates.append(record.document_day)
        for name in ("invoice_date", "posting_date"):
            try:
                dates.append(date.fromisoformat(str(record.payload.get(name) or "")[:10]))
            except ValueError:
                continue
    return min(dates)


def _relevant_documents(
    tenant_id: str,
    docs: list[ErpDocumentRef],
    by_ref: dict[str, PostingRow],
    day_record_ids: set[int],
    day: date | None,
    ledger: Ledger,
) -> list[ErpDocumentRef]:
    """The ERP documents this verification answers for (see the module docstring)."""
    relevant = []
    for doc in docs:
        assert doc.external_ref is not None
        posting = by_ref.get(doc.external_ref)
        if posting is None:
            other = ledger.posting_by_ref(doc.external_ref)
            if other is not None and other.tenant != tenant_id:
                continue  # another tenant posting to the same company: its own verify
            relevant.append(doc)
        elif day is None or posting.record_id in day_record_ids:
            relevant.append(doc)
    return relevant


def _files_check(
    report: VerifyReport,
    tenant: TenantConfig,
    day_files: list[FileRow],
    all_files: list[FileRow],
    sftp: RemoteLister | None,
    moment: datetime,
    grace: timedelta | None,
    in_flight: timedelta,
) -> None:
    check = report.check(FILES_NOT_TERMINAL)
    for f in day_files:
        if f.state in TERMINAL_FILE_STATES:
            continue
        if in_flight and moment - f.updated_at < in_flight:
            continue  # settling, or waiting for the run the sensor requested
        check.add(
            f"file #{f.id} {f.folder}/{f.name} is still {f.state.value}"
            + (f" ({f.reason})" if f.reason else ""),
            where="ledger",
            file_id=f.id,
            folder=f.folder,
            name=f.name,
            state=f.state.value,
            first_seen_at=f.first_seen_at.isoformat(),
        )
    if sftp is None:
        check.note = "the Stampli server was not listed"
        return
    wait = remote_grace(tenant) if grace is None else grace
    known = {(f.folder, f.name, f.size, f.mtime) for f in all_files}
    settling = {(f.folder, f.name) for f in all_files if f.state == FileState.SEEN}
    names = {(f.folder, f.name) for f in all_files}
    listed = 0
    for kind in FILE_KINDS:
        folder = tenant.folders.for_kind(kind)
        entries, refused = sftp.list_files(folder)
        listed += len(entries) + len(refused)
        for entry in entries:
            if (folder, entry.name, entry.size, entry.mtime) in known:
                continue
            if (folder, entry.name) in settling:
                continue  # the ledger follows it while it settles
            changed = datetime.fromtimestamp(entry.mtime, UTC)
            if moment - changed < wait:
                continue  # settling, or the sensor has not listed it yet
            check.add(
                f"{folder}/{entry.name} ({entry.size} bytes, modified {changed:%Y-%m-%d %H:%M}"
                " UTC) is on the Stampli server but was never recorded in the ledger",
                where="sftp",
                folder=folder,
                name=entry.name,
                size=entry.size,
                mtime=changed.isoformat(),
            )
        for rejected in refused:
            shown = printable_name(rejected.name)
            if (folder, shown) not in names:
                check.add(
                    f"{folder}/{shown} (a name we refuse) is on the Stampli server but was "
                    "never recorded in the ledger",
                    where="sftp",
                    folder=folder,
                    name=shown,
                )
    report.counts["remote_files"] = listed


def _attention_check(
    report: VerifyReport, tenant: TenantConfig, ledger: Ledger, day_files: list[FileRow]
) -> None:
    check = report.check(FILES_NEED_ATTENTION)
    items = quarantined_files(ledger, tenant.id, tenant=tenant, files=day_files)
    for item in items:
        if item.needs_attention:
            check.add(attention_message(item), **item.to_dict())
    report.counts["files_quarantined"] = len(items)
    report.counts["files_dismissed_or_replaced"] = sum(1 for i in items if not i.needs_attention)


def _duplicates_check(
    report: VerifyReport,
    rows: _Ledger,
    day_postings: list[PostingRow],
    docs_by_ref: dict[str, list[ErpDocumentRef]],
) -> None:
    check = report.check(DUPLICATES)
    by_ref = {p.external_ref: p for p in day_postings}
    for ref, found in sorted(docs_by_ref.items()):
        if len(found) < 2:
            continue
        posting = by_ref.get(ref) or next((p for p in rows.postings if p.external_ref == ref), None)
        record = rows.records.get(posting.record_id) if posting else None
        ids = sorted(d.doc_id for d in found)
        check.add(
            f"reference {ref} is on {len(found)} ERP documents: {', '.join(ids)}"
            + (f" ({record_name(record)})" if record else ""),
            side="erp",
            external_ref=ref,
            erp_documents=ids,
            invoice=record.identity if record else None,
            invoice_name=record_name(record) if record else None,
            record_id=record.id if record else None,
            source=rows.source(record) if record else None,
            posting_id=posting.id if posting else None,
        )
    posted: dict[tuple[str, str], list[PostingRow]] = defaultdict(list)
    names: dict[str, str] = {}
    for p in day_postings:
        record = rows.records.get(p.record_id)
        if p.state == PostingState.POSTED and record is not None:
            posted[(record.identity, p.target)].append(p)
            names[record.identity] = record_name(record)
    for (identity, target), group in sorted(posted.items()):
        if len(group) < 2:
            continue
        check.add(
            f"{names[identity]} is posted {len(group)} times to {target} in the ledger: "
            + ", ".join(f"posting #{p.id} -> {p.erp_doc_id}" for p in group),
            side="ledger",
            invoice=identity,
            invoice_name=names[identity],
            target=target,
            posting_ids=[p.id for p in group],
            erp_documents=[p.erp_doc_id for p in group],
            external_refs=[p.external_ref for p in group],
        )


def _lost_check(
    report: VerifyReport,
    tenant: TenantConfig,
    rows: _Ledger,
    day_records: list[RecordRow],
    postings: Iterable[PostingRow],
    docs_by_ref: dict[str, list[ErpDocumentRef]] | None,
) -> None:
    check = report.check(LOST)
    if tenant.erp.kind == "none":
        return
    by_record = {p.record_id: p for p in postings}
    for record in day_records:
        name = record_name(record)
        where: dict[str, Any] = {
            "record_id": record.id,
            "invoice": record.identity,
            "invoice_name": name,
            "source": rows.source(record),
        }
        if record.state == RecordState.HELD:
            if not record.reason:
                check.add(f"{name} is held without a reason", **where)
            continue
        if record.state != RecordState.ACCEPTED:
            continue  # a duplicate: its original answers for it
        posting = by_record.get(record.id)
        if posting is None:
            check.add(
                f"approved {name} ({where['source']}) has no posting",
                state=None,
                **where,
            )
            continue
        where |= {"posting_id": posting.id, "external_ref": posting.external_ref}
        state = posting.state
        if state == PostingState.POSTED:
            if docs_by_ref is not None and posting.external_ref not in docs_by_ref:
                check.add(
                    f"{name}: the ledger says posted as {posting.erp_doc_id}, "
                    f"but the ERP has no document with reference {posting.external_ref}",
                    state=state.value,
                    erp_document=posting.erp_doc_id,
                    **where,
                )
        elif state in HELD_POSTING_STATES:
            if not (posting.reason or posting.last_response):
                check.add(
                    f"{name}: posting #{posting.id} is {state.value} without a reason",
                    state=state.value,
                    **where,
                )
        else:
            check.add(
                f"{name}: posting #{posting.id} is still {state.value}, "
                "neither posted nor held for review",
                state=state.value,
                **where,
            )


def _unknown_check(
    report: VerifyReport,
    docs: list[ErpDocumentRef],
    by_ref: dict[str, PostingRow],
    rows: _Ledger,
) -> None:
    check = report.check(UNKNOWN_TO_LEDGER)
    for doc in sorted(docs, key=lambda d: (d.external_ref or "", d.doc_id)):
        assert doc.external_ref is not None
        posting = by_ref.get(doc.external_ref)
        where: dict[str, Any] = {
            "erp_document": doc.doc_id,
            "external_ref": doc.external_ref,
            "vendor_code": doc.vendor_code,
            "document_number": doc.document_number,
        }
        if posting is None:
            check.add(
                f"ERP document {doc.doc_id} carries our reference {doc.external_ref}, "
                "which the ledger does not have",
                **where,
            )
            continue
        record = rows.records.get(posting.record_id)
        where |= {
            "posting_id": posting.id,
            "ledger_state": posting.state.value,
            "ledger_erp_document": posting.erp_doc_id,
            "invoice": record.identity if record else None,
            "invoice_name": record_name(record) if record else None,
        }
        of = f" of {record_name(record)}" if record else ""
        if posting.state != PostingState.POSTED:
            check.add(
                f"ERP document {doc.doc_id} ({doc.external_ref}) is in the ERP, but the "
                f"ledger has posting #{posting.id}{of} as {posting.state.value}",
                **where,
            )
        elif posting.erp_doc_id != doc.doc_id:
            check.add(
                f"ERP document {doc.doc_id} ({doc.external_ref}) is not the document the ledger "
                f"recorded for posting #{posting.id}{of} ({posting.erp_doc_id})",
                **where,
            )


def _journal_check(
    report: VerifyReport,
    docs: list[ErpDocumentRef],
    by_ref: dict[str, PostingRow],
    rows: _Ledger,
) -> None:
    check = report.check(JOURNAL_IMBALANCES)
    for doc in sorted(docs, key=lambda d: (d.external_ref or "", d.doc_id)):
        assert doc.external_ref is not None
        where: dict[str, Any] = {
            "erp_document": doc.doc_id,
            "external_ref": doc.external_ref,
            "debits": _text(doc.debit_total),
            "credits": _text(doc.credit_total),
            "erp_total": _text(doc.total),
        }
        if (
            doc.debit_total is not None
            and doc.credit_total is not None
            and doc.debit_total != doc.credit_total
        ):
            check.add(
                f"ERP document {doc.doc_id} ({doc.external_ref}) does not balance: debits "
                f"{doc.debit_total} != credits {doc.credit_total}",
                kind="unbalanced",
                **where,
            )
        posting = by_ref.get(doc.external_ref)
        record = rows.records.get(posting.record_id) if posting else None
        if record is None:
            continue
        source = _money(record.payload.get("invoice_total"))
        if source is None:
            continue
        where |= {
            "source_total": _text(source),
            "invoice": record.identity,
            "invoice_name": record_name(record),
            "source": rows.source(record),
        }
        if doc.total is not None:
            if doc.total != source:
                check.add(
                    f"ERP document {doc.doc_id} totals {doc.total}, the source "
                    f"{record_name(record)} {source}",
                    kind="total_differs",
                    **where,
                )
        elif doc.debit_total is not None and doc.debit_total != abs(source):
            check.add(
                f"ERP document {doc.doc_id} debits {doc.debit_total}, the source "
                f"{record_name(record)} totals {source}",
                kind="total_differs",
                **where,
            )
