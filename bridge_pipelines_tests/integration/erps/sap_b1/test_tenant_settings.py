"""SAP B1 tenant settings reaching the adapter: `erp.ca_bundle` (a Service Layer behind a
self-signed CA, as real B1 installs are) and `erp.sap_b1_tax_account` (where the tax goes).

TLS: the sandbox app is served over HTTPS in-process with a certificate from a private CA; the
adapter trusts it only when the tenant names that CA's PEM file, and never turns checking off.
"""

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge_pipelines.erps.sap_b1.adapter import SapB1Adapter
from bridge_pipelines.errors import ConfigError
from bridge_pipelines.sandbox.sap_b1.app import create_app
from bridge_pipelines.sandbox.sap_b1.seed import SAP_B1_SEED, account_code
from bridge_pipelines.tenants.erp import build_adapter
from bridge_pipelines.tenants.models import TenantConfig
from bridge_pipelines.tenants.secrets import Keyring
from bridge_pipelines_tests.integration.erps.sap_b1.helpers import invoice
from bridge_pipelines_tests.support.erp_sandboxes import SapB1SandboxHandle
from bridge_pipelines_tests.support.tls import Pki, make_pki, serve_https

HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
FAST = {"connect_timeout": 2.0, "read_timeout": 2.0, "call_deadline": 4.0, "max_attempts": 3,
        "backoff_initial": 0.05, "backoff_max": 0.2, "retry_budget": 3.0}  # fmt: skip


def sap_tenant(keyring: Keyring, base_url: str, **erp: Any) -> TenantConfig:
    user = SAP_B1_SEED.users[0]
    return TenantConfig.model_validate(
        {
            "id": "globex",
            "name": "Globex",
            "sftp": {
                "host": "127.0.0.1",
                "username": "s",
                "host_key": HOST_KEY,
                "password": keyring.encrypt("globex", "sftp.password", "pw"),
            },
            "erp": {
                "kind": "sap_b1",
                "base_url": base_url,
                "company": SAP_B1_SEED.company_db,
                "username": user.user_name,
                "password": keyring.encrypt("globex", "erp.password", user.password),
                **erp,
            },
        }
    )


@pytest.fixture
def keyring(tmp_path: Path) -> Keyring:
    return Keyring.generate(tmp_path / "keys.json")


@pytest.fixture
def https_b1(tmp_path: Path) -> Iterator[tuple[str, Pki]]:
    """The SAP B1 sandbox app over HTTPS on 127.0.0.1, its certificate from a private CA."""
    pki = make_pki(tmp_path / "pki")
    with serve_https(create_app(tmp_path / "b1-state"), pki) as url:
        yield url, pki


def test_a_service_layer_behind_a_private_ca_is_trusted_through_ca_bundle(
    https_b1: tuple[str, Pki], keyring: Keyring
) -> None:
    url, pki = https_b1
    tenant = sap_tenant(keyring, url, ca_bundle=str(pki.ca))
    with build_adapter(tenant, keyring=keyring, **FAST) as erp:
        accounts = [a.code for a in erp.read_gl_accounts()]
    assert account_code("6100") in accounts


def test_without_ca_bundle_the_certificate_is_refused_once_with_the_fix(
    https_b1: tuple[str, Pki], keyring: Keyring
) -> None:
    url, _ = https_b1
    with build_adapter(sap_tenant(keyring, url), keyring=keyring, **FAST) as erp:
        started = time.monotonic()
        with pytest.raises(ConfigError) as raised:
            list(erp.read_gl_accounts())
    assert "not trusted" in str(raised.value) and "erp.ca_bundle" in str(raised.value)
    assert time.monotonic() - started < 1.5, "a certificate problem is not retried"


def test_a_missing_ca_bundle_stops_the_adapter_naming_field_and_file(
    keyring: Keyring, tmp_path: Path
) -> None:
    missing = tmp_path / "corporate-ca.pem"
    tenant = sap_tenant(keyring, "https://b1.example:50000", ca_bundle=str(missing))
    with pytest.raises(ConfigError) as raised:
        build_adapter(tenant, keyring=keyring)
    assert str(raised.value) == f"tenant globex: erp.ca_bundle: {missing} not found"


@pytest.mark.parametrize("mode", ["service_invoice", "journal_entry"])
def test_the_tenants_tax_account_takes_the_tax_line(
    sapb1_sandbox: SapB1SandboxHandle, keyring: Keyring, mode: str
) -> None:
    tax_account = account_code("6300")
    tenant = sap_tenant(
        keyring, sapb1_sandbox.base_url, sap_b1_posting_mode=mode, sap_b1_tax_account=tax_account
    )
    adapter = build_adapter(tenant, keyring=keyring, **FAST)
    assert isinstance(adapter, SapB1Adapter) and adapter.tax_account == tax_account
    with adapter:
        adapter.post_invoice(invoice(total="1150.00", tax="150.00"))
    (document,) = sapb1_sandbox.admin.documents()
    lines = document["lines"]
    tax_lines = [line for line in lines if line.get("AccountCode") == tax_account]
    assert len(tax_lines) == 1
    amount = tax_lines[0]["LineTotal"] if mode == "service_invoice" else tax_lines[0]["Debit"]
    assert f"{float(amount):.2f}" == "150.00"
