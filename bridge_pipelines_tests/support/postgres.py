"""The `pg_url` fixture: an empty PostgreSQL database per test (see `sandbox.postgres`)."""

from collections.abc import Iterator

import pytest

from bridge_pipelines.sandbox.postgres import (
    UNREACHABLE,
    create_database,
    drop_database,
    postgres_reachable,
)
from bridge_pipelines_tests.support.services import require_or_skip


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    require_or_skip(postgres_reachable(), UNREACHABLE)
    url = create_database()
    try:
        yield url
    finally:
        drop_database(url)
