import base64
import json
import os
import stat

import pytest

from bridge_pipelines.errors import ConfigError, SecretError
from bridge_pipelines.tenants.secrets import Keyring, key_id_of, secret_field_paths

PLAIN = "s3cret-Pässwörd with spaces & symbols=;"
PEM = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n" + "QUJD" * 40 + "\n-----END OPENSSH PRIVATE KEY-----\n"
)


def test_round_trip_keeps_any_text(tenant_keyring):
    for value in (PLAIN, PEM, "x"):
        token = tenant_keyring.encrypt("acme", "sftp.password", value)
        assert token.startswith("enc:v1:k1:")
        assert len(value) < 4 or value not in token
        assert tenant_keyring.decrypt("acme", "sftp.password", token).get_secret_value() == value


def test_each_encryption_uses_a_fresh_nonce(tenant_keyring):
    first = tenant_keyring.encrypt("acme", "sftp.password", PLAIN)
    second = tenant_keyring.encrypt("acme", "sftp.password", PLAIN)
    assert first != second


@pytest.mark.parametrize(
    ("tenant", "field"),
    [("globex", "sftp.password"), ("acme", "erp.password"), ("acme", "sftp.private_key")],
    ids=["tenant swap", "field swap", "other sftp field"],
)
def test_ciphertext_is_bound_to_tenant_and_field(tenant_keyring, tenant, field):
    token = tenant_keyring.encrypt("acme", "sftp.password", PLAIN)
    with pytest.raises(SecretError) as caught:
        tenant_keyring.decrypt(tenant, field, token)
    message = str(caught.value)
    assert tenant in message and field in message
    assert "another tenant or field" in message
    assert PLAIN not in message and PLAIN not in repr(caught.value)


def test_tampered_ciphertext_is_refused(tenant_keyring):
    token = tenant_keyring.encrypt("acme", "sftp.password", PLAIN)
    prefix, body = token.rsplit(":", 1)
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    for index in (0, 12, len(raw) - 1):  # nonce, ciphertext, tag
        flipped = bytearray(raw)
        flipped[index] ^= 0x01
        forged = prefix + ":" + base64.urlsafe_b64encode(bytes(flipped)).decode().rstrip("=")
        with pytest.raises(SecretError, match="altered"):
            tenant_keyring.decrypt("acme", "sftp.password", forged)
    with pytest.raises(SecretError, match="truncated"):
        tenant_keyring.decrypt("acme", "sftp.password", prefix + ":AAAA")
    with pytest.raises(SecretError, match="not ciphertext"):
        tenant_keyring.decrypt("acme", "sftp.password", PLAIN)


def test_key_id_is_authenticated_too(tenant_keyring):
    token = tenant_keyring.encrypt("acme", "sftp.password", PLAIN)
    tenant_keyring.add_key()
    relabelled = token.replace("enc:v1:k1:", "enc:v1:k2:")
    with pytest.raises(SecretError):
        tenant_keyring.decrypt("acme", "sftp.password", relabelled)


def test_unknown_key_id_names_the_key(tenant_keyring):
    token = tenant_keyring.encrypt("acme", "sftp.password", PLAIN).replace(":k1:", ":k7:")
    with pytest.raises(SecretError, match=r"'k7'.*does not hold"):
        tenant_keyring.decrypt("acme", "sftp.password", token)


def test_generate_writes_a_private_file_and_never_overwrites(key_file):
    keyring = Keyring.generate(key_file)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    before = key_file.read_bytes()
    with pytest.raises(ConfigError, match="refusing to overwrite"):
        Keyring.generate(key_file)
    assert key_file.read_bytes() == before
    assert Keyring.load(key_file).key_ids == keyring.key_ids == ["k1"]


def test_load_without_key_file_explains_keygen(key_file):
    with pytest.raises(ConfigError, match="bridge secrets keygen"):
        Keyring.load()


def test_load_refuses_a_key_file_others_can_read(tenant_keyring, key_file):
    os.chmod(key_file, 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        Keyring.load()


def test_load_prefers_environment_keys(tenant_keyring, monkeypatch):
    key = base64.b64encode(os.urandom(32)).decode()
    monkeypatch.setenv("BRIDGE_MASTER_KEYS", json.dumps({"primary": "env1", "keys": {"env1": key}}))
    from_env = Keyring.load()
    assert from_env.primary == "env1"
    assert from_env.path is None
    token = from_env.encrypt("acme", "sftp.password", PLAIN)
    assert from_env.decrypt("acme", "sftp.password", token).get_secret_value() == PLAIN
    with pytest.raises(ConfigError, match="BRIDGE_MASTER_KEYS"):
        from_env.add_key()


@pytest.mark.parametrize(
    "document",
    [
        "not json",
        json.dumps({"primary": "k1", "keys": {}}),
        json.dumps({"primary": "k2", "keys": {"k1": base64.b64encode(b"k" * 32).decode()}}),
        json.dumps({"primary": "k1", "keys": {"k1": base64.b64encode(b"short").decode()}}),
        json.dumps({"primary": "k1", "keys": {"k1": "***not base64***"}}),
    ],
    ids=["not json", "no keys", "primary missing", "short key", "not base64"],
)
def test_malformed_keys_are_a_config_error_without_key_material(monkeypatch, key_file, document):
    monkeypatch.setenv("BRIDGE_MASTER_KEYS", document)
    with pytest.raises(ConfigError) as caught:
        Keyring.load()
    assert "BRIDGE_MASTER_KEYS" in str(caught.value)
    assert base64.b64encode(b"k" * 32).decode() not in str(caught.value)


def test_rotation_keeps_old_ciphertext_readable(tenant_keyring, key_file):
    old = tenant_keyring.encrypt("acme", "sftp.password", PLAIN)
    assert tenant_keyring.add_key() == "k2"
    reloaded = Keyring.load(key_file)
    assert reloaded.primary == "k2"
    assert reloaded.key_ids == ["k1", "k2"]
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert reloaded.decrypt("acme", "sftp.password", old).get_secret_value() == PLAIN
    new = reloaded.reencrypt("acme", "sftp.password", old)
    assert key_id_of(new) == "k2"
    assert reloaded.decrypt("acme", "sftp.password", new).get_secret_value() == PLAIN
    assert reloaded.reencrypt("acme", "sftp.password", new) == new


def test_remove_key_refuses_the_primary_and_drops_a_retired_key(tenant_keyring, key_file):
    tenant_keyring.add_key()
    with pytest.raises(ConfigError, match="primary"):
        tenant_keyring.remove_key("k2")
    with pytest.raises(ConfigError, match="no key"):
        tenant_keyring.remove_key("k9")
    tenant_keyring.remove_key("k1")
    assert Keyring.load(key_file).key_ids == ["k2"]


def test_repr_shows_ids_not_keys(tenant_keyring, key_file):
    material = json.loads(key_file.read_text())["keys"]["k1"]
    assert material not in repr(tenant_keyring)
    assert "k1" in repr(tenant_keyring)


def test_secret_fields_are_found_by_type():
    paths = secret_field_paths()
    assert paths[:5] == [
        "sftp.password",
        "sftp.private_key",
        "sftp.private_key_passphrase",
        "erp.password",
        "erp.company_password",
    ]
    # Connectors' own secret fields and the alert webhook follow.
    assert {
        "erp.ionapi",
        "erp.acumatica_client_secret",
        "erp.acumatica_refresh_token",
        "alerts.slack_webhook_url",
    } <= set(paths[5:])


def test_load_refuses_a_group_readable_key_file(tenant_keyring, key_file):
    os.chmod(key_file, 0o640)
    with pytest.raises(ConfigError, match=r"accessible by group or others \(mode 0640\)"):
        Keyring.load(key_file)


def test_load_refuses_a_key_file_that_is_not_a_regular_file(key_file):
    key_file.parent.mkdir(parents=True)
    os.mkfifo(key_file, 0o600)  # opening a FIFO to read would block a run forever
    with pytest.raises(ConfigError, match="not a regular file"):
        Keyring.load(key_file)


def test_save_never_writes_through_a_link_planted_at_a_temporary_name(tenant_keyring, key_file):
    # Before: the temporary was `.keys.json.<pid>.tmp`, opened without O_EXCL or O_NOFOLLOW,
    # so a link planted there received the whole keyring.
    stolen = key_file.parent / "stolen"
    stolen.touch(mode=0o644)
    os.symlink(stolen, key_file.with_name(f".{key_file.name}.{os.getpid()}.tmp"))
    tenant_keyring.add_key()
    assert stolen.read_bytes() == b""
    assert Keyring.load(key_file).key_ids == ["k1", "k2"]
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    leftovers = [p.name for p in key_file.parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == [f".{key_file.name}.{os.getpid()}.tmp"]  # the planted link, untouched


def test_save_creates_its_temporary_exclusively_and_without_following_links(
    tenant_keyring, key_file, monkeypatch
):
    flags_seen: list[int] = []
    real_open = os.open

    def spy(path, flags, *args, **kwargs):
        if str(path).endswith(".tmp"):
            flags_seen.append(flags)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", spy)
    tenant_keyring.add_key()
    assert flags_seen and all(f & os.O_EXCL and f & os.O_NOFOLLOW for f in flags_seen)
