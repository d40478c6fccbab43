"""$orderby, $expand, $count, B1S-PageSize, and options the Service Layer does not implement."""

import pytest

from bridge_pipelines_tests.contract.sap_b1 import payloads

pytestmark = pytest.mark.contract


@pytest.fixture
def session(sapb1_sandbox):
    cookies = sapb1_sandbox.login()
    for n in range(25):
        body = payloads.service_invoice(f"INV-{n:03d}", card_code="V10001" if n % 2 else "V10002")
        assert (
            sapb1_sandbox.request("POST", "PurchaseInvoices", cookies, json=body).status_code == 201
        )
    return cookies


def _get(sandbox, cookies, path="PurchaseInvoices", version="v1", headers=None, **params):
    return sandbox.request("GET", path, cookies, version=version, params=params, headers=headers)


def test_sapb1_orderby_desc(sapb1_sandbox, session):
    body = _get(sapb1_sandbox, session, **{"$select": "DocEntry", "$orderby": "DocEntry desc",
                                           "$top": "3"}).json()  # fmt: skip
    assert [r["DocEntry"] for r in body["value"]] == [25, 24, 23]


def test_sapb1_orderby_several_keys(sapb1_sandbox, session):
    body = _get(sapb1_sandbox, session, **{
        "$select": "CardCode,NumAtCard", "$orderby": "CardCode asc,NumAtCard desc", "$top": "14"
    }).json()  # fmt: skip
    rows = [(r["CardCode"], r["NumAtCard"]) for r in body["value"]]
    assert rows[:2] == [("V10001", "INV-023"), ("V10001", "INV-021")]
    assert rows[12:] == [("V10002", "INV-024"), ("V10002", "INV-022")]


def test_sapb1_orderby_unknown_property_is_400_code_201(sapb1_sandbox, session):
    response = _get(sapb1_sandbox, session, **{"$orderby": "Colour desc"})
    assert response.status_code == 400 and response.json()["error"]["code"] == 201


def test_sapb1_expand_business_partner_of_documents(sapb1_sandbox, session):
    params = {"$select": "DocEntry,CardCode", "$expand": "BusinessPartner", "$top": "1"}
    body = _get(sapb1_sandbox, session, version="v2", **params).json()
    row = body["value"][0]
    assert row["BusinessPartner"]["CardCode"] == row["CardCode"] == "V10002"
    assert "CardName" in row["BusinessPartner"]


def test_sapb1_expand_document_lines_with_select(sapb1_sandbox, session):
    row = _get(sapb1_sandbox, session, path="PurchaseInvoices(1)", **{
        "$select": "DocEntry", "$expand": "DocumentLines"}).json()  # fmt: skip
    assert row["DocEntry"] == 1
    assert [line["LineNum"] for line in row["DocumentLines"]] == [0, 1]


def test_sapb1_expand_bp_addresses(sapb1_sandbox):
    cookies = sapb1_sandbox.login()
    row = _get(sapb1_sandbox, cookies, path="BusinessPartners('V10001')", **{
        "$select": "CardCode", "$expand": "BPAddresses"}).json()  # fmt: skip
    assert row["BPAddresses"][0]["AddressType"] == "bo_BillTo"
    assert row["BPAddresses"][0]["BPCode"] == "V10001"


def test_sapb1_expand_of_unknown_navigation_is_400(sapb1_sandbox, session):
    response = _get(sapb1_sandbox, session, **{"$expand": "Supplier"})
    assert response.status_code == 400 and response.json()["error"]["code"] == 201


def test_sapb1_v2_count_true_and_count_path(sapb1_sandbox, session):
    params = {"$count": "true", "$top": "1", "$filter": "CardCode eq 'V10001'"}
    body = _get(sapb1_sandbox, session, version="v2", **params).json()
    assert body["@odata.count"] == 12 and len(body["value"]) == 1
    plain = _get(sapb1_sandbox, session, path="PurchaseInvoices/$count", version="v2")
    assert plain.status_code == 200 and plain.text == "25"


def test_sapb1_v1_inlinecount(sapb1_sandbox, session):
    body = _get(sapb1_sandbox, session, **{"$inlinecount": "allpages", "$top": "2"}).json()
    assert body["odata.count"] == 25


def test_sapb1_v1_has_no_count_option(sapb1_sandbox, session):
    # $count=true is OData v4; the v3 service refuses it rather than ignoring it.
    response = _get(sapb1_sandbox, session, **{"$count": "true"})
    assert response.status_code == 400 and response.json()["error"]["code"] == 201


@pytest.mark.parametrize("option", ["$search", "$apply", "$skiptoken", "$levels"])
def test_sapb1_unsupported_option_is_refused_not_ignored(sapb1_sandbox, session, option):
    response = _get(sapb1_sandbox, session, version="v2", **{option: "x"})
    assert response.status_code == 400
    assert (
        response.json()["error"]["code"] == "201" and option in response.json()["error"]["message"]
    )


def test_sapb1_b1s_pagesize_header_sets_the_page(sapb1_sandbox, session):
    body = _get(sapb1_sandbox, session, headers={"B1S-PageSize": "10"}, **{"$select": "DocEntry"})
    assert len(body.json()["value"]) == 10
    assert body.json()["odata.nextLink"] == "PurchaseInvoices?$select=DocEntry&$skip=10"
    assert "Preference-Applied" not in body.headers


def test_sapb1_b1s_pagesize_zero_turns_paging_off(sapb1_sandbox, session):
    body = _get(sapb1_sandbox, session, headers={"B1S-PageSize": "0"}).json()
    assert len(body["value"]) == 25 and "odata.nextLink" not in body


def test_sapb1_prefer_maxpagesize_wins_over_b1s_pagesize(sapb1_sandbox, session):
    response = _get(sapb1_sandbox, session, headers={
        "B1S-PageSize": "10", "Prefer": "odata.maxpagesize=5"})  # fmt: skip
    assert len(response.json()["value"]) == 5
    assert response.headers["Preference-Applied"] == "odata.maxpagesize=5"
