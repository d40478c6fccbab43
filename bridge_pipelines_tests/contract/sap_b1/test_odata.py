"""OData query options: $filter, $select, $top/$skip, paging, nextLink, $count."""

import pytest

from bridge_pipelines_tests.contract.sap_b1 import payloads

pytestmark = pytest.mark.contract


@pytest.fixture
def session(sapb1_sandbox):
    cookies = sapb1_sandbox.login()
    for n in range(25):
        body = payloads.service_invoice(f"INV-{n:03d}", card_code="V10001" if n % 2 else "V10002")
        response = sapb1_sandbox.request("POST", "PurchaseInvoices", cookies, json=body)
        assert response.status_code == 201
    return cookies


def _get(sandbox, cookies, path="PurchaseInvoices", version="v1", headers=None, **params):
    return sandbox.request("GET", path, cookies, version=version, params=params, headers=headers)


def test_sapb1_filter_lookup_by_cardcode_and_numatcard(sapb1_sandbox, session):
    response = _get(sapb1_sandbox, session, **{
        "$filter": "CardCode eq 'V10001' and NumAtCard eq 'INV-003' and Cancelled eq 'tNO'",
        "$select": "DocEntry,DocNum"})  # fmt: skip
    assert response.json()["value"] == [{"DocEntry": 4, "DocNum": 4}]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("CardCode ne 'V10001'", 13),
        ("startswith(NumAtCard,'INV-01')", 10),
        ("contains(NumAtCard,'-02')", 5),
        ("DocTotal eq 1025.5 and (NumAtCard eq 'INV-000' or NumAtCard eq 'INV-001')", 2),
        ("not (CardCode eq 'V10001')", 13),
        ("DocTotal gt 2000", 0),
    ],
)
def test_sapb1_filter_operators(sapb1_sandbox, session, expression, expected):
    response = _get(
        sapb1_sandbox, session, path="PurchaseInvoices/$count", **{"$filter": expression}
    )
    assert response.status_code == 200 and response.text == str(expected)


@pytest.mark.parametrize("expression", ["Colour eq 'red'", "CardCode eq", "CardCode like 'x'"])
def test_sapb1_bad_filter_is_400_code_201(sapb1_sandbox, session, expression):
    response = _get(sapb1_sandbox, session, **{"$filter": expression})
    assert response.status_code == 400 and response.json()["error"]["code"] == 201


def test_sapb1_default_page_is_20_with_relative_nextlink(sapb1_sandbox, session):
    first = _get(sapb1_sandbox, session, **{"$select": "DocEntry"}).json()
    assert len(first["value"]) == 20
    assert first["odata.nextLink"] == "PurchaseInvoices?$select=DocEntry&$skip=20"
    second = _get(sapb1_sandbox, session, **{"$select": "DocEntry", "$skip": "20"}).json()
    assert [r["DocEntry"] for r in second["value"]] == [21, 22, 23, 24, 25]
    assert "odata.nextLink" not in second


def test_sapb1_v2_nextlink_key(sapb1_sandbox, session):
    body = _get(sapb1_sandbox, session, version="v2").json()
    assert body["@odata.nextLink"] == "PurchaseInvoices?$skip=20" and "odata.nextLink" not in body


def test_sapb1_maxpagesize_is_applied_and_echoed(sapb1_sandbox, session):
    response = _get(sapb1_sandbox, session, headers={"Prefer": "odata.maxpagesize=7"})
    assert response.headers["Preference-Applied"] == "odata.maxpagesize=7"
    assert len(response.json()["value"]) == 7
    unpaged = _get(sapb1_sandbox, session, headers={"Prefer": "odata.maxpagesize=0"}).json()
    assert len(unpaged["value"]) == 25 and "odata.nextLink" not in unpaged


def test_sapb1_full_last_page_still_carries_a_nextlink(sapb1_sandbox, session):
    page = _get(
        sapb1_sandbox, session, headers={"Prefer": "odata.maxpagesize=5"}, **{"$skip": "20"}
    ).json()
    assert len(page["value"]) == 5 and page["odata.nextLink"].endswith("$skip=25")
    empty = _get(sapb1_sandbox, session, **{"$skip": "25"}).json()
    assert empty["value"] == [] and "odata.nextLink" not in empty


def test_sapb1_top_and_skip(sapb1_sandbox, session):
    body = _get(sapb1_sandbox, session, **{"$top": "3", "$skip": "2", "$select": "DocNum"}).json()
    assert body["value"] == [{"DocNum": 3}, {"DocNum": 4}, {"DocNum": 5}]
    assert "odata.nextLink" not in body


def test_sapb1_count_plain_text_and_inline(sapb1_sandbox, session):
    response = _get(sapb1_sandbox, session, path="PurchaseInvoices/$count")
    assert response.text == "25" and response.headers["content-type"].startswith("text/plain")
    assert (
        _get(sapb1_sandbox, session, version="v2", **{"$count": "true"}).json()["@odata.count"]
        == 25
    )
    assert _get(sapb1_sandbox, session, **{"$inlinecount": "allpages"}).json()["odata.count"] == 25


def test_sapb1_select_unknown_property_is_400(sapb1_sandbox, session):
    response = _get(sapb1_sandbox, session, **{"$select": "DocEntry,Nope"})
    assert response.status_code == 400
