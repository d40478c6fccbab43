"""The SYSPRO sandbox's month for the partner exports: OData v4 paging and filters [C: OData v4
`@odata.nextLink`, `$filter` with DateTimeOffset literals; I: the entity sets' columns]."""

import pytest

from bridge_pipelines_tests.support.erp_sandboxes import SysproSandboxHandle

pytestmark = pytest.mark.contract

ORDER = "GlYear,GlPeriod,CostCentre,Journal,EntryNumber"


def _all(syspro: SysproSandboxHandle, **params: str) -> tuple[list[dict], int]:
    response = syspro.odata("GenJournalDetail", **params)
    rows, pages = [], 0
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        rows += body["value"]
        pages += 1
        if "@odata.nextLink" not in body:
            return rows, pages
        response = syspro.http.get(body["@odata.nextLink"], auth=syspro.odata_auth)


def test_server_driven_pages_hold_every_line_once_in_order(
    syspro_sandbox: SysproSandboxHandle,
) -> None:
    syspro_sandbox.admin.configure(odata_page_size=150)
    rows, pages = _all(syspro_sandbox, **{"$orderby": ORDER})
    keys = [(r["GlYear"], r["GlPeriod"], r["Journal"], r["EntryNumber"]) for r in rows]
    assert len(rows) == 800 and len(set(keys)) == 800 and pages == 6
    order = [(r["CostCentre"], r["Journal"], r["EntryNumber"]) for r in rows]
    assert order == sorted(order)
    by_journal: dict[int, int] = {}
    for r in rows:  # money is exact: every journal balances to the cent
        by_journal[r["Journal"]] = by_journal.get(r["Journal"], 0) + round(r["EntryValue"] * 100)
    assert set(by_journal.values()) == {0}


def test_changed_at_filters_take_datetimeoffset_literals(
    syspro_sandbox: SysproSandboxHandle,
) -> None:
    rows, _ = _all(syspro_sandbox, **{"$orderby": ORDER})
    newest = max(r["ChangedAt"] for r in rows)
    later, _ = _all(syspro_sandbox, **{"$filter": f"ChangedAt gt {newest}"})
    assert later == []
    upto, _ = _all(syspro_sandbox, **{"$filter": f"ChangedAt le {newest}", "$orderby": ORDER})
    assert len(upto) == 800


def test_descending_order_is_refused(syspro_sandbox: SysproSandboxHandle) -> None:
    response = syspro_sandbox.odata("GenJournalDetail", **{"$orderby": "Journal desc"})
    assert response.status_code == 400
    assert "ascending" in response.json()["error"]["message"]
