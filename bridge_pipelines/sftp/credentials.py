"""Decrypted SFTP credentials: in memory only, never in a repr, a log line or run config."""

from dataclasses import dataclass, field

from pydantic import SecretStr


@dataclass(frozen=True)
class SftpCredentials:
    """What paramiko needs to log in; plain values only via `.get_secret_value()`."""

    password: SecretStr | None = field(default=None, repr=False)
    private_key: SecretStr | None = field(default=None, repr=False)
    private_key_passphrase: SecretStr | None = field(default=None, repr=False)
