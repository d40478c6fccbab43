"""A tenant's ERP adapter: its connector's settings and its secrets, decrypted here.

Connectors never see a `TenantConfig` or a keyring: this is the one place that turns a tenant
file's `erp:` block into what a connector's factory takes (its settings model and the plain
values of its secret fields, registered with log redaction as they are decrypted).
"""

from typing import Any

from pydantic import SecretStr

from bridge_pipelines.erps import registry
from bridge_pipelines.erps.base import ErpAdapter
from bridge_pipelines.tenants.credentials import decrypt_field
from bridge_pipelines.tenants.models import TenantConfig
from bridge_pipelines.tenants.secrets import Keyring


def erp_secrets(tenant: TenantConfig, keyring: Keyring) -> dict[str, SecretStr]:
    """The tenant's ERP secrets that are set, decrypted, by field name (`password`, ...).

    Raises:
        ConfigError: the tenant's ERP kind has no connector.
        SecretError: a secret does not decrypt for this tenant and field.
    """
    plugin = registry.plugin(tenant.erp.kind)
    secrets: dict[str, SecretStr] = {}
    for name in plugin.secret_fields:
        value = decrypt_field(tenant, f"erp.{name}", keyring)
        if value is not None:
            secrets[name] = value
    return secrets


def build_adapter(
    tenant: TenantConfig, *, keyring: Keyring | None = None, **options: Any
) -> ErpAdapter:
    """The adapter for a tenant's ERP, built by its connector's factory (keyring loaded if None).

    `options` go to the factory: an `httpx.Client` (`http`), a `rate_limiter`, client-setting
    overrides (timeouts, page size).

    Raises:
        ConfigError: no connector for the tenant's kind, or its ERP block is incomplete.
        SecretError: a secret does not decrypt for this tenant.
    """
    plugin = registry.plugin(tenant.erp.kind)
    if plugin is registry.NONE:
        registry.adapter_factory(tenant.erp.kind)
    secrets = erp_secrets(tenant, keyring if keyring is not None else Keyring.load())
    return plugin.build(tenant.erp, secrets, owner=f"tenant {tenant.id}", **options)
