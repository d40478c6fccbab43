"""The period an A/P document lands in: DocDate is the posting date, TaxDate the invoice date."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from bridge_pipelines.erps.sap_b1.errors import SapB1PeriodClosedError
from bridge_pipelines.errors import PeriodClosedError
from bridge_pipelines_tests.integration.erps.sap_b1.helpers import adapter_for, invoice, posted


def _last_month() -> date:
    return datetime.now(UTC).date().replace(day=1) - timedelta(days=1)


def test_an_invoice_posted_in_a_past_open_month_lands_in_that_months_period(sapb1_sandbox):
    posted_on = _last_month()
    # The current period closed: it is not where the invoice goes, so it does not matter.
    sapb1_sandbox.admin.set_period(f"{datetime.now(UTC):%Y-%m}", "closed")
    dated = replace(
        invoice(),
        invoice_date=posted_on - timedelta(days=40),
        due_date=posted_on + timedelta(days=30),
        posting_date=posted_on,
    )
    with adapter_for(sapb1_sandbox) as adapter:
        adapter.post_invoice(dated)
    [doc] = posted(sapb1_sandbox)
    assert doc["DocDate"] == posted_on.isoformat()  # the posting date picks the period
    assert f"{doc['DocDate']:.7}" == f"{posted_on:%Y-%m}"


@pytest.mark.parametrize("posting_mode", ["service_invoice", "journal_entry"])
def test_a_locked_period_is_refused_as_a_period_closed_error_with_saps_reason(
    sapb1_sandbox, posting_mode
):
    posted_on = _last_month()
    sapb1_sandbox.admin.set_period(f"{posted_on:%Y-%m}", "closed")
    dated = replace(invoice(), invoice_date=posted_on, posting_date=posted_on)
    with (
        adapter_for(sapb1_sandbox, posting_mode=posting_mode) as adapter,
        pytest.raises(PeriodClosedError) as caught,
    ):
        adapter.post_invoice(dated)
    assert isinstance(caught.value, SapB1PeriodClosedError) and caught.value.sap_code == -4013
    assert "Posting period locked; specify an alternative date" in str(caught.value)
    assert "-4013" in (caught.value.response or "")
    assert sapb1_sandbox.admin.documents() == []
