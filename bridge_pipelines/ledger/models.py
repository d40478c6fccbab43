"""What the ledger takes in and hands back: frozen values, never live database rows."""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from bridge_pipelines.ledger.states import (
    LOOKUP_FIRST_POSTING_STATES,
    FileState,
    PostingKind,
    PostingState,
    RecordState,
)


class ListingEntry(Protocol):
    """One entry of a remote folder listing (the SFTP client's `RemoteEntry` fits)."""

    @property
    def name(self) -> str:
        """The remote file name (already checked as safe by the SFTP client)."""
        ...

    @property
    def size(self) -> int:
        """Size in bytes."""
        ...

    @property
    def mtime(self) -> int:
        """Modification time, in whole seconds since the epoch."""
        ...


@dataclass(frozen=True)
class FileRow:
    """One delivery of a remote file: a name with one size and mtime, and what became of it."""

    id: int
    tenant: str
    kind: str
    folder: str
    name: str
    size: int
    mtime: int
    sha256: str | None
    state: FileState
    reason: str | None
    partition_day: date | None
    batch_id: str | None
    archive_path: str | None
    first_seen_at: datetime
    stable_at: datetime | None
    updated_at: datetime
    duplicate_of: int | None
    rows_total: int | None
    rows_rejected: int | None


@dataclass(frozen=True)
class DocumentIn:
    """One parsed source document (invoice, payment, vendor...) to record.

    `identity` names the business document (tenant-independent, e.g. vendor|number|type);
    `content_hash` changes whenever anything in `payload` does.
    """

    kind: str
    identity: str
    content_hash: str
    rows: tuple[int, ...]
    payload: dict[str, Any]
    document_day: date | None
    amount: Decimal | None
    currency: str | None


@dataclass(frozen=True)
class RowErrorIn:
    """One located problem in a file: the row and field an operator has to fix."""

    row: int | None
    field: str | None
    message: str
    document: str | None


@dataclass(frozen=True)
class RowErrorRow:
    """A stored row error, with the file it came from."""

    id: int
    tenant: str
    file_id: int
    file_name: str
    row: int | None
    field: str | None
    message: str
    document: str | None
    created_at: datetime


@dataclass(frozen=True)
class RecordRow:
    """A recorded source document. Payload amounts come back as strings, never floats."""

    id: int
    tenant: str
    kind: str
    identity: str
    content_hash: str
    state: RecordState
    file_id: int
    rows: tuple[int, ...]
    payload: dict[str, Any]
    amount: Decimal | None
    currency: str | None
    partition_day: date | None
    duplicate_of: int | None
    reason: str | None
    created_at: datetime
    document_day: date | None = None


@dataclass(frozen=True)
class RecordOutcome:
    """How many documents of a file were accepted, duplicates, or held for review."""

    accepted: int
    duplicates: int
    held: int


@dataclass(frozen=True)
class AuditEvent:
    """One append-only audit line: who did what to which entity, and when."""

    id: int
    at: datetime
    tenant: str
    entity: str
    entity_id: str
    event: str
    detail: dict[str, Any]
    actor: str


@dataclass(frozen=True)
class Batch:
    """Files handed to one Dagster run; the id is the sensor's run key."""

    id: str
    tenant: str
    file_ids: tuple[int, ...]
    created_at: datetime


@dataclass(frozen=True)
class PlannedPosting:
    """A record to post to a target: its deterministic reference and the hash of its payload.

    `payload_hash` changes whenever what would be sent changes (a mapping fix, a new amount);
    it is how the ledger tells a re-plan from a repeat. `waiting` (payments) says what the
    posting waits for before it may be sent: it is planned `waiting` with that reason, and
    moves to `planned` on the first plan without one.
    """

    record_id: int
    external_ref: str
    payload_hash: str
    waiting: str | None = None


@dataclass(frozen=True)
class PostingRow:
    """One record's posting to one target, as the ledger holds it.

    `claimed_from` is set only on rows returned by `Ledger.claim_postings`: the state the row
    was claimed from. A row claimed from `sending` (an expired lease) or `unknown` may already
    be in the ERP, so it must be looked up before anything is sent (`needs_lookup_first`).
    """

    id: int
    tenant: str
    record_id: int
    target: str
    external_ref: str
    payload_hash: str
    state: PostingState
    attempt: int
    lease_owner: str | None
    lease_until: datetime | None
    erp_doc_id: str | None
    last_response: str | None
    reason: str | None
    created_at: datetime
    updated_at: datetime
    posted_at: datetime | None = None
    claimed_from: PostingState | None = None
    kind: PostingKind = PostingKind.INVOICE

    @property
    def needs_lookup_first(self) -> bool:
        """True when the previous attempt may have reached the ERP."""
        return self.claimed_from in LOOKUP_FIRST_POSTING_STATES
