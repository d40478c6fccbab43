"""The `sftp:` section of a tenant file: where the Stampli files live and how we prove who we are.

Owned by the SFTP package, which reads it; the tenant model composes it.
"""

import base64
import binascii

from pydantic import Field, field_validator, model_validator

from bridge_pipelines.config_fields import EncryptedSecret, FrozenModel

_Frozen = FrozenModel
# The largest file a tenant may allow: a whole file is parsed in memory, at up to 20 times its
# size plus a part per record (`stampli/limits.py`), so 256 MiB may take about 5 GB at worst.
MAX_FILE_BYTES = 256 * 1024 * 1024


def _embedded_key_type(blob: str) -> str | None:
    """The key type an OpenSSH public-key blob starts with (a length-prefixed string)."""
    try:
        raw = base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(raw) < 4:
        return None
    length = int.from_bytes(raw[:4], "big")
    if length > len(raw) - 4:
        return None
    return raw[4 : 4 + length].decode("ascii", errors="replace")


class SftpConfig(_Frozen):
    """Where the tenant's Stampli files live and how we prove who we talk to."""

    host: str
    port: int = Field(22, ge=1, le=65535)
    username: str = Field(min_length=1)
    host_key: str = Field(
        description="Pinned server key, OpenSSH public-key format: '<type> <base64>'.",
    )
    password: EncryptedSecret | None = None
    private_key: EncryptedSecret | None = Field(
        None, description="PEM/OpenSSH private key text, encrypted."
    )
    private_key_passphrase: EncryptedSecret | None = None
    connect_timeout_s: float = Field(10.0, gt=0, le=300)
    operation_timeout_s: float = Field(60.0, gt=0, le=3600)
    settle_seconds: float = Field(
        5.0,
        ge=0,
        le=3600,
        description="A file is stable once unchanged across this interval. Keep it below the "
        "sensor interval: a file is taken two ticks after it is complete at worst.",
    )
    max_file_bytes: int = Field(
        200 * 1024 * 1024,
        gt=0,
        le=MAX_FILE_BYTES,
        description="Files larger than this are quarantined unread (at most 256 MiB).",
    )
    delete_after_download: bool = False

    @field_validator("host_key")
    @classmethod
    def _host_key_shape(cls, value: str) -> str:
        parts = value.split()
        if len(parts) < 2 or not parts[0].startswith(("ssh-", "ecdsa-", "sk-")):
            raise ValueError(
                "must be '<key type> <base64>' as in known_hosts, e.g. 'ssh-ed25519 AAAA...'"
            )
        if _embedded_key_type(parts[1]) != parts[0]:
            raise ValueError(
                f"the base64 part is not an SSH public key of type {parts[0]} "
                "(copy the line from `ssh-keyscan -p <port> <host>`)"
            )
        return " ".join(parts[:2])

    @model_validator(mode="after")
    def _one_auth(self) -> "SftpConfig":
        if self.password is None and self.private_key is None:
            raise ValueError("needs password or private_key")
        if self.private_key_passphrase is not None and self.private_key is None:
            raise ValueError("private_key_passphrase given without private_key")
        return self
