"""The ledger's state machines: which states exist and which moves between them are allowed.

A file moves `seen → stable → downloaded → parsed`, or ends early as `quarantined`,
`duplicate` or `vanished`. Terminal states never change again: that is what lets a sensor fire
twice or a run restart without taking a file twice. A record is written once in its final
state (`accepted`, `duplicate` or `held`); reviewing held records comes with a later issue.
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
