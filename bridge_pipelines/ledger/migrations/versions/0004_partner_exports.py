"""Partner exports (issue 14): files sent to partners, incremental cursors, X12 control numbers.

Revision ID: 0004_partner_exports
Revises: 0003_payment_postings
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bridge_pipelines.ledger.coltypes import Id, Json, UtcDateTime

revision: str = "0004_partner_exports"
down_revision: str | None = "0003_payment_postings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create `partner_exports`, `partner_cursors` and `partner_control_numbers`."""
    op.create_table(
        "partner_exports",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("partner", sa.String(64), nullable=False),
        sa.Column("dataset", sa.String(32), nullable=False),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("changed_after", sa.String(32)),
        sa.Column("changed_until", sa.String(32), nullable=False),
        sa.Column("file_format", sa.String(16), nullable=False),
        sa.Column("remote_name", sa.String(255), nullable=False),
        sa.Column("row_count", sa.Integer, nullable=False),
        sa.Column("totals", Json, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("control_number", sa.Integer),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("delivered_at", UtcDateTime),
        sa.Column("verified", sa.String(16)),
        sa.PrimaryKeyConstraint("id", name="pk_partner_exports"),
        sa.UniqueConstraint(
            "tenant", "partner", "dataset", "period", "seq", name="uq_partner_exports_key"
        ),
        sa.UniqueConstraint(
            "tenant", "partner", "remote_name", name="uq_partner_exports_remote_name"
        ),
        sa.CheckConstraint("state IN ('built', 'delivered')", name="ck_partner_exports_state"),
    )
    op.create_table(
        "partner_cursors",
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("partner", sa.String(64), nullable=False),
        sa.Column("dataset", sa.String(32), nullable=False),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("changed_until", sa.String(32), nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant", "partner", "dataset", "period", name="pk_partner_cursors"
        ),
    )
    op.create_table(
        "partner_control_numbers",
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("partner", sa.String(64), nullable=False),
        sa.Column("last_number", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("tenant", "partner", name="pk_partner_control_numbers"),
        sa.CheckConstraint(
            "last_number BETWEEN 1 AND 999999999", name="ck_partner_control_numbers_range"
        ),
    )


def downgrade() -> None:
    """Drop the partner tables (the audit trail keeps what was sent)."""
    op.drop_table("partner_control_numbers")
    op.drop_table("partner_cursors")
    op.drop_table("partner_exports")
