"""Exact values on every backend: Decimal as text, no floats, tz-aware datetimes only."""

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy.dialects import postgresql, sqlite

from bridge_pipelines.ledger.coltypes import Money, UtcDateTime, plain_json
from bridge_pipelines.ledger.repository import batch_id_for, changed_fields


def test_plain_json_keeps_money_exact_and_refuses_floats() -> None:
    value = {"total": Decimal("1.10"), "day": date(2025, 3, 1), "lines": ({"n": 1},)}
    assert plain_json(value) == {"total": "1.10", "day": "2025-03-01", "lines": [{"n": 1}]}
    with pytest.raises(TypeError, match="float"):
        plain_json({"total": 1.1})
    with pytest.raises(TypeError):
        plain_json(Decimal("NaN"))


def test_changed_fields_names_top_level_keys_that_differ() -> None:
    old = {"total": "100.00", "memo": "a", "vendor": "V1"}
    new = {"total": Decimal("120.00"), "memo": "a", "due": "2025-04-01", "vendor": "V1"}
    assert changed_fields(old, new) == ["due", "total"]
    assert changed_fields(old, {**old, "total": Decimal("100.00")}) == []


def test_batch_id_depends_only_on_tenant_and_the_set_of_files() -> None:
    assert batch_id_for("acme", [3, 1, 2]) == batch_id_for("acme", [1, 2, 3, 3])
    assert batch_id_for("acme", [1, 2]) != batch_id_for("acme", [1, 2, 3])
    assert batch_id_for("acme", [1]) != batch_id_for("globex", [1])
    assert batch_id_for("acme", [1]).startswith("b-")


def test_money_is_text_on_sqlite_and_never_a_float() -> None:
    money = Money()
    assert money.process_bind_param(Decimal("0.10"), sqlite.dialect()) == "0.10"
    assert money.process_bind_param(Decimal("0.10"), postgresql.dialect()) == Decimal("0.10")
    assert money.process_result_value("0.10", sqlite.dialect()) == Decimal("0.10")
    with pytest.raises(TypeError):
        money.process_bind_param(0.1, sqlite.dialect())  # type: ignore[arg-type]


def test_datetimes_are_stored_as_utc_and_naive_ones_refused() -> None:
    stamp = UtcDateTime()
    paris = datetime(2025, 3, 14, 10, tzinfo=timezone(timedelta(hours=1)))
    stored = stamp.process_bind_param(paris, sqlite.dialect())
    assert stored == datetime(2025, 3, 14, 9)
    assert stamp.process_result_value(stored, sqlite.dialect()) == paris
    assert stamp.process_result_value(stored, sqlite.dialect()).tzinfo == UTC
    with pytest.raises(ValueError, match="naive"):
        stamp.process_bind_param(datetime(2025, 3, 14, 9), sqlite.dialect())
