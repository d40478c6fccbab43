"""TLS for every connector (issue 16.12): an ERP behind a private CA is trusted through the
tenant's `erp.ca_bundle`, and only then; certificate checking is never turned off.

Each registered connector's sandbox app is served in-process over HTTPS with a certificate from
a private CA. Nothing here names an ERP.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge_pipelines.errors import ConfigError
from bridge_pipelines.sandbox.erp_base.runner import _load_factory
from bridge_pipelines_tests.erps.harness import ErpUnderTest
from bridge_pipelines_tests.support.tls import Pki, make_pki, serve_https

pytestmark = pytest.mark.conformance


@pytest.fixture
def https_sandbox(erp: ErpUnderTest, tmp_path: Path) -> Iterator[tuple[str, Pki]]:
    """The connector's sandbox app over HTTPS on 127.0.0.1, its certificate from a private CA."""
    pki = make_pki(tmp_path / "pki")
    with serve_https(_load_factory(erp.profile.app)(tmp_path / "https-state"), pki) as url:
        yield url, pki


def https_tenant_erp(erp: ErpUnderTest, url: str) -> dict[str, object]:
    """The profile's ERP block with every URL moved to the HTTPS server."""
    section = erp.profile.erp_section(erp.running.base_url, erp.encrypt)
    return {
        name: value.replace(erp.running.base_url, url) if name.endswith("_url") else value
        for name, value in section.items()
        if isinstance(value, str)
    }


def test_an_erp_behind_a_private_ca_is_trusted_through_ca_bundle(
    erp: ErpUnderTest, https_sandbox: tuple[str, Pki]
) -> None:
    url, pki = https_sandbox
    tenant = erp.tenant(**https_tenant_erp(erp, url), ca_bundle=str(pki.ca))
    with erp.adapter(tenant) as adapter:
        assert list(adapter.read_vendors())


def test_without_ca_bundle_the_private_ca_is_refused_naming_the_field(
    erp: ErpUnderTest, https_sandbox: tuple[str, Pki]
) -> None:
    url, _ = https_sandbox
    tenant = erp.tenant(**https_tenant_erp(erp, url))
    with pytest.raises(ConfigError) as raised, erp.adapter(tenant) as adapter:
        list(adapter.read_vendors())
    assert "not trusted" in str(raised.value) and "erp.ca_bundle" in str(raised.value)


def test_a_missing_ca_bundle_stops_the_adapter_naming_field_and_file(
    erp: ErpUnderTest, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere.pem"
    tenant = erp.tenant(ca_bundle=str(missing))
    with pytest.raises(ConfigError) as raised:
        erp.adapter(tenant)
    assert str(raised.value).endswith(f"erp.ca_bundle: {missing} not found")
