"""$metadata and the service document, generated from the entity definitions that validate."""

from xml.etree import ElementTree as ET

import pytest

pytestmark = pytest.mark.contract

EDMX4 = "{http://docs.oasis-open.org/odata/ns/edmx}"
EDM4 = "{http://docs.oasis-open.org/odata/ns/edm}"
EDM3 = "{http://schemas.microsoft.com/ado/2009/11/edm}"


def _schema(text: bytes, edm: str = EDM4) -> ET.Element:
    root = ET.fromstring(text)
    schema = root.find(f".//{edm}Schema")
    assert schema is not None
    return schema


def test_sapb1_v2_metadata_is_csdl4_of_every_entity_set(sapb1_sandbox):
    cookies = sapb1_sandbox.login("v2")
    response = sapb1_sandbox.request("GET", "$metadata", cookies, version="v2")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    assert response.headers["OData-Version"] == "4.0"
    root = ET.fromstring(response.content)
    assert root.tag == f"{EDMX4}Edmx" and root.get("Version") == "4.0"
    schema = _schema(response.content)
    sets = {s.get("Name"): s.get("EntityType") for s in schema.iter(f"{EDM4}EntitySet")}
    assert sets["PurchaseInvoices"] == "SAPB1.Document"
    assert sets["BusinessPartners"] == "SAPB1.BusinessPartner"
    assert {"JournalEntries", "ChartOfAccounts", "ProfitCenters", "Projects"} <= set(sets)


def test_sapb1_metadata_properties_are_the_ones_validation_accepts(sapb1_sandbox):
    from bridge_pipelines.sandbox.sap_b1.documents import ENTITY_SETS

    cookies = sapb1_sandbox.login("v2")
    schema = _schema(sapb1_sandbox.request("GET", "$metadata", cookies, version="v2").content)
    types = {t.get("Name"): t for t in schema.iter(f"{EDM4}EntityType")}
    partner = types["BusinessPartner"]
    names = {p.get("Name") for p in partner.iter(f"{EDM4}Property")}
    assert names == set(ENTITY_SETS["BusinessPartners"].properties)
    key = partner.find(f"{EDM4}Key/{EDM4}PropertyRef")
    assert key is not None and key.get("Name") == "CardCode"
    doc_entry = next(
        p for p in types["Document"].iter(f"{EDM4}Property") if p.get("Name") == "DocEntry"
    )
    assert doc_entry.get("Type") == "Edm.Int32"
    computed = doc_entry.find(f"{EDM4}Annotation")
    assert computed is not None and computed.get("Term") == "Org.OData.Core.V1.Computed"


def test_sapb1_metadata_declares_etags_deletes_and_document_actions(sapb1_sandbox):
    cookies = sapb1_sandbox.login("v2")
    schema = _schema(sapb1_sandbox.request("GET", "$metadata", cookies, version="v2").content)
    sets = {s.get("Name"): s for s in schema.iter(f"{EDM4}EntitySet")}
    terms = {a.get("Term") for a in sets["BusinessPartners"].iter(f"{EDM4}Annotation")}
    assert "Org.OData.Core.V1.OptimisticConcurrency" in terms
    deletable = sets["BusinessPartners"].find(
        f"{EDM4}Annotation[@Term='Org.OData.Capabilities.V1.DeleteRestrictions']/{EDM4}Record/"
        f"{EDM4}PropertyValue"
    )
    assert deletable is not None and deletable.get("Bool") == "true"
    actions = {a.get("Name") for a in schema.iter(f"{EDM4}Action")}
    assert {"Cancel", "Close"} <= actions


def test_sapb1_v1_metadata_is_edmx_odata_v3(sapb1_sandbox):
    cookies = sapb1_sandbox.login()
    response = sapb1_sandbox.request("GET", "$metadata", cookies)
    assert response.status_code == 200
    assert response.headers["DataServiceVersion"] == "3.0"
    schema = _schema(response.content, EDM3)
    assert {s.get("Name") for s in schema.iter(f"{EDM3}EntitySet")} >= {"PurchaseInvoices"}
    # v3 has no Edm.Date: dates are Edm.DateTime.
    doc_date = next(p for p in schema.iter(f"{EDM3}Property") if p.get("Name") == "DocDate")
    assert doc_date.get("Type") == "Edm.DateTime"


def test_sapb1_metadata_needs_a_session(sapb1_sandbox):
    response = sapb1_sandbox.http.get(sapb1_sandbox.url("$metadata", "v2"))
    assert response.status_code == 401 and response.json()["error"]["code"] == "301"


def test_sapb1_service_document_lists_entity_sets(sapb1_sandbox):
    cookies = sapb1_sandbox.login("v2")
    body = sapb1_sandbox.request("GET", "", cookies, version="v2").json()
    assert body["@odata.context"].endswith("/b1s/v2/$metadata")
    entries = {e["name"]: e for e in body["value"]}
    assert entries["PurchaseInvoices"] == {
        "name": "PurchaseInvoices", "kind": "EntitySet", "url": "PurchaseInvoices"
    }  # fmt: skip
    v1 = sapb1_sandbox.request("GET", "", cookies).json()
    assert v1["odata.metadata"].endswith("/b1s/v1/$metadata")


def test_sapb1_entity_set_registered_elsewhere_joins_metadata():
    # Another module adds a set to ENTITY_SETS: the model (and so $metadata) picks it up.
    from bridge_pipelines.sandbox.erp_base.odata.csdl import metadata_document
    from bridge_pipelines.sandbox.sap_b1.documents import ENTITY_SETS, EntitySet
    from bridge_pipelines.sandbox.sap_b1.metadata import service_model

    extra = EntitySet("VendorThings", "DocEntry", "VendorThing", frozenset({"DocEntry", "Name"}),
                      int_key=True)  # fmt: skip
    model = service_model({**ENTITY_SETS, extra.name: extra})
    schema = _schema(metadata_document(model))
    assert "VendorThings" in {s.get("Name") for s in schema.iter(f"{EDM4}EntitySet")}
