"""The ledger's state machines: which states exist and which moves between them are allowed.

A file moves `seen → stable → downloaded → parsed`, or ends early as `quarantined`,
`duplicate` or `vanished`. Terminal states never change again: that is what lets a sensor fire
twice or a run restart without taking a file twice. A record is written once in its final
state (`accepted`, `duplicate` or `held`); reviewing held records comes with a later issue.

A posting (one record sent to one ERP company) follows reliability.md §2:

```
planned ──claim──▶ sending ──▶ posted | rejected | unknown | needs_review | planned
unknown ──lookup─▶ posted | planned | needs_review      (or claimed again: ──▶ sending)
rejected ─────────▶ planned      only with a new payload_hash (re-plan after a mapping fix)
needs_review ─────▶ planned | posted                    by an operator's resolution
waiting ──────────▶ planned                             once what it depends on is posted
```

`waiting` is a payment's (issue 15): it settles invoices not yet posted, so it is neither
claimable nor a problem; its reason says what it waits for, and a later plan moves it to
`planned` once every invoice it settles is posted.

`sending` is also claimed again (`sending ──▶ sending`) by another owner once its lease has
expired; such a row, like one claimed from `unknown`, is looked up in the ERP before anything
is sent. `sending ──▶ planned` is only for rows that never reached the ERP.
"""

from enum import StrEnum

from bridge_pipelines.ledger.errors import InvalidTransitionError


class FileState(StrEnum):
    """Where a remote file is in intake."""

    SEEN = "seen"
    STABLE = "stable"
    DOWNLOADED = "downloaded"
    PARSED = "parsed"
    QUARANTINED = "quarantined"
    DUPLICATE = "duplicate"
    VANISHED = "vanished"

    @property
    def terminal(self) -> bool:
        """True once nothing more will happen to the file."""
        return self in TERMINAL_FILE_STATES


class RecordState(StrEnum):
    """What became of one source document."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    HELD = "held"


class PostingState(StrEnum):
    """Where one record's posting to one ERP company stands."""

    PLANNED = "planned"
    SENDING = "sending"
    POSTED = "posted"
    REJECTED = "rejected"
    UNKNOWN = "unknown"
    NEEDS_REVIEW = "needs_review"
    WAITING = "waiting"


class PostingKind(StrEnum):
    """What a posting sends: an AP document (invoice, credit memo) or a payment of them."""

    INVOICE = "invoice"
    PAYMENT = "payment"


TERMINAL_FILE_STATES = frozenset(
    {FileState.PARSED, FileState.QUARANTINED, FileState.DUPLICATE, FileState.VANISHED}
)
PENDING_FILE_STATES = frozenset({FileState.STABLE, FileState.DOWNLOADED})

FILE_TRANSITIONS: dict[FileState, frozenset[FileState]] = {
    # A name may be refused (quarantined) or disappear before it ever settles.
    FileState.SEEN: frozenset({FileState.STABLE, FileState.QUARANTINED, FileState.VANISHED}),
    FileState.STABLE: frozenset(
        {FileState.DOWNLOADED, FileState.DUPLICATE, FileState.QUARANTINED, FileState.VANISHED}
    ),
    FileState.DOWNLOADED: frozenset({FileState.PARSED, FileState.QUARANTINED}),
    FileState.PARSED: frozenset(),
    FileState.QUARANTINED: frozenset(),
    FileState.DUPLICATE: frozenset(),
    FileState.VANISHED: frozenset(),
}

# Records are inserted in their final state; the review of held records (a later issue) adds
# its moves here.
RECORD_TRANSITIONS: dict[RecordState, frozenset[RecordState]] = {
    RecordState.ACCEPTED: frozenset(),
    RecordState.DUPLICATE: frozenset(),
    RecordState.HELD: frozenset(),
}


POSTING_TRANSITIONS: dict[PostingState, frozenset[PostingState]] = {
    PostingState.PLANNED: frozenset({PostingState.SENDING}),
    PostingState.SENDING: frozenset(
        {
            PostingState.SENDING,
            PostingState.POSTED,
            PostingState.REJECTED,
            PostingState.UNKNOWN,
            PostingState.NEEDS_REVIEW,
            PostingState.PLANNED,
        }
    ),
    PostingState.UNKNOWN: frozenset(
        {PostingState.SENDING, PostingState.POSTED, PostingState.PLANNED, PostingState.NEEDS_REVIEW}
    ),
    PostingState.REJECTED: frozenset({PostingState.PLANNED}),
    PostingState.NEEDS_REVIEW: frozenset({PostingState.PLANNED, PostingState.POSTED}),
    PostingState.POSTED: frozenset(),
    PostingState.WAITING: frozenset({PostingState.PLANNED}),
}

# Claimable by a new owner (the expired-lease condition is checked in SQL).
CLAIMABLE_POSTING_STATES = frozenset(
    {PostingState.PLANNED, PostingState.SENDING, PostingState.UNKNOWN}
)
# A row claimed from one of these may already be in the ERP: look it up before sending.
LOOKUP_FIRST_POSTING_STATES = frozenset({PostingState.SENDING, PostingState.UNKNOWN})


def check_file_transition(current: FileState, target: FileState) -> None:
    """Refuse a file state change the machine does not allow.

    Raises:
        InvalidTransitionError: `target` is not reachable from `current` in one step.
    """
    if target not in FILE_TRANSITIONS[current]:
        raise InvalidTransitionError(f"file cannot go from {current} to {target}")


def check_record_transition(current: RecordState, target: RecordState) -> None:
    """Refuse a record state change the machine does not allow.

    Raises:
        InvalidTransitionError: `target` is not reachable from `current` in one step.
    """
    if target not in RECORD_TRANSITIONS[current]:
        raise InvalidTransitionError(f"record cannot go from {current} to {target}")


def check_posting_transition(current: PostingState, target: PostingState) -> None:
    """Refuse a posting state change the machine does not allow.

    Raises:
        InvalidTransitionError: `target` is not reachable from `current` in one step.
    """
    if target not in POSTING_TRANSITIONS[current]:
        raise InvalidTransitionError(f"posting cannot go from {current} to {target}")
