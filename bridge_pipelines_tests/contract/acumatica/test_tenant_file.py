"""The Acumatica `erp:` block of a tenant file, through the product's own adapter factory."""

import logging
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from bridge_pipelines.erps.acumatica.adapter import AcumaticaAdapter
from bridge_pipelines.errors import ConfigError
from bridge_pipelines.sandbox.acumatica.seed import (
    API_PASSWORD,
    API_USER,
    CLIENT_ID,
    CLIENT_SECRET,
    TENANT,
)
from bridge_pipelines.tenants.erp import build_adapter
from bridge_pipelines.tenants.models import SftpConfig, TenantConfig
from bridge_pipelines.tenants.secrets import Keyring
from bridge_pipelines_tests.contract.acumatica.conftest import VERSION, Acumatica, invoice

pytestmark = pytest.mark.contract

HOST_KEY = (
    Ed25519PrivateKey.generate()
    .public_key()
    .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    .decode()
)


def _tenant(keyring: Keyring, url: str, **erp: object) -> TenantConfig:
    return TenantConfig(
        id="summit2",
        name="Summit on Acumatica",
        sftp=SftpConfig(
            host="127.0.0.1",
            username="stampli",
            host_key=HOST_KEY,
            password=keyring.encrypt("summit2", "sftp.password", "unused-here"),
        ),
        erp={
            "kind": "acumatica",
            "base_url": url,
            "company": TENANT,
            "acumatica_endpoint_version": VERSION,
            **erp,
        },
    )


@pytest.fixture
def keyring(tmp_path: Path) -> Keyring:
    return Keyring.generate(tmp_path / "keys" / "keys.json")


def test_the_registry_builds_a_cookie_adapter_that_posts_and_masks_its_session(
    acumatica: Acumatica, keyring: Keyring, caplog: pytest.LogCaptureFixture
) -> None:
    tenant = _tenant(
        keyring, acumatica.running.base_url, username=API_USER,
        password=keyring.encrypt("summit2", "erp.password", API_PASSWORD),
    )  # fmt: skip
    caplog.set_level(logging.DEBUG)
    with build_adapter(tenant, keyring=keyring) as adapter:
        assert isinstance(adapter, AcumaticaAdapter)
        adapter.post_invoice(invoice())
        session = adapter.client._cookies[".ASPXAUTH"]
    assert len(acumatica.bills()) == 1
    assert API_PASSWORD not in caplog.text and session not in caplog.text


def test_oauth_from_the_tenant_file_keeps_its_tokens_where_the_tenant_says(
    acumatica: Acumatica, keyring: Keyring, tmp_path: Path
) -> None:
    tenant = _tenant(
        keyring, acumatica.running.base_url, acumatica_auth="oauth2",
        acumatica_client_id=CLIENT_ID, username=API_USER,
        password=keyring.encrypt("summit2", "erp.password", API_PASSWORD),
        acumatica_client_secret=keyring.encrypt(
            "summit2", "erp.acumatica_client_secret", CLIENT_SECRET),
        acumatica_token_store=str(tmp_path / "tokens"),
    )  # fmt: skip
    with build_adapter(tenant, keyring=keyring) as adapter:
        assert list(adapter.read_gl_accounts())
    assert (tmp_path / "tokens" / "summit2.tokens").stat().st_mode & 0o077 == 0


def test_a_block_without_endpoint_version_or_credentials_is_one_config_error(
    keyring: Keyring,
) -> None:
    tenant = _tenant(keyring, "https://erp.example.com", acumatica_endpoint_version=None)
    with pytest.raises(ConfigError) as raised:
        build_adapter(tenant, keyring=keyring)
    message = str(raised.value)
    assert "erp.acumatica_endpoint_version" in message
    oauth = _tenant(keyring, "https://erp.example.com", acumatica_auth="oauth2")
    with pytest.raises(ConfigError, match=r"acumatica_client_id, erp\.acumatica_client_secret"):
        build_adapter(oauth, keyring=keyring)


def test_another_erps_field_or_a_relative_token_store_is_refused(keyring: Keyring) -> None:
    with pytest.raises(ValidationError, match="sap_b1_posting_mode"):
        _tenant(keyring, "https://erp.example.com", sap_b1_posting_mode="journal_entry")
    with pytest.raises(ValidationError, match="absolute folder"):
        _tenant(keyring, "https://erp.example.com", acumatica_token_store="tokens")
    with pytest.raises(ValidationError, match=r"25\.200\.001"):
        _tenant(keyring, "https://erp.example.com", acumatica_endpoint_version="2025 R2")
