"""Decrypted credentials for clients, built in memory at connection time and masked in logs."""

from typing import Any

from pydantic import SecretStr

from bridge_pipelines.redaction import register_secret
from bridge_pipelines.sftp.credentials import SftpCredentials
from bridge_pipelines.tenants.models import TenantConfig
from bridge_pipelines.tenants.secrets import Keyring


def decrypt_field(tenant: TenantConfig, field: str, keyring: Keyring) -> SecretStr | None:
    """The plain value of one secret field (dotted path, e.g. `erp.password`), or None if unset.

    The value is registered with the log redactor before it is returned.

    Raises:
        SecretError: the ciphertext does not decrypt for this tenant and field.
    """
    value: Any = tenant
    for part in field.split("."):
        value = getattr(value, part)
    if value is None:
        return None
    secret = keyring.decrypt(tenant.id, field, str(value))
    register_secret(secret.get_secret_value())
    return secret


def sftp_credentials(tenant: TenantConfig, keyring: Keyring) -> SftpCredentials:
    """The tenant's SFTP password and/or private key (with passphrase), decrypted.

    Raises:
        SecretError: a secret field does not decrypt for this tenant and field.
    """
    return SftpCredentials(
        password=decrypt_field(tenant, "sftp.password", keyring),
        private_key=decrypt_field(tenant, "sftp.private_key", keyring),
        private_key_passphrase=decrypt_field(tenant, "sftp.private_key_passphrase", keyring),
    )
