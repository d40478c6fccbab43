import re

import pytest

from bridge_pipelines.errors import ConfigError
from bridge_pipelines.tenants.credentials import decrypt_field
from bridge_pipelines.tenants.loader import check_tenants, load_tenants
from bridge_pipelines.tenants.rotation import key_usage, retire_key, rotate_tenant_files
from bridge_pipelines.tenants.secrets import Keyring, encrypted_fields, key_id_of
from bridge_pipelines_tests.support.tenant_fixtures import plaintext_for


def strip_tokens(text):
    return re.sub(r"enc:v1:[\w-]+:[\w=-]+", "TOKEN", text)


def test_rotate_reencrypts_in_place_keeping_the_rest(sealed_tenants, tenant_keyring, key_file):
    before = {p.name: p.read_text() for p in sealed_tenants.iterdir()}
    result = rotate_tenant_files(sealed_tenants, tenant_keyring)
    assert result.problems == []
    assert result.new_key == "k2"
    assert result.secrets == 6
    assert sorted(p.name for p in result.files) == ["acme.yaml", "globex.yaml", "initech.yaml"]
    for name, text in before.items():
        after = (sealed_tenants / name).read_text()
        assert after != text
        assert strip_tokens(after) == strip_tokens(text)  # comments, quotes, block scalars kept
        assert "enc:v1:k1:" not in after
    keyring = Keyring.load(key_file)
    assert keyring.primary == "k2"
    assert check_tenants(sealed_tenants, keyring) == []
    for tenant in load_tenants(sealed_tenants):
        for field, token in encrypted_fields(tenant):
            assert key_id_of(token) == "k2"
            secret = decrypt_field(tenant, field, keyring)
            assert secret is not None
            assert secret.get_secret_value() == plaintext_for(tenant.id, field)


def test_retire_refuses_while_a_file_uses_the_key_then_works(
    sealed_tenants, tenant_keyring, key_file
):
    tenant_keyring.add_key()  # k2 is primary, files are still under k1
    with pytest.raises(ConfigError) as caught:
        retire_key(sealed_tenants, tenant_keyring, "k1")
    assert "acme.yaml: sftp.password: still encrypted with key 'k1'" in str(caught.value)
    assert len(key_usage(sealed_tenants, "k1")) == 6
    assert Keyring.load(key_file).key_ids == ["k1", "k2"]

    rotate_tenant_files(sealed_tenants, tenant_keyring)  # -> k3
    assert key_usage(sealed_tenants, "k1") == []
    retire_key(sealed_tenants, tenant_keyring, "k1")
    retire_key(sealed_tenants, tenant_keyring, "k2")
    keyring = Keyring.load(key_file)
    assert keyring.key_ids == ["k3"]
    assert check_tenants(sealed_tenants, keyring) == []


def test_retire_counts_uses_in_files_that_do_not_validate(sealed_tenants, tenant_keyring):
    tenant_keyring.add_key()
    broken = sealed_tenants / "acme.yaml"
    broken.write_text(broken.read_text().replace("port: 2222", "port: 99999"))
    rotate_result = rotate_tenant_files(sealed_tenants, tenant_keyring)
    assert rotate_result.new_key == ""  # refused: a file has a problem
    uses = key_usage(sealed_tenants, "k1")
    assert ("acme.yaml", "(file)") in {(u.file.rsplit("/", 1)[-1], u.field) for u in uses}
    with pytest.raises(ConfigError, match="still used"):
        retire_key(sealed_tenants, tenant_keyring, "k1")


def test_rotate_refuses_before_changing_anything_when_a_secret_is_broken(
    sealed_tenants, tenant_keyring, key_file
):
    acme = sealed_tenants / "acme.yaml"
    acme.write_text(acme.read_text().replace("enc:v1:k1:", "enc:v1:k1:AAAA"))
    files_before = {p.name: p.read_bytes() for p in sealed_tenants.iterdir()}
    keys_before = key_file.read_bytes()
    result = rotate_tenant_files(sealed_tenants, tenant_keyring)
    assert result.new_key == ""
    assert [(p.file.rsplit("/", 1)[-1], p.field) for p in result.problems] == [
        ("acme.yaml", "sftp.password")
    ]
    assert {p.name: p.read_bytes() for p in sealed_tenants.iterdir()} == files_before
    assert key_file.read_bytes() == keys_before


def test_retire_refuses_the_primary_and_unknown_keys(sealed_tenants, tenant_keyring):
    with pytest.raises(ConfigError, match="primary"):
        retire_key(sealed_tenants, tenant_keyring, "k1")
    with pytest.raises(ConfigError, match="no key 'k5'"):
        retire_key(sealed_tenants, tenant_keyring, "k5")
