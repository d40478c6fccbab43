"""The tenant factory: secrets decrypted from the tenant file, the adapter talks to SYSPRO."""

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bridge_pipelines.errors import ConfigError
from bridge_pipelines.tenants.erp import build_adapter
from bridge_pipelines.tenants.models import SftpConfig, TenantConfig
from bridge_pipelines_tests.integration.erps.syspro.helpers import calls, documents, invoice

HOST_KEY = (
    Ed25519PrivateKey.generate()
    .public_key()
    .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    .decode()
)


def _tenant(sandbox, keyring, **erp) -> TenantConfig:
    values = {
        "kind": "syspro",
        "base_url": sandbox.rest_url,
        "company": sandbox.company,
        "username": sandbox.operator,
        "password": keyring.encrypt("demo", "erp.password", sandbox.password),
        **erp,
    }
    return TenantConfig(
        id="demo",
        name="Demo",
        sftp=SftpConfig(
            host="127.0.0.1",
            username="demo",
            host_key=HOST_KEY,
            password=keyring.encrypt("demo", "sftp.password", "unused-here"),
        ),
        erp=values,
    )


def test_build_adapter_from_tenant_posts(syspro_sandbox, tenant_keyring):
    tenant = _tenant(syspro_sandbox, tenant_keyring)
    with build_adapter(tenant, keyring=tenant_keyring, read_timeout=2.0) as adapter:
        adapter.post_invoice(invoice())
        assert [v.code for v in adapter.read_vendors()]  # the OData URL derived from base_url
    assert documents(syspro_sandbox) == [("SUP00001", "INV-1001")]
    assert len(calls(syspro_sandbox, "/Logoff")) == 1


def test_build_adapter_refuses_incomplete_erp_section(syspro_sandbox, tenant_keyring):
    tenant = _tenant(syspro_sandbox, tenant_keyring, password=None)
    with pytest.raises(ConfigError, match=r"erp\.password"):
        build_adapter(tenant, keyring=tenant_keyring)


def test_the_tenant_tax_account_reaches_the_payload(syspro_sandbox, tenant_keyring):
    tenant = _tenant(syspro_sandbox, tenant_keyring, syspro_tax_account="10-6200")
    with build_adapter(tenant, keyring=tenant_keyring, read_timeout=2.0) as adapter:
        assert adapter.tax_account == "10-6200"
        adapter.post_invoice(invoice())  # 1000.00 + 150.00 tax
    [doc] = syspro_sandbox.admin.documents()
    assert [(line["ledger_code"], line["debit"]) for line in doc["lines"][:2]] == [
        ("10-6100", "1000.00"),
        ("10-6200", "150.00"),
    ]
