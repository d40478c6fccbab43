"""Payment postings: a posting's `kind` (invoice or payment) and the `waiting` state.

A payment is posted like an invoice (claim, lookup before resend), but it may have to wait
for the invoices it settles: `waiting`, with its reason, is neither claimable nor held for a
person. Existing postings are invoices.

Revision ID: 0003_payment_postings
Revises: 0002_postings
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_payment_postings"
down_revision: str | None = "0002_postings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATES = "'planned', 'sending', 'posted', 'rejected', 'unknown', 'needs_review'"
NEW_STATES = OLD_STATES + ", 'waiting'"


def upgrade() -> None:
    """Add `kind` (every existing posting an invoice) and allow `waiting`."""
    with op.batch_alter_table("postings") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="invoice"))
        batch.drop_constraint("ck_postings_state", type_="check")
        batch.create_check_constraint("ck_postings_state", f"state IN ({NEW_STATES})")
        batch.create_check_constraint("ck_postings_kind", "kind IN ('invoice', 'payment')")


def downgrade() -> None:
    """Back to invoice postings only (payment postings must be gone first)."""
    with op.batch_alter_table("postings") as batch:
        batch.drop_constraint("ck_postings_kind", type_="check")
        batch.drop_constraint("ck_postings_state", type_="check")
        batch.create_check_constraint("ck_postings_state", f"state IN ({OLD_STATES})")
        batch.drop_column("kind")
