"""`ErpPlugin`: the one descriptor a connector declares, read by everything that must not name it.

The registry, the tenant-file model (`erp:` as a union over the plugins' settings models),
log redaction, `bridge tenants check`, the demo and the test harnesses (the conformance suite,
the fault matrix, the soak) read descriptors; none of them branches on an ERP's name. The
adapter factory, sandbox app and demo seed are dotted paths imported on first use, so loading
the registry imports no ERP client, no sandbox and nothing of the demo.

The adapter factory is called as `factory(settings, secrets, *, owner, **options)`:
`settings` is the connector's own settings model (validated from the tenant file), `secrets`
maps its `EncryptedSecret` field names to decrypted values (only those set), `owner` names the
tenant for messages, and `options` are an `httpx.Client` (`http`), a shared `rate_limiter` and
client-setting overrides (timeouts, page size) used by tests and benchmarks.
"""

import importlib
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, get_args

from pydantic import SecretStr

from bridge_pipelines.erps.base import AdapterBase, ErpAdapter
from bridge_pipelines.erps.settings import EncryptedSecret, ErpSettings
from bridge_pipelines.errors import ConfigError

ErpSecrets = Mapping[str, SecretStr]
"""Decrypted secret fields of an ERP block, by field name (`password`, `company_password`)."""

AdapterFactory = Callable[..., ErpAdapter]
_SECRET_MARKER = get_args(EncryptedSecret)[1]


def load_object(path: str) -> Any:
    """The object a `package.module:attribute` path names, imported now."""
    module_name, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def _is_secret(annotation: Any, metadata: list[Any]) -> bool:
    if any(item is _SECRET_MARKER for item in metadata):
        return True
    return any(arg is _SECRET_MARKER or _is_secret(arg, []) for arg in get_args(annotation))


@dataclass(frozen=True)
class ErpPlugin:
    """One connector: its kind, name, settings model, adapter factory and companions.

    Attributes:
        kind: the `erp.kind` value of tenant files, equal to the connector's folder name.
        display_name: how people call the ERP ("SAP Business One").
        short_name: how messages name it ("SAP B1"); the display name when empty.
        settings_model: the connector's `ErpSettings` subclass (`kind: Literal[kind]`).
        adapter_factory: `module:function` building the adapter (see the module docstring).
        log_patterns: `(regex, replacement)` pairs masking this ERP's credential shapes in
            every log line (session cookies, session ids in query strings).
        sandbox: `module:attribute` of the connector's `SandboxProfile` (in
            `bridge_pipelines/sandbox/<kind>/`): its app, demo tenant block and mapping, the
            fault match of its posting request, its documents in one shape. None when the
            connector ships no sandbox (the demo and the harnesses then cannot run it).
    """

    kind: str
    display_name: str
    settings_model: type[ErpSettings]
    adapter_factory: str
    log_patterns: tuple[tuple[str, str], ...] = ()
    sandbox: str | None = None
    short_name: str = ""

    @property
    def label(self) -> str:
        """The name messages use: `short_name`, else `display_name`."""
        return self.short_name or self.display_name

    @cached_property
    def secret_fields(self) -> tuple[str, ...]:
        """The settings model's `EncryptedSecret` fields: what is decrypted and masked."""
        return tuple(
            name
            for name, info in self.settings_model.model_fields.items()
            if _is_secret(info.annotation, list(info.metadata))
        )

    def factory(self) -> AdapterFactory:
        """The adapter factory, imported on first use."""
        factory: AdapterFactory = load_object(self.adapter_factory)
        return factory

    def build(self, settings: ErpSettings, secrets: ErpSecrets, **options: Any) -> ErpAdapter:
        """An adapter for one company (see the module docstring for the arguments)."""
        return self.factory()(settings, secrets, **options)

    def adapter_class(self) -> type[AdapterBase] | None:
        """The class the factory returns (its return annotation), when it says so."""
        try:
            returned = typing.get_type_hints(self.factory()).get("return")
        except (NameError, TypeError):
            return None
        if isinstance(returned, type) and issubclass(returned, AdapterBase):
            return returned
        return None

    def reads_open_purchase_orders(self) -> bool | None:
        """Whether the adapter overrides `read_open_pos`; None when it cannot be told."""
        adapter_class = self.adapter_class()
        if adapter_class is None:
            return None
        return adapter_class.read_open_pos is not AdapterBase.read_open_pos

    def records_payments(self) -> bool | None:
        """Whether the adapter overrides `post_payment`; None when it cannot be told."""
        adapter_class = self.adapter_class()
        if adapter_class is None:
            return None
        return adapter_class.post_payment is not AdapterBase.post_payment

    def pays_partial_amounts(self) -> bool | None:
        """Whether the adapter records partial payments (`AdapterBase.pays_partial_amounts`)."""
        adapter_class = self.adapter_class()
        if adapter_class is None:
            return None
        return adapter_class.pays_partial_amounts

    def sandbox_profile(self) -> Any:
        """The sandbox profile, imported on first use.

        Typed `Any` here: its type lives in `sandbox`, which only the demo and tests import.
        """
        return None if self.sandbox is None else load_object(self.sandbox)


def require(settings: ErpSettings, owner: str, *names: str) -> None:
    """Refuse, in one `ConfigError` naming every field, an ERP block that lacks `names`.

    Raises:
        ConfigError: one or more of the fields are unset or empty.
    """
    missing = settings.missing(*names)
    if missing:
        raise ConfigError(f"{owner}: erp.{', erp.'.join(missing)} must be set")
