"""observe_listing: what the sensor sees each tick becomes seen, stable, or a new delivery."""

import threading
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.ledger.states import FileState
from bridge_pipelines_tests.integration.ledger.conftest import SETTLE, T0, ZONE, Entry, stable_file

MTIME = 1_700_000_000


def observe(ledger: Ledger, entries, at: datetime, *, tenant="acme", complete=True, zone=ZONE):
    return ledger.observe_listing(
        tenant, "invoices", "/out", entries, settle=SETTLE, zone=zone, now=at, complete=complete
    )


def test_a_file_becomes_stable_only_after_the_settle_interval(ledger: Ledger) -> None:
    entries = [Entry("a.csv", 10, MTIME)]
    assert observe(ledger, entries, T0) == []
    assert observe(ledger, entries, T0 + SETTLE - timedelta(seconds=1)) == []
    (row,) = observe(ledger, entries, T0 + SETTLE)
    assert (row.name, row.state, row.size) == ("a.csv", FileState.STABLE, 10)
    assert row.stable_at == T0 + SETTLE
    assert row.first_seen_at == T0
    # Listed again: already stable, not returned twice, no new row.
    assert observe(ledger, entries, T0 + 5 * SETTLE) == []
    assert [f.state for f in ledger.files("acme")] == [FileState.STABLE]
    assert [e.event for e in ledger.audit("acme", entity="file", entity_id=row.id)] == [
        "seen",
        "stable",
    ]


def test_a_growing_file_stays_seen_until_it_stops_changing(ledger: Ledger) -> None:
    for i in range(5):
        at = T0 + i * SETTLE
        assert observe(ledger, [Entry("grow.csv", 100 * (i + 1), MTIME + i)], at) == []
    (only,) = ledger.files("acme")
    assert (only.state, only.size) == (FileState.SEEN, 500)
    last_change = T0 + 4 * SETTLE
    assert observe(ledger, [Entry("grow.csv", 500, MTIME + 4)], last_change + SETTLE / 2) == []
    (row,) = observe(ledger, [Entry("grow.csv", 500, MTIME + 4)], last_change + SETTLE)
    assert (row.id, row.size, row.mtime) == (only.id, 500, MTIME + 4)
    assert len(ledger.files("acme")) == 1


def test_the_same_name_delivered_again_with_another_size_is_a_new_file(ledger: Ledger) -> None:
    first = stable_file(ledger, "daily.csv", 100)
    ledger.mark_downloaded(first.id, sha256="1" * 64, size=100, archive_path="/a/1")
    ledger.mark_parsed(first.id, rows_total=3, rows_rejected=0)
    # The same delivery listed again: the same file, nothing new.
    later = T0 + timedelta(hours=1)
    assert observe(ledger, [Entry("daily.csv", 100, MTIME)], later) == []
    assert len(ledger.files("acme")) == 1
    # Overwritten with new content: a new delivery under the same name.
    observe(ledger, [Entry("daily.csv", 120, MTIME + 86400)], later)
    (second,) = observe(ledger, [Entry("daily.csv", 120, MTIME + 86400)], later + SETTLE)
    assert second.id != first.id
    old, new = ledger.files("acme")
    assert (old.id, old.state, old.size) == (first.id, FileState.PARSED, 100)
    assert (new.id, new.state, new.size) == (second.id, FileState.STABLE, 120)


def test_a_stable_file_overwritten_before_download_is_marked_vanished(ledger: Ledger) -> None:
    first = stable_file(ledger, "daily.csv", 100)
    observe(ledger, [Entry("daily.csv", 150, MTIME + 60)], T0 + 2 * SETTLE)
    old = ledger.get_file(first.id)
    assert old.state == FileState.VANISHED
    assert "replaced on the server" in (old.reason or "")
    assert [f.id for f in ledger.pending_files("acme")] == []


def test_a_seen_file_that_disappears_is_forgotten_with_a_reason(ledger: Ledger) -> None:
    observe(ledger, [Entry("tmp.part", 10, MTIME), Entry("keep.csv", 5, MTIME)], T0)
    (part_id,) = [f.id for f in ledger.files("acme") if f.name == "tmp.part"]
    # A partial listing (complete=False) never forgets anything.
    observe(ledger, [Entry("keep.csv", 5, MTIME)], T0 + timedelta(seconds=1), complete=False)
    assert {f.name: f.state for f in ledger.files("acme")}["tmp.part"] == FileState.SEEN
    stable = observe(ledger, [Entry("keep.csv", 5, MTIME)], T0 + SETTLE)
    assert [f.name for f in stable] == ["keep.csv"]
    # Nothing was taken from it, so it leaves no file row, only the audit trail.
    assert [f.name for f in ledger.files("acme")] == ["keep.csv"]
    *_, forgotten = ledger.audit("acme", entity="file", entity_id=part_id)
    assert forgotten.event == "forgotten"
    assert forgotten.detail["reason"] == "disappeared from the listing before it settled"
    # If it comes back, it is observed afresh and taken once it settles.
    back = [Entry("keep.csv", 5, MTIME), Entry("tmp.part", 10, MTIME)]
    observe(ledger, back, T0 + 2 * SETTLE)
    assert [f.name for f in observe(ledger, back, T0 + 3 * SETTLE)] == ["tmp.part"]


def test_terminal_files_are_untouched_by_later_listings(ledger: Ledger) -> None:
    row = stable_file(ledger, "bad.csv")
    ledger.mark_quarantined(row.id, "binary garbage")
    events = len(ledger.audit("acme"))
    for k in range(3):
        assert observe(ledger, [Entry("bad.csv", 100, MTIME)], T0 + (k + 3) * SETTLE) == []
    (still,) = ledger.files("acme")
    assert (still.state, still.reason) == (FileState.QUARANTINED, "binary garbage")
    assert len(ledger.audit("acme")) == events


@pytest.mark.parametrize(
    ("stable_at_utc", "day"),
    [
        # Chicago is UTC-5 (CDT) on 2025-03-14/15.
        (datetime(2025, 3, 15, 4, 59, 59, tzinfo=UTC), date(2025, 3, 14)),
        (datetime(2025, 3, 15, 5, 0, 0, tzinfo=UTC), date(2025, 3, 15)),
    ],
)
def test_partition_day_is_the_tenant_local_day_when_stable(
    ledger: Ledger, stable_at_utc: datetime, day: date
) -> None:
    entries = [Entry("midnight.csv", 1, MTIME)]
    observe(ledger, entries, stable_at_utc - SETTLE)
    (row,) = observe(ledger, entries, stable_at_utc)
    assert row.partition_day == day


def test_partition_day_follows_each_tenants_zone(ledger: Ledger) -> None:
    at = datetime(2025, 3, 14, 23, 30, tzinfo=UTC)
    entries = [Entry("x.csv", 1, MTIME)]
    for tenant, zone in [
        ("tokyo", ZoneInfo("Asia/Tokyo")),
        ("la", ZoneInfo("America/Los_Angeles")),
    ]:
        observe(ledger, entries, at - SETTLE, tenant=tenant, zone=zone)
    (tokyo,) = observe(ledger, entries, at, tenant="tokyo", zone=ZoneInfo("Asia/Tokyo"))
    (la,) = observe(ledger, entries, at, tenant="la", zone=ZoneInfo("America/Los_Angeles"))
    assert (tokyo.partition_day, la.partition_day) == (date(2025, 3, 15), date(2025, 3, 14))
    assert ledger.tenants() == ["la", "tokyo"]


def test_a_naive_listing_time_is_refused(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="naive"):
        observe(ledger, [Entry("a.csv", 1, MTIME)], datetime(2025, 3, 14, 9, 0))


def test_concurrent_ticks_record_each_file_once(open_ledger) -> None:
    """Two sensors listing the same folder at once: one row per file, each stable only once."""
    setup = open_ledger()
    setup.migrate()
    workers = [open_ledger() for _ in range(2)]
    entries = [Entry(f"f{i}.csv", 10 + i, MTIME) for i in range(20)]
    returned: list[list[int]] = [[], []]
    errors: list[BaseException] = []

    for tick in range(3):
        barrier = threading.Barrier(2)

        def run(w: int, at: datetime, barrier: threading.Barrier) -> None:
            barrier.wait()
            try:
                rows = workers[w].observe_listing(
                    "acme", "invoices", "/out", entries, settle=SETTLE, zone=ZONE, now=at
                )
                returned[w].extend(r.id for r in rows)
            except BaseException as exc:
                errors.append(exc)

        threads = [
            threading.Thread(target=run, args=(w, T0 + tick * SETTLE, barrier)) for w in range(2)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)

    assert errors == []
    files = setup.files("acme")
    assert len(files) == 20
    assert {f.state for f in files} == {FileState.STABLE}
    stable_ids = returned[0] + returned[1]
    assert sorted(stable_ids) == sorted(f.id for f in files)
    stable_events = [e for e in setup.audit("acme") if e.event == "stable"]
    assert len(stable_events) == 20
