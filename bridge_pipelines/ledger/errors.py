"""Errors the ledger raises on purpose; both are bugs or lost races, never bad input."""

from bridge_pipelines.errors import BridgeError


class InvalidTransitionError(BridgeError):
    """A state change the state machine does not allow (or another worker made it first)."""


class UnknownEntityError(BridgeError):
    """A file or batch id the ledger does not hold, or one that belongs to another tenant."""
