"""Column types that keep money exact, datetimes tz-aware and JSON free of floats on every backend.

SQLite has no decimal or timezone type: money is stored there as text and datetimes as naive
UTC text, and both come back as `Decimal` and tz-aware UTC `datetime` like they do from
PostgreSQL, so callers never see the difference.
"""

from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
"""Surrogate keys: 64-bit on PostgreSQL; SQLite needs `INTEGER` for its rowid alias."""

Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
"""Payloads and details; JSONB on PostgreSQL so they can be queried and indexed later."""


class UtcDateTime(TypeDecorator[datetime]):
    """A tz-aware UTC datetime; naive datetimes are refused rather than guessed."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """To UTC; naive on SQLite, which has no zone."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime refused: {value!r}")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Back to tz-aware UTC."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Money(TypeDecorator[Decimal]):
    """An exact amount: unconstrained NUMERIC on PostgreSQL (keeps the scale), text on SQLite."""

    impl = sa.Numeric
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        """Text on SQLite, whose NUMERIC would round through a float."""
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.String(64))
        return dialect.type_descriptor(sa.Numeric(asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        """Refuse anything but a finite Decimal."""
        if value is None:
            return None
        if not isinstance(value, Decimal) or not value.is_finite():
            raise TypeError(f"money must be a finite Decimal, got {value!r}")
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        """Always a Decimal."""
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(str(value))


def plain_json(value: Any) -> Any:
    """The JSON form the ledger stores: Decimal and dates as strings, tuples as lists.

    Floats are refused: an amount that went through a float is already wrong.

    Raises:
        TypeError: a value with no exact JSON form (float, bytes, arbitrary objects).
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise TypeError(f"non-finite Decimal refused: {value!r}")
        return str(value)
    if isinstance(value, Enum):
        return plain_json(value.value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): plain_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain_json(v) for v in value]
    raise TypeError(f"no exact JSON form for {type(value).__name__}: {value!r}")
