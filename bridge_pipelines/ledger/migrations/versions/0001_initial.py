"""Initial ledger: batches, files, records, row errors and append-only audit events.

Revision ID: 0001_initial
Revises:
Create Date: 2025-01-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bridge_pipelines.ledger.coltypes import Id, Json, Money, UtcDateTime

revision: str = "0001_initial"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FILE_STATES = "'seen', 'stable', 'downloaded', 'parsed', 'quarantined', 'duplicate', 'vanished'"
RECORD_STATES = "'accepted', 'duplicate', 'held'"

# audit_events is append-only: the database itself refuses to rewrite history, whoever asks.
PG_APPEND_ONLY = [
    """
    CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END
    $$
    """,
    """
    CREATE TRIGGER audit_events_no_rewrite BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()
    """,
    """
    CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()
    """,
]
SQLITE_APPEND_ONLY = [
    """
    CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
    BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: UPDATE refused'); END
    """,
    """
    CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
    BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: DELETE refused'); END
    """,
]


SEEN_ONLY = "state = 'seen'"
TAKEN_ONLY = "state IN ('downloaded', 'parsed')"
ACCEPTED_ONLY = "state = 'accepted'"


def upgrade() -> None:
    """Create every table, index and the append-only triggers."""
    op.create_table(
        "batches",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("file_count", sa.Integer, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_batches"),
    )
    op.create_table(
        "files",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("folder", sa.String(512), nullable=False),
        sa.Column("name", sa.String(512), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("mtime", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64)),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("partition_day", sa.Date),
        sa.Column("batch_id", sa.String(40)),
        sa.Column("archive_path", sa.Text),
        sa.Column("duplicate_of", Id),
        sa.Column("rows_total", sa.Integer),
        sa.Column("rows_rejected", sa.Integer),
        sa.Column("first_seen_at", UtcDateTime, nullable=False),
        sa.Column("observed_at", UtcDateTime, nullable=False),
        sa.Column("stable_at", UtcDateTime),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_files"),
        sa.ForeignKeyConstraint(["batch_id"], ["batches.id"], name="fk_files_batch_id_batches"),
        sa.ForeignKeyConstraint(["duplicate_of"], ["files.id"], name="fk_files_duplicate_of_files"),
        sa.CheckConstraint(f"state IN ({FILE_STATES})", name="ck_files_state"),
        sa.UniqueConstraint("tenant", "folder", "name", "size", "mtime", name="uq_files_delivery"),
    )
    op.create_index(
        "uq_files_open",
        "files",
        ["tenant", "folder", "name"],
        unique=True,
        sqlite_where=sa.text(SEEN_ONLY),
        postgresql_where=sa.text(SEEN_ONLY),
    )
    op.create_index(
        "uq_files_taken_bytes",
        "files",
        ["tenant", "sha256"],
        unique=True,
        sqlite_where=sa.text(TAKEN_ONLY),
        postgresql_where=sa.text(TAKEN_ONLY),
    )
    op.create_index("ix_files_tenant_state", "files", ["tenant", "state"])
    op.create_index("ix_files_batch_id", "files", ["batch_id"])

    op.create_table(
        "records",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("identity", sa.String(512), nullable=False),
        sa.Column("content_hash", sa.String(128), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("file_id", Id, nullable=False),
        sa.Column("rows", Json, nullable=False),
        sa.Column("payload", Json, nullable=False),
        sa.Column("document_day", sa.Date),
        sa.Column("amount", Money),
        sa.Column("currency", sa.String(8)),
        sa.Column("partition_day", sa.Date),
        sa.Column("duplicate_of", Id),
        sa.Column("reason", sa.Text),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_records"),
        sa.ForeignKeyConstraint(["file_id"], ["files.id"], name="fk_records_file_id_files"),
        sa.ForeignKeyConstraint(
            ["duplicate_of"], ["records.id"], name="fk_records_duplicate_of_records"
        ),
        sa.CheckConstraint(f"state IN ({RECORD_STATES})", name="ck_records_state"),
    )
    op.create_index(
        "uq_records_accepted",
        "records",
        ["tenant", "kind", "identity"],
        unique=True,
        sqlite_where=sa.text(ACCEPTED_ONLY),
        postgresql_where=sa.text(ACCEPTED_ONLY),
    )
    op.create_index("ix_records_identity", "records", ["tenant", "kind", "identity"])
    op.create_index("ix_records_file_id", "records", ["file_id"])
    op.create_index("ix_records_partition", "records", ["tenant", "kind", "partition_day"])

    op.create_table(
        "row_errors",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("file_id", Id, nullable=False),
        sa.Column("row", sa.Integer),
        sa.Column("field", sa.String(256)),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("document", sa.String(512)),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_row_errors"),
        sa.ForeignKeyConstraint(["file_id"], ["files.id"], name="fk_row_errors_file_id_files"),
    )
    op.create_index("ix_row_errors_file_id", "row_errors", ["file_id"])
    op.create_index("ix_row_errors_tenant", "row_errors", ["tenant"])

    op.create_table(
        "audit_events",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("entity", sa.String(32), nullable=False),
        sa.Column("entity_id", sa.String(64), nullable=False),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("detail", Json, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_events"),
    )
    op.create_index("ix_audit_events_entity", "audit_events", ["tenant", "entity", "entity_id"])
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for statement in PG_APPEND_ONLY:
            op.execute(statement)
    elif dialect == "sqlite":
        for statement in SQLITE_APPEND_ONLY:
            op.execute(statement)


def downgrade() -> None:
    """Drop everything (history included): only for throwaway databases."""
    dialect = op.get_bind().dialect.name
    op.drop_table("audit_events")
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_events_append_only()")
    op.drop_table("row_errors")
    op.drop_table("records")
    op.drop_table("files")
    op.drop_table("batches")
