"""Real services the tests need: skipped with a reason on a laptop without them, required in CI."""

import os

import pytest


def require_or_skip(available: bool, reason: str) -> None:
    """Skip when a service is missing, unless `CI` is set: there a missing service is a failure."""
    if available:
        return
    if os.environ.get("CI"):
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)
