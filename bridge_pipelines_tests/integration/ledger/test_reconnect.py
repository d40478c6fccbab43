"""A lost PostgreSQL connection does not fail the step (issue 16.14): the ledger reconnects and
runs the read or the transaction again.

The ledger reaches PostgreSQL through a fault proxy, which cuts a connection in the middle of
an answer (a killed backend, a dropped socket) or refuses connections for a moment (a restart).
"""

import threading
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa

from bridge_pipelines.ledger.models import PlannedPosting
from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.sandbox.fault_proxy import FaultProxy, Reset
from bridge_pipelines_tests.support.fake_erp import seed_records

pytestmark = pytest.mark.postgres

TENANT = "acme"


@pytest.fixture
def proxied(pg_url: str) -> Iterator[tuple[Ledger, FaultProxy]]:
    """A migrated ledger on a fresh database, through a fault proxy; 40 records in it."""
    url = sa.make_url(pg_url)
    with FaultProxy((url.host or "127.0.0.1", url.port or 5432)) as proxy:
        through = url.set(host="127.0.0.1", port=proxy.port)
        ledger = Ledger(through.render_as_string(hide_password=False))
        try:
            ledger.migrate()
            seed_records(ledger, 40, tenant=TENANT)
            yield ledger, proxy
        finally:
            ledger.dispose()


def test_a_connection_reset_mid_answer_is_read_again(proxied: tuple[Ledger, FaultProxy]) -> None:
    ledger, proxy = proxied
    expected = len(ledger.records(TENANT))
    # The pool's ping and BEGIN pass; the answer to the query is cut off by a reset.
    proxy.set(down=Reset(after_bytes=400, times=1))
    assert len(ledger.records(TENANT)) == expected == 40
    assert proxy.stats.fired


def kill_before(ledger: Ledger, marker: str) -> tuple[list[int], Callable[[], None]]:
    """Kill the ledger's own backend (`pg_terminate_backend`) just before the first statement
    containing `marker` runs; returns the pids killed and a function removing the hook."""
    killed: list[int] = []
    admin = sa.create_engine(ledger.url, isolation_level="AUTOCOMMIT")

    def hook(conn: sa.Connection, _cursor: object, statement: str, *_args: object) -> None:
        if killed or marker not in statement:
            return
        pid = conn.connection.dbapi_connection.get_backend_pid()  # type: ignore[union-attr]
        with admin.connect() as other:
            other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        killed.append(pid)

    sa.event.listen(ledger.engine, "before_cursor_execute", hook)

    def remove() -> None:
        sa.event.remove(ledger.engine, "before_cursor_execute", hook)
        admin.dispose()

    return killed, remove


def test_a_backend_killed_mid_read_is_read_again(proxied: tuple[Ledger, FaultProxy]) -> None:
    ledger, _ = proxied
    before = [r.id for r in ledger.records(TENANT)]
    killed, remove = kill_before(ledger, "FROM records")
    try:
        after = [r.id for r in ledger.records(TENANT)]
    finally:
        remove()
    assert killed and after == before


def test_a_backend_killed_mid_transaction_runs_it_again_once(
    proxied: tuple[Ledger, FaultProxy],
) -> None:
    ledger, _ = proxied
    records = ledger.records(TENANT)[:3]
    items = [PlannedPosting(r.id, f"BP{r.id:018d}", f"h{r.id}") for r in records]
    killed, remove = kill_before(ledger, "INSERT INTO postings")
    try:
        planned = ledger.plan_postings(TENANT, "syspro:EDU1", items)
    finally:
        remove()
    assert killed
    assert sorted(p.record_id for p in planned) == sorted(r.id for r in records)
    assert len(ledger.postings(TENANT)) == 3, "planned once: the killed transaction rolled back"


def test_a_restart_that_refuses_connections_for_a_moment_is_waited_out(
    proxied: tuple[Ledger, FaultProxy],
) -> None:
    ledger, proxy = proxied
    expected = len(ledger.records(TENANT))
    proxy.refuse()
    proxy.drop_all()
    timer = threading.Timer(0.3, proxy.clear)  # PostgreSQL is back 0.3 s later
    timer.start()
    try:
        assert len(ledger.records(TENANT)) == expected
    finally:
        timer.cancel()
