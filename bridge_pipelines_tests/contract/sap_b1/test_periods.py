"""Posting periods: B1 posts a document into its DocDate's period, and refuses a locked one.

The answer to a document dated in a locked period is a 400 with code -4013, "Posting period
locked; specify an alternative date" (erp-facts.md, SAP B1). The sandbox's seeded calendar:
the current, previous and next months open, older and later ones locked.
"""

from datetime import UTC, date, datetime

import pytest

from bridge_pipelines_tests.contract.sap_b1 import payloads

pytestmark = pytest.mark.contract

LOCKED = (-4013, "Posting period locked; specify an alternative date")


@pytest.fixture
def session(sapb1_sandbox):
    return sapb1_sandbox.login()


def _month(offset: int) -> date:
    """The 10th of the month `offset` months from the current one."""
    today = datetime.now(UTC).date()
    index = today.year * 12 + today.month - 1 + offset
    return date(index // 12, index % 12 + 1, 10)


def _invoice(sandbox, session, day: date, ref: str = "INV-1001"):
    body = payloads.service_invoice(ref, DocDate=day.isoformat(), TaxDate=day.isoformat())
    return sandbox.request("POST", "PurchaseInvoices", session, json=body)


def _journal(sandbox, session, day: date):
    body = {**payloads.journal(), "ReferenceDate": day.isoformat()}
    return sandbox.request("POST", "JournalEntries", session, json=body)


def _error(response):
    error = response.json()["error"]
    return error["code"], error["message"]["value"]


def test_sapb1_document_posts_into_its_docdates_open_period(sapb1_sandbox, session):
    day = _month(-1)
    # The current period locked: the document's own period decides, not today's.
    sapb1_sandbox.admin.set_period(f"{_month(0):%Y-%m}", "closed")
    response = _invoice(sapb1_sandbox, session, day)
    assert response.status_code == 201 and response.json()["DocDate"] == day.isoformat()
    [doc] = sapb1_sandbox.admin.documents()
    assert doc["DocDate"] == day.isoformat()


def test_sapb1_document_in_a_locked_period_is_refused_with_4013(sapb1_sandbox, session):
    day = _month(-1)
    sapb1_sandbox.admin.set_period(f"{day:%Y-%m}", "closed")
    response = _invoice(sapb1_sandbox, session, day)
    assert response.status_code == 400 and _error(response) == LOCKED
    journal = _journal(sapb1_sandbox, session, day)
    assert journal.status_code == 400 and _error(journal) == LOCKED
    assert sapb1_sandbox.admin.documents() == []


@pytest.mark.parametrize("offset", [-2, 2])
def test_sapb1_seeded_calendar_locks_older_and_later_periods(sapb1_sandbox, session, offset):
    response = _invoice(sapb1_sandbox, session, _month(offset))
    assert response.status_code == 400 and _error(response) == LOCKED
    assert sapb1_sandbox.admin.documents() == []


def test_sapb1_next_period_is_open_and_a_reopened_one_takes_documents(sapb1_sandbox, session):
    assert _invoice(sapb1_sandbox, session, _month(1)).status_code == 201
    old = _month(-5)
    sapb1_sandbox.admin.set_period(f"{old:%Y-%m}", "open")
    assert _invoice(sapb1_sandbox, session, old, "INV-1002").status_code == 201
    assert len(sapb1_sandbox.admin.documents()) == 2


def test_sapb1_sandbox_period_calendar_is_listed(sapb1_sandbox):
    calendar = sapb1_sandbox.admin.periods()
    assert [calendar[f"{_month(n):%Y-%m}"] for n in (-2, -1, 0, 1, 2)] == [
        "closed",
        "open",
        "open",
        "open",
        "closed",
    ]
