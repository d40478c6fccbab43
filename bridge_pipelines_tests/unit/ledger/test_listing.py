"""plan_listing: the rules that turn a folder listing into seen / stable / vanished."""

from datetime import UTC, datetime, timedelta

from bridge_pipelines.ledger.listing import DISAPPEARED, KnownFile, plan_listing
from bridge_pipelines.ledger.states import FileState

NOW = datetime(2025, 3, 14, 12, tzinfo=UTC)
SETTLE = timedelta(seconds=30)


def known(id_: int, name: str, size: int, state: str, *, age: timedelta = SETTLE, kind="invoices"):
    return KnownFile(id_, kind, name, size, 1000, FileState(state), NOW - age)


def plan(rows, listed, *, complete=True):
    return plan_listing(rows, listed, kind="invoices", now=NOW, settle=SETTLE, complete=complete)


def test_nothing_known_means_new_seen_files() -> None:
    p = plan([], {"a.csv": (10, 1000)})
    assert p.new == [("a.csv", 10, 1000)] and not (p.changed or p.settled or p.vanish)


def test_a_seen_file_settles_only_once_unchanged_for_the_interval() -> None:
    young = known(1, "a.csv", 10, "seen", age=SETTLE - timedelta(milliseconds=1))
    assert not plan([young], {"a.csv": (10, 1000)})
    old = known(1, "a.csv", 10, "seen")
    assert plan([old], {"a.csv": (10, 1000)}).settled == [old]


def test_a_changed_seen_file_restarts_its_clock_instead_of_a_new_row() -> None:
    row = known(1, "a.csv", 10, "seen")
    p = plan([row], {"a.csv": (20, 1000)})
    assert p.changed == [(row, 20, 1000)] and p.new == [] and p.settled == []


def test_a_taken_delivery_listed_again_is_the_same_file() -> None:
    assert not plan([known(1, "a.csv", 10, "parsed")], {"a.csv": (10, 1000)})


def test_a_new_size_after_a_taken_delivery_is_a_new_delivery() -> None:
    p = plan([known(1, "a.csv", 10, "parsed")], {"a.csv": (11, 1000)})
    assert p.new == [("a.csv", 11, 1000)] and p.vanish == []


def test_a_stable_delivery_overwritten_before_download_vanished() -> None:
    stable = known(1, "a.csv", 10, "stable")
    p = plan([stable], {"a.csv": (11, 1000)})
    assert p.new == [("a.csv", 11, 1000)]
    assert [v.file for v in p.vanish] == [stable]
    assert "replaced on the server" in p.vanish[0].reason


def test_a_missing_seen_file_is_forgotten_only_in_a_complete_listing_of_its_kind() -> None:
    gone = known(1, "tmp.part", 10, "seen")
    other_kind = known(2, "pay.csv", 10, "seen", kind="payments")
    p = plan([gone, other_kind], {})
    assert [(f.file.id, f.reason) for f in p.forget] == [(1, DISAPPEARED)]
    assert p.vanish == []
    assert not plan([gone], {}, complete=False)


def test_a_settling_file_back_at_a_taken_delivery_is_forgotten() -> None:
    taken = known(1, "a.csv", 10, "parsed")
    settling = known(2, "a.csv", 11, "seen")
    p = plan([taken, settling], {"a.csv": (10, 1000)})
    assert [f.file for f in p.forget] == [settling] and p.new == []
