"""The file state machine: the only moves allowed, and terminal states that never move."""

import pytest

from bridge_pipelines.ledger.errors import InvalidTransitionError
from bridge_pipelines.ledger.states import (
    FILE_TRANSITIONS,
    FileState,
    RecordState,
    check_file_transition,
    check_record_transition,
)

ALLOWED = {
    ("seen", "stable"),
    ("seen", "quarantined"),
    ("seen", "vanished"),
    ("stable", "downloaded"),
    ("stable", "duplicate"),
    ("stable", "quarantined"),
    ("stable", "vanished"),
    ("downloaded", "parsed"),
    ("downloaded", "quarantined"),
}


@pytest.mark.parametrize("current", list(FileState))
@pytest.mark.parametrize("target", list(FileState))
def test_only_the_documented_file_moves_are_allowed(current: FileState, target: FileState) -> None:
    if (current.value, target.value) in ALLOWED:
        check_file_transition(current, target)
    else:
        with pytest.raises(InvalidTransitionError, match=f"from {current} to {target}"):
            check_file_transition(current, target)


def test_terminal_states_are_exactly_the_ones_with_no_way_out() -> None:
    terminal = {s for s in FileState if s.terminal}
    assert terminal == {s for s, moves in FILE_TRANSITIONS.items() if not moves}
    assert {s.value for s in terminal} == {"parsed", "quarantined", "duplicate", "vanished"}


def test_records_are_written_in_their_final_state() -> None:
    for current in RecordState:
        for target in RecordState:
            with pytest.raises(InvalidTransitionError):
                check_record_transition(current, target)
