"""ERP kind -> connector descriptor: adding an ERP adds its folders and one line here.

Each line names a connector's `plugin.py` `PLUGIN`. Loading a descriptor imports only the
connector's settings model (pydantic), never its client: adapters, sandboxes and demo seeds are
imported on first use. Loading also installs the connector's log patterns, so its credential
shapes are masked in every process that can read one of its tenant files.
"""

import threading

from bridge_pipelines.erps.plugin import AdapterFactory, ErpPlugin, load_object
from bridge_pipelines.erps.settings import NoErpSettings
from bridge_pipelines.errors import ConfigError
from bridge_pipelines.redaction import register_pattern

BUILTIN: tuple[str, ...] = (
    "bridge_pipelines.erps.syspro.plugin:PLUGIN",
    "bridge_pipelines.erps.sap_b1.plugin:PLUGIN",
    "bridge_pipelines.erps.infor_m3.plugin:PLUGIN",
    "bridge_pipelines.erps.acumatica.plugin:PLUGIN",
)

NONE = ErpPlugin(
    kind="none",
    display_name="no ERP",
    settings_model=NoErpSettings,
    adapter_factory="bridge_pipelines.erps.registry:_no_adapter",
)
"""A tenant without an ERP: its files are taken, validated and held; nothing is posted."""

_lock = threading.Lock()
_plugins: dict[str, ErpPlugin] = {}
_loaded = False


def _install(plugin: ErpPlugin) -> None:
    for regex, replacement in plugin.log_patterns:
        register_pattern(regex, replacement)
    _plugins[plugin.kind] = plugin


def _load_builtin() -> None:
    global _loaded  # noqa: PLW0603 - the registry is process-wide by design
    with _lock:
        if _loaded:
            return
        _install(NONE)
        for path in BUILTIN:
            plugin = load_object(path)
            if not isinstance(plugin, ErpPlugin):
                raise TypeError(f"{path} is not an ErpPlugin")
            _install(plugin)
        _loaded = True


def register(plugin: ErpPlugin) -> None:
    """Register (or replace) a connector at run time: tests and out-of-tree connectors."""
    _load_builtin()
    with _lock:
        _install(plugin)


def unregister(kind: str) -> None:
    """Forget a connector registered with `register` (built-in ones come back on reload)."""
    with _lock:
        _plugins.pop(kind, None)


def plugins() -> list[ErpPlugin]:
    """Every registered connector, `none` excluded.

    Built-in ones in `BUILTIN` order, then those registered at run time.
    """
    _load_builtin()
    return [p for kind, p in _plugins.items() if kind != NONE.kind]


def kinds() -> list[str]:
    """Every ERP kind with an adapter."""
    return [p.kind for p in plugins()]


def plugin(kind: str) -> ErpPlugin:
    """The connector for `kind` (`none` included).

    Raises:
        ConfigError: no connector is registered for `kind`.
    """
    _load_builtin()
    found = _plugins.get(kind)
    if found is None:
        raise ConfigError(f"no ERP adapter for kind {kind!r}; known: {', '.join(kinds()) or '-'}")
    return found


def find(kind: str) -> ErpPlugin | None:
    """The connector for `kind`, or None."""
    _load_builtin()
    return _plugins.get(kind)


def _no_adapter(*args: object, **kwargs: object) -> None:
    raise ConfigError("erp.kind is 'none': this tenant has no ERP to connect to")


def adapter_factory(kind: str) -> AdapterFactory:
    """The adapter factory of `kind`, imported now.

    Raises:
        ConfigError: no connector is registered for `kind` (including "none").
    """
    if kind == NONE.kind:
        plugin(kind + "?")  # the same message as for an unknown kind
    return plugin(kind).factory()
