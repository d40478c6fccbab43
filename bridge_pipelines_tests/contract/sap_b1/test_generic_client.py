"""A generic OData v4 client from PyPI (python-odata) works against /b1s/v2 unchanged.

It reads `$metadata`, then lists, filters, orders, pages (following `@odata.nextLink`),
creates and updates, with nothing SAP-specific but the login cookie.
"""

import pytest
import requests
from odata import ODataService

from bridge_pipelines_tests.contract.sap_b1 import payloads

pytestmark = pytest.mark.contract


@pytest.fixture
def service(sapb1_sandbox):
    session = requests.Session()
    session.trust_env = False
    login = session.post(sapb1_sandbox.url("Login", "v2"), json={
        "CompanyDB": sapb1_sandbox.company_db, "UserName": sapb1_sandbox.user_name,
        "Password": sapb1_sandbox.password})  # fmt: skip
    assert login.status_code == 200
    yield ODataService(
        sapb1_sandbox.url("", "v2"), session=session, reflect_entities=True, quiet_progress=True
    )
    session.close()


def test_sapb1_generic_client_reads_metadata(service):
    assert {"PurchaseInvoices", "BusinessPartners", "JournalEntries"} <= set(service.entities)


def test_sapb1_generic_client_filters_and_orders(service):
    partner = service.entities["BusinessPartners"]
    rows = (
        service.query(partner)
        .filter(partner.CardType == "cSupplier")
        .order_by(partner.CardCode.desc())
        .limit(3)
        .all()
    )
    assert [r.CardCode for r in rows] == ["V10011", "V10010", "V10009"]


def test_sapb1_generic_client_pages_through_next_links(service, sapb1_sandbox):
    cookies = sapb1_sandbox.login()
    for n in range(45):
        body = payloads.service_invoice(f"GEN-{n:03d}")
        assert (
            sapb1_sandbox.request("POST", "PurchaseInvoices", cookies, json=body).status_code == 201
        )
    invoices = service.entities["PurchaseInvoices"]
    refs = [i.NumAtCard for i in service.query(invoices).filter(invoices.CardCode == "V10001")]
    assert refs == [f"GEN-{n:03d}" for n in range(45)]  # 3 pages of 20, 20, 5


def test_sapb1_generic_client_creates_and_updates(service):
    partner = service.entities["BusinessPartners"]
    created = partner()
    created.CardCode = "C90001"
    created.CardName = "Generic Client Ltd"
    created.CardType = "cCustomer"
    created.Website = "https://example.test"
    service.save(created)
    created.CardName = "Generic Client Renamed"
    service.save(created)
    again = service.query(partner).get("C90001")
    assert (again.CardName, again.Website) == ("Generic Client Renamed", "https://example.test")
