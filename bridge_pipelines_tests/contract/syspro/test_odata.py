"""The read-only OData v4 service: basic auth, $filter, $top/$skip and server paging."""

import pytest

pytestmark = pytest.mark.contract


def test_syspro_odata_requires_basic_auth(syspro_sandbox):
    import httpx

    anonymous = httpx.get(f"{syspro_sandbox.odata_url}/ApSupplier")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Basic")
    assert syspro_sandbox.odata("ApSupplier", auth=("BRIDGE", "wrong")).status_code == 401
    not_enabled = syspro_sandbox.odata("ApSupplier", auth=("CLERK", "Clerk#Demo1"))
    assert not_enabled.status_code == 401
    assert syspro_sandbox.odata("ApSupplier").status_code == 200


def test_syspro_odata_is_read_only(syspro_sandbox):
    import httpx

    response = httpx.post(
        f"{syspro_sandbox.odata_url}/ApSupplier",
        json={"Supplier": "X"},
        auth=syspro_sandbox.odata_auth,
    )
    assert response.status_code == 405


def test_syspro_odata_filter_eq_and_contains(syspro_sandbox):
    body = syspro_sandbox.odata(
        "ApSupplier", **{"$filter": "Currency eq 'EUR' and contains(SupplierName,'GmbH')"}
    ).json()
    assert [s["Supplier"] for s in body["value"]] == ["SUP00002"]
    quoted = syspro_sandbox.odata(
        "ApSupplier", **{"$filter": "SupplierName eq 'O''Brien Logistics, LLC'"}
    )
    assert [s["Supplier"] for s in quoted.json()["value"]] == ["SUP00006"]
    either = syspro_sandbox.odata(
        "ApSupplier",
        **{"$filter": "(Supplier eq 'SUP00001' or Supplier eq 'SUP00003') and OnHold eq 'N'"},
    )
    assert [s["Supplier"] for s in either.json()["value"]] == ["SUP00001", "SUP00003"]


def test_syspro_odata_bad_filter_is_400(syspro_sandbox):
    response = syspro_sandbox.odata("ApSupplier", **{"$filter": "Password eq 'x'"})
    assert response.status_code == 400 and "error" in response.json()


def test_syspro_odata_top_and_skip(syspro_sandbox):
    everything = [s["Supplier"] for s in syspro_sandbox.odata("ApSupplier").json()["value"]]
    assert len(everything) == 11
    page = syspro_sandbox.odata("ApSupplier", **{"$top": "3", "$skip": "2"}).json()
    assert [s["Supplier"] for s in page["value"]] == everything[2:5]
    assert "@odata.nextLink" not in page


def test_syspro_odata_pages_with_next_link(syspro_sandbox):
    import httpx

    syspro_sandbox.admin.configure(odata_page_size=4)
    url = f"{syspro_sandbox.odata_url}/ApSupplier?$count=true"
    seen, pages = [], 0
    while url:
        body = httpx.get(url, auth=syspro_sandbox.odata_auth).json()
        assert len(body["value"]) <= 4
        seen += [s["Supplier"] for s in body["value"]]
        url = body.get("@odata.nextLink")
        pages += 1
    assert pages == 3 and len(seen) == len(set(seen)) == 11
    assert body["@odata.count"] == 11


def test_syspro_odata_serves_gl_accounts_and_cost_centers(syspro_sandbox):
    gl = syspro_sandbox.odata("GenMaster", **{"$filter": "AccountOnHold eq 'N'"}).json()["value"]
    codes = {a["GlCode"] for a in gl}
    assert {"10-6100", "10-2000"} <= codes and "10-6900" not in codes and "10-6950" not in codes
    cost_centers = syspro_sandbox.odata("GenAnalysisCode").json()["value"]
    assert {c["AnalysisCode"] for c in cost_centers} == {"CC-EAST", "CC-WEST", "CC-HQ", "CC-RND"}
    assert all(c["AnalysisType"] == 1 for c in cost_centers)
