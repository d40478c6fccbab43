"""Pinned SSH host keys: one key per tenant, compared exactly, never learned on first use.

A changed or unknown key stops the tenant with a message giving both fingerprints, so an operator
can tell a server rebuild (update the tenant file after checking with the partner) from an attack.
"""

import base64
import hashlib

import paramiko

from bridge_pipelines.errors import ConfigError, HostKeyError


def parse_host_key(line: str) -> paramiko.PKey:
    """The public key of a tenant's `host_key` field (`'<type> <base64>'`, as in known_hosts).

    Raises:
        ConfigError: the line is not a public key paramiko can use.
    """
    parts = line.split()
    if len(parts) < 2:
        raise ConfigError("host_key must be '<key type> <base64>'")
    try:
        return paramiko.PKey.from_type_string(parts[0], base64.b64decode(parts[1], validate=True))
    except (ValueError, paramiko.SSHException) as exc:
        raise ConfigError(f"host_key is not a usable {parts[0]} public key: {exc}") from exc


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH's `SHA256:...` fingerprint, the form `ssh-keygen -lf` prints."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def describe_key(key: paramiko.PKey) -> str:
    """Key type and fingerprint, e.g. `ssh-ed25519 SHA256:...`."""
    return f"{key.get_name()} {fingerprint(key)}"


def known_hosts_name(host: str, port: int) -> str:
    """The name paramiko looks a host key up by: `host` on port 22, `[host]:port` otherwise."""
    return host if port == 22 else f"[{host}]:{port}"


def host_key_mismatch(
    hostname: str, *, expected: paramiko.PKey, offered: paramiko.PKey
) -> HostKeyError:
    """The refusal raised for an unknown or changed host key."""
    return HostKeyError(
        f"host key of {hostname} does not match the pinned key: expected "
        f"{describe_key(expected)}, server offered {describe_key(offered)}; refusing to connect. "
        "If the partner really changed its key, verify the new fingerprint with them and update "
        "the tenant's sftp.host_key."
    )
