"""Private keys from memory (never from disk, never from an agent): RSA, Ed25519 and ECDSA.

Any format cryptography reads (OpenSSH, PKCS#1, PKCS#8, SEC1; encrypted or not) is accepted, then
handed to paramiko as an unencrypted OpenSSH key held in memory only.
"""

import io

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from bridge_pipelines.errors import ConfigError


def load_private_key(text: str, passphrase: str | None = None) -> paramiko.PKey:
    """A paramiko key from PEM/OpenSSH text.

    Raises:
        ConfigError: unreadable key, wrong or missing passphrase, or an unsupported key type.
            The message never carries key material or the passphrase.
    """
    data = text.strip().encode("utf-8") + b"\n"
    password = passphrase.encode("utf-8") if passphrase else None
    try:
        try:
            loaded = serialization.load_ssh_private_key(data, password=password)
        except ValueError as ssh_exc:
            if b"OPENSSH PRIVATE KEY" in data:
                raise ssh_exc
            loaded = serialization.load_pem_private_key(data, password=password)  # type: ignore[assignment]
    except TypeError as exc:
        # cryptography raises TypeError for "encrypted but no password" and the reverse.
        raise ConfigError(f"private key: {_passphrase_problem(password)}") from exc
    except ValueError as exc:
        hint = "wrong passphrase or not a private key" if password else "not a readable private key"
        raise ConfigError(f"private key could not be loaded ({hint})") from exc
    if isinstance(loaded, rsa.RSAPrivateKey):
        key_class: type[paramiko.PKey] = paramiko.RSAKey
    elif isinstance(loaded, ed25519.Ed25519PrivateKey):
        key_class = paramiko.Ed25519Key
    elif isinstance(loaded, ec.EllipticCurvePrivateKey):
        key_class = paramiko.ECDSAKey
    else:
        raise ConfigError(f"private key type {type(loaded).__name__} is not supported")
    plain = loaded.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    return key_class.from_private_key(io.StringIO(plain.decode("ascii")))


def _passphrase_problem(password: bytes | None) -> str:
    if password is None:
        return "the key is encrypted and no passphrase was given"
    return "a passphrase was given but the key is not encrypted"
