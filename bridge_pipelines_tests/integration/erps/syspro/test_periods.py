"""The period an invoice lands in: its posting date's month, never SYSPRO's current one."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qs

import pytest

from bridge_pipelines.erps.syspro.errors import SysproPeriodClosedError
from bridge_pipelines.errors import PeriodClosedError
from bridge_pipelines_tests.integration.erps.syspro.helpers import adapter_for, calls, invoice


def _last_month() -> date:
    return datetime.now(UTC).date().replace(day=1) - timedelta(days=1)


def test_an_invoice_posted_in_a_past_open_month_lands_in_that_months_period(syspro_sandbox):
    posted_on = _last_month()
    # The current period closed: it is not where the invoice goes, so it does not matter.
    syspro_sandbox.admin.set_period(f"{datetime.now(UTC):%Y-%m}", "closed")
    dated = replace(invoice(), invoice_date=posted_on - timedelta(days=3), posting_date=posted_on)
    with adapter_for(syspro_sandbox) as adapter:
        adapter.post_invoice(dated)
    [doc] = syspro_sandbox.admin.documents()
    assert (doc["TrnYear"], doc["TrnMonth"]) == (posted_on.year, posted_on.month)
    assert (doc["GlYear"], doc["GlPeriod"]) == (posted_on.year, posted_on.month)
    [post] = calls(syspro_sandbox, "/Transaction/Post")
    [parameters] = parse_qs(post["query"])["XmlParameters"]
    assert f"<PostingPeriod>{posted_on.month:02d}</PostingPeriod>" in parameters
    assert f"<PostingYear>{posted_on.year:04d}</PostingYear>" in parameters


def test_a_closed_period_is_refused_as_a_period_closed_error_with_syspros_reason(
    syspro_sandbox,
):
    posted_on = _last_month()
    syspro_sandbox.admin.set_period(f"{posted_on:%Y-%m}", "closed")
    dated = replace(invoice(), invoice_date=posted_on, posting_date=posted_on)
    with adapter_for(syspro_sandbox) as adapter, pytest.raises(PeriodClosedError) as caught:
        adapter.post_invoice(dated)
    assert isinstance(caught.value, SysproPeriodClosedError)
    reason = f"Posting period {posted_on:%Y/%m} is closed"
    assert reason in str(caught.value) and reason in (caught.value.response or "")
    assert syspro_sandbox.admin.documents() == []


def test_another_refusal_is_not_a_period_error(syspro_sandbox):
    with adapter_for(syspro_sandbox) as adapter, pytest.raises(Exception) as caught:
        adapter.post_invoice(invoice(vendor="SUP09999"))
    assert not isinstance(caught.value, PeriodClosedError)
