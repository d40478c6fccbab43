"""Shared fixtures. Fixtures of a tier live in `support/` and are registered here."""

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

# Property tests: `ci` (the default) is small and derandomized, so CI is fast and repeatable;
# `HYPOTHESIS_PROFILE=deep` runs >= 10,000 examples per property with fresh randomness.
settings.register_profile(
    "ci",
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "deep",
    max_examples=10_000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

pytest_plugins = [
    "bridge_pipelines_tests.support.services",
    "bridge_pipelines_tests.support.sshd",
    "bridge_pipelines_tests.support.postgres",
    "bridge_pipelines_tests.support.tenant_fixtures",
    "bridge_pipelines_tests.support.erp_sandboxes",
    "bridge_pipelines_tests.support.sinks",
]


@pytest.fixture(autouse=True)
def _process_state_restored() -> Iterator[None]:
    """A test that changes the environment or the working directory does not leak it.

    Settings are read from the environment on every call, so a `BRIDGE_*` variable or a
    working directory left behind by one test (a demo home's `tenants/`) changes what later
    tests load (partner assets appearing in the definitions' snapshot).
    """
    cwd = os.getcwd()
    environment = dict(os.environ)
    yield
    if os.getcwd() != cwd:
        os.chdir(cwd)
    if dict(os.environ) != environment:
        os.environ.clear()
        os.environ.update(environment)
