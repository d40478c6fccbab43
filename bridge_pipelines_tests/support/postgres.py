"""Throwaway PostgreSQL databases: one fresh database per test, dropped after it.

`create_database()` / `drop_database()` also work outside pytest (benchmarks, demos).
"""

import os
import secrets
from collections.abc import Iterator
from functools import cache

import psycopg2
import pytest
import sqlalchemy as sa
from psycopg2 import sql

from bridge_pipelines_tests.support.services import require_or_skip

ADMIN_URL = os.environ.get(
    "BRIDGE_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
UNREACHABLE = "PostgreSQL not reachable at 127.0.0.1:5432"


def _admin_connection(admin_url: str = ADMIN_URL):  # type: ignore[no-untyped-def]
    url = sa.make_url(admin_url)
    conn = psycopg2.connect(
        host=url.host,
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        dbname=url.database,
        connect_timeout=3,
    )
    conn.autocommit = True
    return conn


@cache
def postgres_reachable(admin_url: str = ADMIN_URL) -> bool:
    """True when the admin database accepts a connection (checked once per process)."""
    try:
        _admin_connection(admin_url).close()
    except psycopg2.OperationalError:
        return False
    return True


def create_database(admin_url: str = ADMIN_URL, prefix: str = "bridge_t_") -> str:
    """Create an empty database with a random name; returns its SQLAlchemy URL."""
    name = f"{prefix}{secrets.token_hex(6)}"
    conn = _admin_connection(admin_url)
    try:
        with conn.cursor() as cur:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        conn.close()
    url = sa.make_url(admin_url).set(drivername="postgresql+psycopg2", database=name)
    return url.render_as_string(hide_password=False)


def drop_database(url: str, admin_url: str = ADMIN_URL) -> None:
    """Drop a database made by `create_database`, even with connections still open."""
    name = sa.make_url(url).database
    assert name, url
    conn = _admin_connection(admin_url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
    finally:
        conn.close()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    require_or_skip(postgres_reachable(), UNREACHABLE)
    url = create_database()
    try:
        yield url
    finally:
        drop_database(url)
