"""The ledger's tables (SQLAlchemy Core). The Alembic head must match this file exactly.

Uniqueness does the concurrency work, so two sensors or runs racing cannot double anything:

- `uq_files_delivery`: one row per delivery (tenant, folder, name, size, mtime); a name seen
  again with the same size and mtime is the same file, with another size or mtime a new one.
- `uq_files_open`: at most one `seen` (still settling) row per (tenant, folder, name).
- `uq_files_taken_bytes`: the same bytes are taken (`downloaded`/`parsed`) once per tenant.
- `uq_records_accepted`: one accepted record per (tenant, kind, identity); a later version is
  `held`, never a replacement.
- `uq_postings_external_ref`: one posting per external reference, the key the ERP is searched
  by; `uq_postings_record_target`: one posting per record and target (ERP kind + company).

`audit_events` is append-only: the migration installs triggers that refuse UPDATE and DELETE
(and TRUNCATE on PostgreSQL).
"""

from collections.abc import Iterable
from enum import StrEnum

import sqlalchemy as sa

from bridge_pipelines.ledger.coltypes import Id, Json, Money, UtcDateTime
from bridge_pipelines.ledger.states import FileState, PostingKind, PostingState, RecordState

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _in(column: str, values: Iterable[StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


SEEN_ONLY = sa.text("state = 'seen'")
TAKEN_ONLY = sa.text("state IN ('downloaded', 'parsed')")
ACCEPTED_ONLY = sa.text("state = 'accepted'")


batches = sa.Table(
    "batches",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("file_count", sa.Integer, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

files = sa.Table(
    "files",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
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
    sa.Column("batch_id", sa.String(40), sa.ForeignKey("batches.id")),
    sa.Column("archive_path", sa.Text),
    sa.Column("duplicate_of", Id, sa.ForeignKey("files.id")),
    sa.Column("rows_total", sa.Integer),
    sa.Column("rows_rejected", sa.Integer),
    sa.Column("first_seen_at", UtcDateTime, nullable=False),
    sa.Column("observed_at", UtcDateTime, nullable=False),
    sa.Column("stable_at", UtcDateTime),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.CheckConstraint(_in("state", FileState), name="state"),
    sa.UniqueConstraint("tenant", "folder", "name", "size", "mtime", name="uq_files_delivery"),
)
sa.Index(
    "uq_files_open",
    files.c.tenant,
    files.c.folder,
    files.c.name,
    unique=True,
    sqlite_where=SEEN_ONLY,
    postgresql_where=SEEN_ONLY,
)
sa.Index(
    "uq_files_taken_bytes",
    files.c.tenant,
    files.c.sha256,
    unique=True,
    sqlite_where=TAKEN_ONLY,
    postgresql_where=TAKEN_ONLY,
)
sa.Index("ix_files_tenant_state", files.c.tenant, files.c.state)
sa.Index("ix_files_batch_id", files.c.batch_id)

records = sa.Table(
    "records",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("identity", sa.String(512), nullable=False),
    sa.Column("content_hash", sa.String(128), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("file_id", Id, sa.ForeignKey("files.id"), nullable=False),
    sa.Column("rows", Json, nullable=False),
    sa.Column("payload", Json, nullable=False),
    sa.Column("document_day", sa.Date),
    sa.Column("amount", Money),
    sa.Column("currency", sa.String(8)),
    sa.Column("partition_day", sa.Date),
    # For a duplicate: the record it repeats; for a held record: the accepted one it conflicts with.
    sa.Column("duplicate_of", Id, sa.ForeignKey("records.id")),
    sa.Column("reason", sa.Text),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.CheckConstraint(_in("state", RecordState), name="state"),
)
sa.Index(
    "uq_records_accepted",
    records.c.tenant,
    records.c.kind,
    records.c.identity,
    unique=True,
    sqlite_where=ACCEPTED_ONLY,
    postgresql_where=ACCEPTED_ONLY,
)
sa.Index("ix_records_identity", records.c.tenant, records.c.kind, records.c.identity)
sa.Index("ix_records_file_id", records.c.file_id)
sa.Index("ix_records_partition", records.c.tenant, records.c.kind, records.c.partition_day)

row_errors = sa.Table(
    "row_errors",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("file_id", Id, sa.ForeignKey("files.id"), nullable=False),
    sa.Column("row", sa.Integer),
    sa.Column("field", sa.String(256)),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("document", sa.String(512)),
    sa.Column("created_at", UtcDateTime, nullable=False),
)
sa.Index("ix_row_errors_file_id", row_errors.c.file_id)
sa.Index("ix_row_errors_tenant", row_errors.c.tenant)

postings = sa.Table(
    "postings",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("record_id", Id, sa.ForeignKey("records.id"), nullable=False),
    # An AP document, or a payment (its record is the payment's first row; issue 15).
    sa.Column("kind", sa.String(16), nullable=False, server_default=PostingKind.INVOICE.value),
    # ERP kind and company, e.g. "syspro:EDU1": a record may go to more than one company.
    sa.Column("target", sa.String(128), nullable=False),
    sa.Column("external_ref", sa.String(64), nullable=False),
    sa.Column("payload_hash", sa.String(128), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("lease_owner", sa.String(128)),
    # Set and compared by the database clock only, never this process's (clock skew, §4 #19).
    sa.Column("lease_until", UtcDateTime),
    sa.Column("erp_doc_id", sa.String(128)),
    # The ERP's last answer (redacted), kept for review: a rejection must show why.
    sa.Column("last_response", sa.Text),
    sa.Column("reason", sa.Text),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("posted_at", UtcDateTime),
    sa.CheckConstraint(_in("state", PostingState), name="state"),
    sa.CheckConstraint(_in("kind", PostingKind), name="kind"),
    sa.CheckConstraint("attempt >= 0", name="attempt"),
    sa.UniqueConstraint("external_ref", name="uq_postings_external_ref"),
    sa.UniqueConstraint("record_id", "target", name="uq_postings_record_target"),
)
sa.Index("ix_postings_claim", postings.c.tenant, postings.c.target, postings.c.state)

audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("entity", sa.String(32), nullable=False),
    sa.Column("entity_id", sa.String(64), nullable=False),
    sa.Column("event", sa.String(64), nullable=False),
    sa.Column("detail", Json, nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),
)
sa.Index(
    "ix_audit_events_entity", audit_events.c.tenant, audit_events.c.entity, audit_events.c.entity_id
)

# Partner exports (issue 14): files built from SYSPRO and delivered to a partner's SFTP server.
# `uq_partner_exports_key`: one export per (partner, dataset, period, seq), so a run that races
# another builds nothing twice; `uq_partner_exports_remote_name`: one file per remote name, so a
# changed export can never silently replace a delivered one under the same name.
partner_exports = sa.Table(
    "partner_exports",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
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
    sa.UniqueConstraint(
        "tenant", "partner", "dataset", "period", "seq", name="uq_partner_exports_key"
    ),
    sa.UniqueConstraint("tenant", "partner", "remote_name", name="uq_partner_exports_remote_name"),
    sa.CheckConstraint("state IN ('built', 'delivered')", name="state"),
)

# The incremental read's high-water mark per partner, dataset and period (`ChangedAt`).
partner_cursors = sa.Table(
    "partner_cursors",
    metadata,
    sa.Column("tenant", sa.String(64), primary_key=True),
    sa.Column("partner", sa.String(64), primary_key=True),
    sa.Column("dataset", sa.String(32), primary_key=True),
    sa.Column("period", sa.String(16), primary_key=True),
    sa.Column("changed_until", sa.String(32), nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

# X12 interchange control numbers per partner: only ever incremented, never reused.
partner_control_numbers = sa.Table(
    "partner_control_numbers",
    metadata,
    sa.Column("tenant", sa.String(64), primary_key=True),
    sa.Column("partner", sa.String(64), primary_key=True),
    sa.Column("last_number", sa.Integer, nullable=False),
    sa.CheckConstraint("last_number BETWEEN 1 AND 999999999", name="range"),
)
