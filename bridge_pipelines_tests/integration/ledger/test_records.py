"""Record dedup: the same invoice again is a duplicate; changed, it is held with both versions."""

import threading
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from bridge_pipelines.ledger.errors import InvalidTransitionError, UnknownEntityError
from bridge_pipelines.ledger.models import DocumentIn, RecordOutcome, RowErrorIn
from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.ledger.states import FileState, RecordState
from bridge_pipelines_tests.integration.ledger.conftest import stable_file


def invoice(number: str, total: str, *, memo: str = "office chairs", rows=(1,)) -> DocumentIn:
    payload = {"vendor": "V-100", "number": number, "total": Decimal(total), "memo": memo}
    content = f"{number}|{total}|{memo}"
    return DocumentIn(
        kind="invoice",
        identity=f"V-100|{number}|invoice",
        content_hash=content,
        rows=tuple(rows),
        payload=payload,
        document_day=date(2025, 3, 1),
        amount=Decimal(total),
        currency="USD",
    )


_sha = iter(f"{i:064x}" for i in range(1, 10_000))


def downloaded(ledger: Ledger, name: str, tenant: str = "acme") -> int:
    row = stable_file(ledger, name, tenant=tenant)
    ledger.mark_downloaded(row.id, sha256=next(_sha), size=100, archive_path=f"/a/{name}")
    return row.id


def test_first_time_documents_are_accepted_with_exact_amounts(ledger: Ledger) -> None:
    file_id = downloaded(ledger, "monday.csv")
    docs = [invoice("INV-1", "1234567890123456.789", rows=(1, 2)), invoice("INV-2", "-0.01")]
    outcome = ledger.complete_parse(
        file_id,
        documents=docs,
        row_errors=[RowErrorIn(3, "amount", "3 decimals", "INV-3")],
        rows_total=3,
    )
    assert outcome == RecordOutcome(accepted=2, duplicates=0, held=0)
    first, second = ledger.records("acme", file_id=file_id)
    assert first.amount == Decimal("1234567890123456.789")
    assert str(second.amount) == "-0.01"
    assert first.payload["total"] == "1234567890123456.789"
    assert (first.rows, first.state, first.document_day) == (
        (1, 2),
        RecordState.ACCEPTED,
        date(2025, 3, 1),
    )
    file = ledger.get_file(file_id)
    assert (file.state, file.rows_total, file.rows_rejected) == (FileState.PARSED, 3, 1)
    assert first.partition_day == file.partition_day
    (error,) = ledger.row_errors("acme", file_id=file_id)
    assert (error.file_name, error.row, error.field, error.document) == (
        "monday.csv",
        3,
        "amount",
        "INV-3",
    )


def test_the_same_invoice_again_is_a_duplicate_and_a_changed_one_is_held(ledger: Ledger) -> None:
    monday = downloaded(ledger, "monday.csv")
    ledger.complete_parse(monday, documents=[invoice("INV-1", "100.00")], rows_total=1)
    tuesday = downloaded(ledger, "tuesday.csv")
    outcome = ledger.complete_parse(
        tuesday,
        documents=[invoice("INV-1", "100.00"), invoice("INV-1", "120.00", memo="desks")],
        rows_total=2,
    )
    assert outcome == RecordOutcome(accepted=0, duplicates=1, held=1)
    original, dup, held = ledger.records("acme")
    assert (dup.state, dup.duplicate_of) == (RecordState.DUPLICATE, original.id)
    assert dup.reason == f"same content as record #{original.id} from monday.csv"
    assert held.state == RecordState.HELD
    assert held.reason == (
        f"differs from record #{original.id} from monday.csv: changed fields memo, total"
    )
    # The accepted version is never replaced; both versions are shown side by side.
    assert original.state == RecordState.ACCEPTED and original.payload["total"] == "100.00"
    [(shown_held, shown_accepted)] = ledger.held_records("acme")
    assert (shown_held.payload["total"], shown_accepted.payload["total"]) == ("120.00", "100.00")
    assert [e.event for e in ledger.audit("acme", entity="record")] == ["duplicate", "held"]
    assert ledger.records("acme", states=[RecordState.ACCEPTED]) == [original]


def test_dedup_is_per_tenant_and_kind(ledger: Ledger) -> None:
    ledger.complete_parse(
        downloaded(ledger, "a.csv"), documents=[invoice("INV-1", "1")], rows_total=1
    )
    other = downloaded(ledger, "a.csv", tenant="globex")
    assert (
        ledger.complete_parse(other, documents=[invoice("INV-1", "1")], rows_total=1).accepted == 1
    )
    payment = DocumentIn("payment", "V-100|INV-1|invoice", "p", (1,), {}, None, None, None)
    third = downloaded(ledger, "p.csv")
    assert ledger.complete_parse(third, documents=[payment], rows_total=1).accepted == 1


def test_re_running_a_parsed_file_records_nothing_twice(ledger: Ledger) -> None:
    file_id = downloaded(ledger, "monday.csv")
    docs = [invoice("INV-1", "1"), invoice("INV-1", "1"), invoice("INV-2", "2")]
    errors = [RowErrorIn(4, "total", "not a number", None)]
    first = ledger.complete_parse(file_id, documents=docs, row_errors=errors, rows_total=4)
    audit = len(ledger.audit("acme"))
    again = ledger.complete_parse(file_id, documents=docs, row_errors=errors, rows_total=4)
    assert first == again == RecordOutcome(accepted=2, duplicates=1, held=0)
    assert len(ledger.records("acme")) == 3
    assert len(ledger.row_errors("acme")) == 1
    assert len(ledger.audit("acme")) == audit
    assert ledger.record_documents("acme", file_id, docs, errors) == first


def test_an_error_mid_parse_leaves_nothing_half_recorded(ledger: Ledger) -> None:
    file_id = downloaded(ledger, "monday.csv")
    audit = len(ledger.audit("acme"))
    # The records go in first; the bad row error (NOT NULL message) fails after them.
    broken = [RowErrorIn(2, "total", None, None)]  # type: ignore[arg-type]
    with pytest.raises(sa.exc.IntegrityError):
        ledger.complete_parse(
            file_id, documents=[invoice("INV-1", "1")], row_errors=broken, rows_total=2
        )
    assert ledger.records("acme") == []
    assert ledger.row_errors("acme") == []
    assert ledger.get_file(file_id).state == FileState.DOWNLOADED
    assert len(ledger.audit("acme")) == audit
    # Nothing was half-done: the same call with good input works.
    fixed = [RowErrorIn(2, "total", "empty", None)]
    assert (
        ledger.complete_parse(
            file_id, documents=[invoice("INV-1", "1")], row_errors=fixed, rows_total=2
        ).accepted
        == 1
    )


def test_records_need_a_downloaded_file_of_the_tenant(ledger: Ledger) -> None:
    stable = stable_file(ledger, "s.csv")
    with pytest.raises(InvalidTransitionError):
        ledger.complete_parse(stable.id, documents=[invoice("INV-1", "1")], rows_total=1)
    file_id = downloaded(ledger, "d.csv")
    with pytest.raises(UnknownEntityError):
        ledger.record_documents("globex", file_id, [invoice("INV-1", "1")])
    assert ledger.records("acme") == []


def test_float_amounts_in_payloads_are_refused(ledger: Ledger) -> None:
    file_id = downloaded(ledger, "d.csv")
    doc = DocumentIn("invoice", "V|1|invoice", "h", (1,), {"total": 1.1}, None, None, None)
    with pytest.raises(TypeError, match="float"):
        ledger.complete_parse(file_id, documents=[doc], rows_total=1)
    assert ledger.get_file(file_id).state == FileState.DOWNLOADED


def test_two_files_with_the_same_invoice_at_once_accept_it_once(open_ledger) -> None:
    setup = open_ledger()
    setup.migrate()
    files = [downloaded(setup, f"f{i}.csv") for i in range(4)]
    workers = [open_ledger() for _ in files]
    barrier = threading.Barrier(len(files))
    outcomes: list[RecordOutcome] = []
    errors: list[BaseException] = []

    def run(ledger: Ledger, file_id: int) -> None:
        barrier.wait()
        try:
            outcomes.append(
                ledger.complete_parse(file_id, documents=[invoice("INV-9", "9")], rows_total=1)
            )
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=(w, f)) for w, f in zip(workers, files, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert sum(o.accepted for o in outcomes) == 1
    assert sum(o.duplicates for o in outcomes) == 3
    assert len(setup.records("acme", states=[RecordState.ACCEPTED])) == 1
