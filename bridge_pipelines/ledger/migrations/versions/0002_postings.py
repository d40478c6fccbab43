"""Postings: one row per record and target, the exactly-once state machine of reliability.md.

Revision ID: 0002_postings
Revises: 0001_initial
Create Date: 2025-02-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bridge_pipelines.ledger.coltypes import Id, UtcDateTime

revision: str = "0002_postings"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POSTING_STATES = "'planned', 'sending', 'posted', 'rejected', 'unknown', 'needs_review'"


def upgrade() -> None:
    """Create `postings` and the index claims scan."""
    op.create_table(
        "postings",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("record_id", Id, nullable=False),
        sa.Column("target", sa.String(128), nullable=False),
        sa.Column("external_ref", sa.String(64), nullable=False),
        sa.Column("payload_hash", sa.String(128), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("lease_owner", sa.String(128)),
        sa.Column("lease_until", UtcDateTime),
        sa.Column("erp_doc_id", sa.String(128)),
        sa.Column("last_response", sa.Text),
        sa.Column("reason", sa.Text),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.Column("posted_at", UtcDateTime),
        sa.PrimaryKeyConstraint("id", name="pk_postings"),
        sa.ForeignKeyConstraint(
            ["record_id"], ["records.id"], name="fk_postings_record_id_records"
        ),
        sa.CheckConstraint(f"state IN ({POSTING_STATES})", name="ck_postings_state"),
        sa.CheckConstraint("attempt >= 0", name="ck_postings_attempt"),
        sa.UniqueConstraint("external_ref", name="uq_postings_external_ref"),
        sa.UniqueConstraint("record_id", "target", name="uq_postings_record_target"),
    )
    op.create_index("ix_postings_claim", "postings", ["tenant", "target", "state"])


def downgrade() -> None:
    """Drop `postings` (and with it every posting's history outside audit_events)."""
    op.drop_index("ix_postings_claim", table_name="postings")
    op.drop_table("postings")
