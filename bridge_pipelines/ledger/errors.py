"""Errors the ledger raises on purpose; all are bugs, lost races or conflicts, never bad input."""

from bridge_pipelines.errors import BridgeError


class InvalidTransitionError(BridgeError):
    """A state change the state machine does not allow (or another worker made it first)."""


class UnknownEntityError(BridgeError):
    """A file or batch id the ledger does not hold, or one that belongs to another tenant."""


class LeaseLostError(InvalidTransitionError):
    """A posting write by an owner whose lease was taken over (or whose row moved on): stop.

    The fence (`lease_owner = :me` and the expected state) matched no row, so another worker
    now owns the posting; the caller must not touch it, and above all must not send it.
    """


class ExternalRefConflictError(BridgeError):
    """An external_ref (or record and target) already planned for something else.

    Either a hash collision or a second record for the same document: nothing is planned for
    it, an operator decides.
    """
