"""APSTIN's posting period: the period asked for, the sandbox's period calendar, and the refusal.

SYSPRO posts into the current AP month or the ones before it while their access status is Open
(SYSPRO's AP help); the bridge names the period (`PostingPeriod` 1-12 with `PostingYear`) from
the invoice's posting date. A closed period, or one not opened yet, is refused inside the XML
(HTTP 200, `ErrorDescription`), nothing written.
"""

from datetime import UTC, date, datetime

import pytest

from bridge_pipelines_tests.contract.syspro import payloads
from bridge_pipelines_tests.contract.syspro.xml import errors, first

pytestmark = pytest.mark.contract


def _month(offset: int) -> tuple[int, int]:
    today = datetime.now(UTC).date()
    index = today.year * 12 + today.month - 1 + offset
    return index // 12, index % 12 + 1


def _parameters(year: int, month: int) -> str:
    return payloads.post_parameters(period=f"{month:02d}").replace(
        "</PostingPeriod>", f"</PostingPeriod><PostingYear>{year:04d}</PostingYear>"
    )


def _post(sandbox, year: int, month: int, number: str = "INV-1001"):
    user_id = sandbox.logon()
    xml_in = payloads.ap_invoice(invoice=number, invoice_date=date(year, month, 10).isoformat())
    return sandbox.post(user_id, xml_in, xml_parameters=_parameters(year, month))


def _refusal(sandbox, year: int, month: int) -> str:
    response = _post(sandbox, year, month)
    assert response.status_code == 200
    assert first(response.content, "ItemsInvalid") == "000001"
    assert first(response.content, "ItemsProcessed") == "000000"
    assert sandbox.admin.documents() == []
    [message] = errors(response.content)
    return message


def test_syspro_apstin_posts_into_the_open_previous_period_it_names(syspro_sandbox):
    year, month = _month(-1)
    response = _post(syspro_sandbox, year, month)
    assert first(response.content, "ItemsProcessed") == "000001"
    assert (first(response.content, "TrnYear"), first(response.content, "TrnMonth")) == (
        str(year),
        str(month),
    )
    assert first(response.content, "GlPeriod") == str(month)
    [doc] = syspro_sandbox.admin.documents()
    assert (doc["TrnYear"], doc["TrnMonth"]) == (year, month)


def test_syspro_apstin_period_closed_in_the_calendar_is_refused(syspro_sandbox):
    year, month = _month(-1)
    syspro_sandbox.admin.set_period(f"{year:04d}-{month:02d}", "closed")
    message = _refusal(syspro_sandbox, year, month)
    assert message == f"Posting period {year:04d}/{month:02d} is closed"


def test_syspro_apstin_older_period_is_closed_and_a_later_one_not_open(syspro_sandbox):
    year, month = _month(-2)
    assert (
        _refusal(syspro_sandbox, year, month) == f"Posting period {year:04d}/{month:02d} is closed"
    )
    year, month = _month(1)
    now = datetime.now(UTC).date()
    assert _refusal(syspro_sandbox, year, month) == (
        f"Posting period {year:04d}/{month:02d} is not open; the current AP period is "
        f"{now.year:04d}/{now.month:02d}"
    )


def test_syspro_apstin_reopened_period_takes_the_post(syspro_sandbox):
    year, month = _month(-3)
    syspro_sandbox.admin.set_period(f"{year:04d}-{month:02d}", "open")
    response = _post(syspro_sandbox, year, month)
    assert first(response.content, "ItemsProcessed") == "000001"


def test_syspro_sandbox_period_calendar_is_seeded_and_kept(syspro_sandbox):
    key = "{:04d}-{:02d}".format
    calendar = syspro_sandbox.admin.periods()
    assert calendar[key(*_month(0))] == calendar[key(*_month(-1))] == "open"
    assert calendar[key(*_month(-2))] == "closed"
    assert calendar[key(*_month(1))] == "not_open"
    syspro_sandbox.admin.set_period(key(*_month(0)), "closed")
    assert syspro_sandbox.admin.periods()[key(*_month(0))] == "closed"
    assert syspro_sandbox.admin.config()["periods"] == {key(*_month(0)): "closed"}
