"""A generic OData v4 client from PyPI (python-odata) reads the SYSPRO OData service unchanged.

It loads `$metadata`, then lists, filters, orders, follows `@odata.nextLink` across server
pages and reads one entity by key. The service is read-only [C], so a create is refused.
"""

import pytest
import requests
from odata import ODataService
from odata.exceptions import ODataError

pytestmark = pytest.mark.contract


@pytest.fixture
def service(syspro_sandbox):
    session = requests.Session()
    session.trust_env = False
    yield ODataService(f"{syspro_sandbox.odata_url}/", session=session,
                       auth=requests.auth.HTTPBasicAuth(*syspro_sandbox.odata_auth),
                       reflect_entities=True, quiet_progress=True)  # fmt: skip
    session.close()


def test_syspro_generic_client_reads_metadata(service):
    assert {"ApSupplier", "GenMaster", "GenAnalysisCode", "ApInvoice"} <= set(service.entities)


def test_syspro_generic_client_filters_and_orders(service):
    supplier = service.entities["ApSupplier"]
    rows = service.query(supplier).filter(supplier.OnHold == "N").order_by(supplier.Supplier.desc())
    codes = [r.Supplier for r in rows]
    assert codes and codes == sorted(codes, reverse=True)


def test_syspro_generic_client_pages_through_next_links(service, syspro_sandbox):
    syspro_sandbox.admin.configure(odata_page_size=4)
    supplier = service.entities["ApSupplier"]
    codes = [r.Supplier for r in service.query(supplier)]
    assert len(codes) == 11 and len(set(codes)) == 11  # three server pages of 4, 4, 3
    requests_seen = [
        r for r in syspro_sandbox.admin.requests() if r["path"].endswith("/ApSupplier")
    ]
    assert len(requests_seen) == 3


def test_syspro_generic_client_reads_by_key(service):
    supplier = service.entities["ApSupplier"]
    assert service.query(supplier).get("SUP00001").SupplierName


def test_syspro_generic_client_create_is_refused(service):
    supplier = service.entities["ApSupplier"]
    new = supplier()
    new.Supplier = "SUP09999"
    with pytest.raises(ODataError):
        service.save(new)
