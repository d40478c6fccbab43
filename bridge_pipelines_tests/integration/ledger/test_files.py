"""File transitions after the sensor: download, duplicate bytes, parse, quarantine, batches."""

import threading

import pytest

from bridge_pipelines.ledger.errors import InvalidTransitionError, UnknownEntityError
from bridge_pipelines.ledger.repository import Ledger, batch_id_for
from bridge_pipelines.ledger.states import FileState
from bridge_pipelines_tests.integration.ledger.conftest import SETTLE, ZONE, Entry, stable_file

SHA_A = "a" * 64
SHA_B = "b" * 64


def test_the_happy_path_is_audited_step_by_step(ledger: Ledger) -> None:
    row = stable_file(ledger)
    down = ledger.mark_downloaded(
        row.id, sha256=SHA_A, size=100, archive_path="/archive/aa/aaaa", actor="run-7"
    )
    assert (down.state, down.sha256, down.archive_path) == (
        FileState.DOWNLOADED,
        SHA_A,
        "/archive/aa/aaaa",
    )
    done = ledger.mark_parsed(
        row.id, rows_total=10, rows_rejected=2, reason="2 of 10 rows rejected"
    )
    assert (done.state, done.rows_total, done.rows_rejected) == (FileState.PARSED, 10, 2)
    events = ledger.audit("acme", entity="file", entity_id=row.id)
    assert [(e.event, e.detail.get("from"), e.actor) for e in events] == [
        ("seen", None, "bridge"),
        ("stable", "seen", "bridge"),
        ("downloaded", "stable", "run-7"),
        ("parsed", "downloaded", "bridge"),
    ]
    assert events[-1].detail["reason"] == "2 of 10 rows rejected"
    assert all(e.at.tzinfo is not None for e in events)


def test_refused_transitions_raise_and_change_nothing(ledger: Ledger) -> None:
    ledger.observe_listing(
        "acme", "invoices", "/elsewhere", [Entry("new.csv", 1, 1)], settle=SETTLE, zone=ZONE
    )
    (seen,) = ledger.files("acme")
    with pytest.raises(InvalidTransitionError, match="seen to downloaded"):
        ledger.mark_downloaded(seen.id, sha256=SHA_A, size=1, archive_path="/x")
    stable = stable_file(ledger, "b.csv")
    with pytest.raises(InvalidTransitionError, match="stable to parsed"):
        ledger.mark_parsed(stable.id, rows_total=1, rows_rejected=0)
    ledger.mark_quarantined(stable.id, "oversized")
    for attempt in (
        lambda: ledger.mark_vanished(stable.id, "gone"),
        lambda: ledger.mark_quarantined(stable.id, "again"),
        lambda: ledger.mark_downloaded(stable.id, sha256=SHA_A, size=1, archive_path="/x"),
    ):
        with pytest.raises(InvalidTransitionError):
            attempt()
    after = ledger.get_file(stable.id)
    assert (after.state, after.reason) == (FileState.QUARANTINED, "oversized")
    assert ledger.get_file(seen.id).state == FileState.SEEN
    with pytest.raises(UnknownEntityError):
        ledger.mark_vanished(999_999, "no such file")


def test_a_vanished_file_keeps_its_reason(ledger: Ledger) -> None:
    row = stable_file(ledger)
    gone = ledger.mark_vanished(row.id, "removed from the server between listing and download")
    assert gone.state == FileState.VANISHED
    assert ledger.audit("acme", entity_id=row.id)[-1].detail["reason"] == gone.reason


def test_same_bytes_under_a_new_name_are_a_duplicate(ledger: Ledger) -> None:
    first = stable_file(ledger, "inv_monday.csv")
    ledger.mark_downloaded(first.id, sha256=SHA_A, size=100, archive_path="/a/x")
    again = stable_file(ledger, "inv_monday_copy.csv")
    dup = ledger.mark_downloaded(again.id, sha256=SHA_A, size=100, archive_path="/a/x")
    assert dup.state == FileState.DUPLICATE
    assert dup.duplicate_of == first.id
    assert dup.reason == f"same content as inv_monday.csv (file #{first.id})"
    assert [f.id for f in ledger.pending_files("acme")] == [first.id]
    # Other bytes, or the same bytes at another tenant, are not duplicates.
    other = stable_file(ledger, "inv_tuesday.csv")
    assert (
        ledger.mark_downloaded(other.id, sha256=SHA_B, size=1, archive_path="/b").state
        == "downloaded"
    )
    elsewhere = stable_file(ledger, "inv_monday.csv", tenant="globex")
    taken = ledger.mark_downloaded(elsewhere.id, sha256=SHA_A, size=100, archive_path="/a/x")
    assert taken.state == FileState.DOWNLOADED


def test_bytes_of_a_quarantined_file_may_be_taken_again(ledger: Ledger) -> None:
    first = stable_file(ledger, "v1.csv")
    ledger.mark_downloaded(first.id, sha256=SHA_A, size=100, archive_path="/a/x")
    ledger.mark_quarantined(first.id, "missing column: vendor_id")
    resent = stable_file(ledger, "v1_resent.csv")
    assert ledger.mark_downloaded(resent.id, sha256=SHA_A, size=100, archive_path="/a/x").state == (
        FileState.DOWNLOADED
    )


def test_pending_files_are_stable_or_downloaded_oldest_first(ledger: Ledger) -> None:
    from datetime import timedelta

    from bridge_pipelines_tests.integration.ledger.conftest import T0

    a = stable_file(ledger, "a.csv", at=T0 + timedelta(minutes=2))
    b = stable_file(ledger, "b.csv", at=T0)
    c = stable_file(ledger, "c.csv", kind="payments", at=T0 + timedelta(minutes=1))
    ledger.mark_downloaded(b.id, sha256=SHA_B, size=1, archive_path="/b")
    ledger.mark_quarantined(stable_file(ledger, "d.csv").id, "bad")
    assert [f.name for f in ledger.pending_files("acme")] == ["b.csv", "c.csv", "a.csv"]
    assert [f.name for f in ledger.pending_files("acme", "invoices")] == ["b.csv", "a.csv"]
    assert ledger.pending_files("acme", "invoices", a.partition_day) != []
    assert ledger.pending_files("acme", partition_day=a.partition_day.replace(year=2030)) == []
    assert [f.name for f in ledger.files("acme", states=[FileState.QUARANTINED])] == ["d.csv"]
    assert c.kind == "payments"


def test_create_batch_is_deterministic_and_stored_on_the_files(ledger: Ledger) -> None:
    a, b = stable_file(ledger, "a.csv"), stable_file(ledger, "b.csv")
    batch = ledger.create_batch("acme", [b.id, a.id])
    assert (
        batch
        == ledger.create_batch("acme", [a.id, b.id, a.id])
        == batch_id_for("acme", [a.id, b.id])
    )
    assert {f.batch_id for f in ledger.files("acme")} == {batch}
    stored = ledger.batch(batch)
    assert stored is not None and stored.file_ids == (a.id, b.id)
    assert len(ledger.audit("acme", entity="batch")) == 1
    with pytest.raises(InvalidTransitionError, match="another batch"):
        ledger.create_batch("acme", [a.id])
    with pytest.raises(UnknownEntityError):
        ledger.create_batch("globex", [stable_file(ledger, "c.csv").id])
    with pytest.raises(ValueError):
        ledger.create_batch("acme", [])


def test_concurrent_create_batch_makes_one_batch(open_ledger) -> None:
    setup = open_ledger()
    setup.migrate()
    ids = [stable_file(setup, f"f{i}.csv").id for i in range(10)]
    workers = [open_ledger() for _ in range(4)]
    barrier = threading.Barrier(len(workers))
    results: list[str] = []
    errors: list[BaseException] = []

    def run(ledger: Ledger) -> None:
        barrier.wait()
        try:
            results.append(ledger.create_batch("acme", ids))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert len(set(results)) == 1
    assert len(setup.audit("acme", entity="batch")) == 1
    with setup.engine.connect() as conn:
        import sqlalchemy as sa

        assert conn.scalar(sa.text("SELECT count(*) FROM batches")) == 1
