"""The registry's `sap_b1` factory: tenant secrets decrypted, posting mode read from the tenant."""

import logging

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bridge_pipelines.erps.sap_b1.adapter import SapB1Adapter
from bridge_pipelines.errors import ConfigError
from bridge_pipelines.tenants.erp import build_adapter
from bridge_pipelines.tenants.models import SftpConfig, TenantConfig
from bridge_pipelines_tests.integration.erps.sap_b1.helpers import calls, invoice, posted

HOST_KEY = (
    Ed25519PrivateKey.generate()
    .public_key()
    .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    .decode()
)


def _tenant(sandbox, keyring, **erp) -> TenantConfig:
    values = {
        "kind": "sap_b1",
        "base_url": sandbox.base_url,
        "company": sandbox.company_db,
        "username": sandbox.user_name,
        "password": keyring.encrypt("demo2", "erp.password", sandbox.password),
        **erp,
    }
    return TenantConfig(
        id="demo2",
        name="Demo on SAP B1",
        sftp=SftpConfig(
            host="127.0.0.1",
            username="demo2",
            host_key=HOST_KEY,
            password=keyring.encrypt("demo2", "sftp.password", "unused-here"),
        ),
        erp=values,
    )


def test_registry_builds_the_tenant_adapter_and_it_posts(sapb1_sandbox, tenant_keyring, caplog):
    tenant = _tenant(sapb1_sandbox, tenant_keyring)
    caplog.set_level(logging.DEBUG)
    with build_adapter(tenant, keyring=tenant_keyring, read_timeout=2.0) as adapter:
        assert isinstance(adapter, SapB1Adapter) and adapter.posting_mode == "service_invoice"
        adapter.post_invoice(invoice())
        session = adapter.client._cookies["B1SESSION"]
    assert len(posted(sapb1_sandbox)) == 1 and len(calls(sapb1_sandbox, "/Logout")) == 1
    assert sapb1_sandbox.password not in caplog.text and session not in caplog.text


def test_posting_mode_comes_from_the_tenant(sapb1_sandbox, tenant_keyring):
    tenant = _tenant(sapb1_sandbox, tenant_keyring, sap_b1_posting_mode="journal_entry")
    with build_adapter(tenant, keyring=tenant_keyring) as adapter:
        adapter.post_invoice(invoice())
    assert len(posted(sapb1_sandbox, "JournalEntry")) == 1 and posted(sapb1_sandbox) == []


def test_v2_service_root_pages_and_posts(sapb1_sandbox, tenant_keyring):
    tenant = _tenant(sapb1_sandbox, tenant_keyring, base_url=f"{sapb1_sandbox.base_url}/b1s/v2")
    with build_adapter(tenant, keyring=tenant_keyring, page_size=4) as adapter:
        assert len(list(adapter.read_vendors())) == 11  # @odata.nextLink
        adapter.post_invoice(invoice())
        assert len(adapter.find_by_external_ref(invoice().ref)) == 1
    assert all("/b1s/v2/" in r["path"] for r in calls(sapb1_sandbox, "/BusinessPartners"))


def test_incomplete_erp_section_is_a_config_error(sapb1_sandbox, tenant_keyring):
    tenant = _tenant(sapb1_sandbox, tenant_keyring, company=None)
    with pytest.raises(ConfigError, match=r"erp\.company"):
        build_adapter(tenant, keyring=tenant_keyring)
