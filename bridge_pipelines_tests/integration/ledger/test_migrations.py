"""The schema: migrate() on an empty database, twice, concurrently, and equal to tables.py."""

import threading

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.ledger.tables import metadata

TABLES = {
    "alembic_version",
    "audit_events",
    "batches",
    "files",
    "partner_control_numbers",
    "partner_cursors",
    "partner_exports",
    "postings",
    "records",
    "row_errors",
}
HEAD = "0004_partner_exports"


def _diff(ledger: Ledger, target: sa.MetaData) -> list:
    with ledger.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, target)


def _version(ledger: Ledger) -> list[str]:
    with ledger.engine.connect() as conn:
        return list(conn.scalars(sa.text("SELECT version_num FROM alembic_version")))


def test_migrate_creates_every_table_and_is_idempotent(ledger: Ledger) -> None:
    ledger.migrate()
    assert set(sa.inspect(ledger.engine).get_table_names()) >= TABLES
    assert _version(ledger) == [HEAD]


def test_alembic_head_matches_tables_py(ledger: Ledger) -> None:
    assert _diff(ledger, metadata) == []


def test_schema_comparison_would_notice_a_drift(ledger: Ledger) -> None:
    drifted = sa.MetaData()
    for table in metadata.tables.values():
        table.to_metadata(drifted)
    sa.Table("files", drifted, sa.Column("owner", sa.String(10)), extend_existing=True)
    assert [op[0] for op in _diff(ledger, drifted)] == ["add_column"]


def test_concurrent_migrations_on_an_empty_database_all_succeed(open_ledger) -> None:
    ledgers = [open_ledger() for _ in range(3)]
    barrier = threading.Barrier(len(ledgers))
    errors: list[BaseException] = []

    def run(ledger: Ledger) -> None:
        barrier.wait()
        try:
            ledger.migrate()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(lg,)) for lg in ledgers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert _version(ledgers[0]) == [HEAD]
    assert set(sa.inspect(ledgers[0].engine).get_table_names()) >= TABLES


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_events SET actor = 'mallory'", "DELETE FROM audit_events"]
)
def test_audit_events_refuse_update_and_delete(ledger: Ledger, statement: str) -> None:
    from bridge_pipelines_tests.integration.ledger.conftest import stable_file

    stable_file(ledger)
    before = ledger.audit("acme")
    assert before
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), ledger.engine.begin() as conn:
        conn.execute(sa.text(statement))
    assert ledger.audit("acme") == before
