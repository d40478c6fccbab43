"""SYSPRO OData: $metadata from the entity definitions, key access, $count, OData-Version."""

from xml.etree import ElementTree as ET

import httpx
import pytest

pytestmark = pytest.mark.contract

EDM = "{http://docs.oasis-open.org/odata/ns/edm}"


def _get(sandbox, path: str, **params: str) -> httpx.Response:
    return sandbox.http.get(f"{sandbox.odata_url}/{path}", params=params,
                            auth=sandbox.odata_auth, timeout=10)  # fmt: skip


def test_syspro_odata_metadata_describes_every_entity_set(syspro_sandbox):
    from bridge_pipelines.sandbox.syspro.odata import ENTITY_SETS

    response = _get(syspro_sandbox, "$metadata")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(response.content)
    assert root.get("Version") == "4.0"
    types = {t.get("Name"): t for t in root.iter(f"{EDM}EntityType")}
    assert set(types) == set(ENTITY_SETS)
    invoice = types["ApInvoice"]
    assert [r.get("Name") for r in invoice.iter(f"{EDM}PropertyRef")] == ["Supplier", "Invoice"]
    props = {p.get("Name"): p.get("Type") for p in invoice.iter(f"{EDM}Property")}
    assert props["OrigInvValue"] == "Edm.Decimal" and props["InvoiceDate"] == "Edm.Date"
    assert set(props) == set(ENTITY_SETS["ApInvoice"][1])


def test_syspro_odata_metadata_says_read_only(syspro_sandbox):
    root = ET.fromstring(_get(syspro_sandbox, "$metadata").content)
    for entity_set in root.iter(f"{EDM}EntitySet"):
        flags = {v.get("Property"): v.get("Bool") for v in entity_set.iter(f"{EDM}PropertyValue")}
        assert flags == {"Insertable": "false", "Updatable": "false", "Deletable": "false"}


def test_syspro_odata_metadata_needs_basic_auth(syspro_sandbox):
    response = httpx.get(f"{syspro_sandbox.odata_url}/$metadata")
    assert response.status_code == 401


def test_syspro_odata_service_document(syspro_sandbox):
    body = _get(syspro_sandbox, "").json()
    assert body["@odata.context"].endswith("/SYSPRO8Odata/SYSPROOData/$metadata")
    assert {"name": "ApSupplier", "kind": "EntitySet", "url": "ApSupplier"} in body["value"]


def test_syspro_odata_version_header_on_every_answer(syspro_sandbox):
    for path in ("", "$metadata", "ApSupplier", "ApSupplier('SUP00001')", "Nope"):
        assert _get(syspro_sandbox, path).headers["OData-Version"] == "4.0", path
    assert httpx.get(f"{syspro_sandbox.odata_url}/ApSupplier").headers["OData-Version"] == "4.0"


def test_syspro_odata_key_access(syspro_sandbox):
    response = _get(syspro_sandbox, "ApSupplier('SUP00001')")
    assert response.status_code == 200
    body = response.json()
    assert body["Supplier"] == "SUP00001"
    assert body["@odata.context"].endswith("$metadata#ApSupplier/$entity")
    assert "value" not in body
    selected = _get(syspro_sandbox, "ApSupplier('SUP00001')", **{"$select": "SupplierName"})
    assert list(selected.json()) == ["@odata.context", "SupplierName"]


def test_syspro_odata_composite_key_access(syspro_sandbox):
    body = _get(syspro_sandbox, "GenAnalysisCode(AnalysisType=1,AnalysisCode='CC-EAST')").json()
    assert (body["AnalysisType"], body["AnalysisCode"]) == (1, "CC-EAST")


def test_syspro_odata_missing_key_is_404(syspro_sandbox):
    response = _get(syspro_sandbox, "ApSupplier('NOPE')")
    assert response.status_code == 404 and "error" in response.json()


def test_syspro_odata_malformed_key_is_400(syspro_sandbox):
    for path in ("ApSupplier(SUP00001)", "ApInvoice('SUP00001')", "ApSupplier('a','b')"):
        assert _get(syspro_sandbox, path).status_code == 400, path


def test_syspro_odata_count_path_and_inline_count(syspro_sandbox):
    plain = _get(syspro_sandbox, "ApSupplier/$count")
    assert plain.status_code == 200 and plain.text == "11"
    euro = _get(syspro_sandbox, "ApSupplier/$count", **{"$filter": "Currency eq 'EUR'"})
    inline = _get(syspro_sandbox, "ApSupplier", **{"$count": "true", "$top": "1",
                                                   "$filter": "Currency eq 'EUR'"})  # fmt: skip
    assert int(euro.text) == inline.json()["@odata.count"] >= 1


def test_syspro_odata_orderby_desc_and_several_keys(syspro_sandbox):
    params = {"$orderby": "Currency desc,Supplier desc", "$select": "Supplier,Currency"}
    body = _get(syspro_sandbox, "ApSupplier", **params).json()
    rows = [(r["Currency"], r["Supplier"]) for r in body["value"]]
    assert rows == sorted(rows, reverse=True)


@pytest.mark.parametrize("option", ["$expand", "$search", "$apply"])
def test_syspro_odata_unsupported_option_is_400(syspro_sandbox, option):
    response = _get(syspro_sandbox, "ApSupplier", **{option: "x"})
    assert response.status_code == 400 and option in response.json()["error"]["message"]
