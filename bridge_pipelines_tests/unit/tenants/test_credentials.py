import traceback

import pytest

from bridge_pipelines.errors import SecretError
from bridge_pipelines.redaction import redact
from bridge_pipelines.tenants.credentials import decrypt_field, sftp_credentials
from bridge_pipelines.tenants.loader import load_tenants
from bridge_pipelines_tests.support.tenant_fixtures import plaintext_for


def by_id(directory):
    return {t.id: t for t in load_tenants(directory)}


def test_password_tenant_gets_its_password(sealed_tenants, tenant_keyring):
    credentials = sftp_credentials(by_id(sealed_tenants)["acme"], tenant_keyring)
    assert credentials.password is not None
    assert credentials.password.get_secret_value() == plaintext_for("acme", "sftp.password")
    assert credentials.private_key is None and credentials.private_key_passphrase is None


def test_key_tenant_gets_key_and_passphrase(sealed_tenants, tenant_keyring):
    credentials = sftp_credentials(by_id(sealed_tenants)["globex"], tenant_keyring)
    assert credentials.password is None
    assert credentials.private_key is not None and credentials.private_key_passphrase is not None
    assert credentials.private_key.get_secret_value() == plaintext_for("globex", "sftp.private_key")
    assert credentials.private_key_passphrase.get_secret_value() == plaintext_for(
        "globex", "sftp.private_key_passphrase"
    )


def test_credentials_never_show_their_values(sealed_tenants, tenant_keyring):
    tenants = by_id(sealed_tenants)
    for tenant_id in ("acme", "globex"):
        credentials = sftp_credentials(tenants[tenant_id], tenant_keyring)
        rendered = repr(credentials) + str(credentials) + f"{credentials!r} {credentials}"
        assert "plain<" not in rendered


def test_decrypted_values_are_masked_in_logs(sealed_tenants, tenant_keyring):
    tenant = by_id(sealed_tenants)["globex"]
    value = decrypt_field(tenant, "erp.company_password", tenant_keyring)
    assert value is not None
    plain = value.get_secret_value()
    assert redact(f"login with {plain} failed") == "login with *** failed"
    assert decrypt_field(tenant, "sftp.password", tenant_keyring) is None


def test_a_secret_for_another_tenant_fails_without_leaking(sealed_tenants, tenant_keyring):
    tenants = by_id(sealed_tenants)
    initech_key = tenants["initech"].sftp.private_key
    acme = tenants["acme"]
    sftp = acme.sftp.model_copy(update={"password": initech_key})
    forged = acme.model_copy(update={"sftp": sftp})
    with pytest.raises(SecretError) as caught:
        sftp_credentials(forged, tenant_keyring)
    rendered = "".join(traceback.format_exception(caught.value)) + repr(caught.value)
    assert "'acme'" in rendered and "sftp.password" in rendered
    assert "plain<" not in rendered
