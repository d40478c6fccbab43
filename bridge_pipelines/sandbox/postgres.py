"""Throwaway PostgreSQL databases, for the tests, the fault matrix and the soak bench.

`create_database()` makes an empty database with a random name on a running server;
`drop_database()` removes it even with connections still open. The tests' `pg_url` fixture
(`bridge_pipelines_tests/support/postgres.py`) wraps them for one test.
"""

import os
import secrets
from functools import cache
from typing import Any

import psycopg2
import sqlalchemy as sa
from psycopg2 import sql

ADMIN_URL = os.environ.get(
    "BRIDGE_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
UNREACHABLE = "PostgreSQL not reachable at 127.0.0.1:5432"


def _admin_connection(admin_url: str = ADMIN_URL) -> Any:  # psycopg2 ships no types
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
