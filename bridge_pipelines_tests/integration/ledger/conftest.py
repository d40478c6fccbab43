"""Every ledger test runs twice: on SQLite (a file in tmp_path) and on a fresh PostgreSQL."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bridge_pipelines.ledger.repository import Ledger

SETTLE = timedelta(seconds=30)
T0 = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)
ZONE = ZoneInfo("America/Chicago")


@dataclass(frozen=True)
class Entry:
    name: str
    size: int
    mtime: int


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger_url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def open_ledger(ledger_url: str) -> Iterator[Callable[[], Ledger]]:
    """Opens extra Ledger instances (own engines) on the same database, closed after the test."""
    opened: list[Ledger] = []

    def make() -> Ledger:
        ledger = Ledger(ledger_url)
        opened.append(ledger)
        return ledger

    yield make
    for ledger in opened:
        ledger.dispose()


@pytest.fixture
def ledger(open_ledger: Callable[[], Ledger]) -> Ledger:
    """A migrated, empty ledger."""
    ledger = open_ledger()
    ledger.migrate()
    return ledger


def stable_file(
    ledger: Ledger,
    name: str = "invoices_1.csv",
    size: int = 100,
    *,
    tenant="acme",
    kind="invoices",
    mtime: int = 1_700_000_000,
    at: datetime = T0,
):
    """Observe a file twice, a settle interval apart: it comes back stable."""
    entries = [Entry(name, size, mtime)]
    assert (
        ledger.observe_listing(tenant, kind, "/out", entries, settle=SETTLE, zone=ZONE, now=at)
        == []
    )
    (row,) = ledger.observe_listing(
        tenant, kind, "/out", entries, settle=SETTLE, zone=ZONE, now=at + SETTLE
    )
    return row
