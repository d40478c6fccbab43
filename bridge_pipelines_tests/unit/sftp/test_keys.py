import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from bridge_pipelines.errors import ConfigError
from bridge_pipelines.sftp.hostkeys import fingerprint, parse_host_key
from bridge_pipelines.sftp.keys import load_private_key

KEYS = {
    "ed25519": ed25519.Ed25519PrivateKey.generate(),
    "rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
    "ecdsa": ec.generate_private_key(ec.SECP256R1()),
}
NAMES = {"ed25519": "ssh-ed25519", "rsa": "ssh-rsa", "ecdsa": "ecdsa-sha2-nistp256"}


@pytest.mark.parametrize("kind", sorted(KEYS))
@pytest.mark.parametrize(
    "fmt", [serialization.PrivateFormat.OpenSSH, serialization.PrivateFormat.PKCS8]
)
@pytest.mark.parametrize("passphrase", [None, "s3cret phrase"])
def test_keys_load_from_memory(kind: str, fmt, passphrase: str | None) -> None:
    encryption = (
        serialization.BestAvailableEncryption(passphrase.encode())
        if passphrase
        else serialization.NoEncryption()
    )
    text = KEYS[kind].private_bytes(serialization.Encoding.PEM, fmt, encryption).decode()
    key = load_private_key(text, passphrase)
    assert key.get_name() == NAMES[kind]
    public = (
        KEYS[kind]
        .public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    assert fingerprint(key) == fingerprint(parse_host_key(public))


def _encrypted() -> str:
    return (
        KEYS["ed25519"]
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.BestAvailableEncryption(b"right"),
        )
        .decode()
    )


def test_wrong_passphrase_is_a_config_error_without_the_passphrase() -> None:
    with pytest.raises(ConfigError, match="wrong passphrase") as refused:
        load_private_key(_encrypted(), "hunter2")
    assert "hunter2" not in str(refused.value)


def test_missing_passphrase_is_named() -> None:
    with pytest.raises(ConfigError, match="no passphrase was given"):
        load_private_key(_encrypted(), None)


def test_garbage_is_not_echoed() -> None:
    with pytest.raises(ConfigError) as refused:
        load_private_key(
            "-----BEGIN OPENSSH PRIVATE KEY-----\nc2VjcmV0\n-----END OPENSSH PRIVATE KEY-----"
        )
    assert "c2VjcmV0" not in str(refused.value)


def test_fingerprint_matches_openssh_format() -> None:
    line = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
    assert (
        fingerprint(parse_host_key(line)) == "SHA256:+DiY3wvvV6TuJJhbpZisF/zLDA0zPMSvHdkr4UvCOqU"
    )  # ssh-keygen -lf


def test_a_malformed_host_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="host_key"):
        parse_host_key("ssh-ed25519 not-base64!")
