"""ERP kind -> adapter factory: adding an ERP adds a folder and one line here.

Factories are named by dotted path and imported on first use, so loading the registry (and
every Dagster code location that uses it) does not import every ERP's client.
"""

import importlib
from collections.abc import Callable
from typing import Any, cast

from bridge_pipelines.erps.base import ErpAdapter
from bridge_pipelines.errors import ConfigError
from bridge_pipelines.tenants.models import TenantConfig

AdapterFactory = Callable[..., ErpAdapter]
"""Builds a tenant's adapter: `factory(tenant, **options)` (options: an `httpx.Client`, ...)."""

# kind -> "package.module:function". Each ERP issue adds its line, e.g.
# "syspro": "bridge_pipelines.erps.syspro.adapter:build_adapter".
BUILTIN: dict[str, str] = {
    "syspro": "bridge_pipelines.erps.syspro.adapter:build_adapter",
    "sap_b1": "bridge_pipelines.erps.sap_b1.adapter:build_adapter",
}

_registered: dict[str, AdapterFactory] = {}


def register(kind: str, factory: AdapterFactory) -> None:
    """Register (or replace) the factory for an ERP kind; tests use it for fakes."""
    _registered[kind] = factory


def unregister(kind: str) -> None:
    """Forget a factory registered with `register` (the built-in line stays)."""
    _registered.pop(kind, None)


def kinds() -> list[str]:
    """Every ERP kind with an adapter."""
    return sorted(set(BUILTIN) | set(_registered))


def adapter_factory(kind: str) -> AdapterFactory:
    """The factory for an ERP kind.

    Raises:
        ConfigError: no adapter exists for `kind` (including "none").
    """
    if kind in _registered:
        return _registered[kind]
    path = BUILTIN.get(kind)
    if path is None:
        raise ConfigError(f"no ERP adapter for kind {kind!r}; known: {', '.join(kinds()) or '-'}")
    module_name, _, attribute = path.partition(":")
    factory = cast(AdapterFactory, getattr(importlib.import_module(module_name), attribute))
    _registered[kind] = factory
    return factory


def build_adapter(tenant: TenantConfig, **options: Any) -> ErpAdapter:
    """The adapter for a tenant's ERP, built by its kind's factory.

    Raises:
        ConfigError: the tenant's ERP kind has no adapter.
    """
    return adapter_factory(tenant.erp.kind)(tenant, **options)
