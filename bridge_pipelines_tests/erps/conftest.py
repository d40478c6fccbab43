"""The conformance suite's fixtures: every registered connector that ships a sandbox.

`erp` is parametrized over `registry.plugins()` (those whose `sandbox_profile()` is set): one
sandbox process per kind per session, started from the profile's `app`, reset to its seeded
company before each test. Nothing here names an ERP.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge_pipelines.erps import registry
from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.sandbox.erp_base.runner import RunningSandbox, start_sandbox
from bridge_pipelines.tenants.secrets import Keyring
from bridge_pipelines_tests.erps.harness import ErpUnderTest, open_ledger
from bridge_pipelines_tests.erps.throwaway.plugin import PLUGIN as THROWAWAY

# Every registered connector, and the throwaway one written in these tests (`throwaway/`),
# which joins the registry only while its own tests run (`throwaway_registered`): the rest of
# the session (the fault matrix, the soak, the leak scan) sees the built-in connectors alone.
PLUGINS = [
    plugin for plugin in (*registry.plugins(), THROWAWAY) if plugin.sandbox_profile() is not None
]


@pytest.fixture
def throwaway_registered() -> Iterator[None]:
    """The throwaway connector in the registry for one test."""
    registry.register(THROWAWAY)  # the one line a connector needs
    try:
        yield
    finally:
        registry.unregister(THROWAWAY.kind)


@pytest.fixture(scope="session")
def conformance_sandboxes(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, RunningSandbox]]:
    """Sandbox processes by kind, started on first use, stopped at the end of the session."""
    running: dict[str, RunningSandbox] = {}
    try:
        yield running
    finally:
        for sandbox in running.values():
            sandbox.stop()


@pytest.fixture(params=PLUGINS, ids=[plugin.kind for plugin in PLUGINS])
def erp(
    request: pytest.FixtureRequest,
    conformance_sandboxes: dict[str, RunningSandbox],
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
) -> ErpUnderTest:
    """One connector with its sandbox reset to the seeded company, faults cleared."""
    plugin = request.param
    if registry.find(plugin.kind) is None:
        request.getfixturevalue("throwaway_registered")
    profile = plugin.sandbox_profile()
    running = conformance_sandboxes.get(plugin.kind)
    if running is None:
        state = tmp_path_factory.mktemp(f"conformance-{plugin.kind}")
        running = conformance_sandboxes[plugin.kind] = start_sandbox(profile.app, state)
    elif running.process is None or running.process.poll() is not None:
        running.start()
    running.admin.reset()
    running.admin.clear_faults()
    keyring = Keyring.generate(tmp_path / "keys" / "keys.json")
    return ErpUnderTest(plugin, profile, running, keyring)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    """A real SQLite ledger, migrated."""
    opened = open_ledger(tmp_path / "l.db")
    try:
        yield opened
    finally:
        opened.dispose()
