"""Domain packages never import Dagster: they stay testable and reusable without an instance.

The test harnesses shared with the benchmarks need no pytest, and only the sandbox and the demo
import them; the benchmarks import no test module.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

DOMAIN_MODULES = [
    "bridge_pipelines.errors",
    "bridge_pipelines.settings",
    "bridge_pipelines.tenants.loader",
    "bridge_pipelines.tenants.secrets",
    "bridge_pipelines.sftp.client",
    "bridge_pipelines.sftp.pool",
    "bridge_pipelines.stampli.parse",
    "bridge_pipelines.stampli.schemas",
    "bridge_pipelines.ledger.repository",
    "bridge_pipelines.intake.process",
    "bridge_pipelines.erps.registry",
    "bridge_pipelines.erps.syspro.adapter",
    "bridge_pipelines.posting.engine",
    "bridge_pipelines.mapping.resolve",
    "bridge_pipelines.masterdata.sync",
    "bridge_pipelines.posting.run",
    "bridge_pipelines.intake.scan",
    "bridge_pipelines.sandbox.sftp_server",
    "bridge_pipelines.sandbox.stampli_sim",
]


@pytest.mark.parametrize("module", DOMAIN_MODULES)
def test_domain_module_does_not_import_dagster(module: str) -> None:
    code = f"import sys, {module}; print('dagster' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", f"{module} pulls in dagster"


REPO = Path(__file__).resolve().parents[1]
# Harnesses for real servers and for whole-pipeline passes: shipped tooling that the tests and
# the benchmarks share, so they may not need pytest, and the product may not need them.
HARNESS_MODULES = [
    "bridge_pipelines.sandbox.sshd",
    "bridge_pipelines.sandbox.fault_proxy",
    "bridge_pipelines.sandbox.postgres",
    "bridge_pipelines.sandbox.faultworld.world",
    "bridge_pipelines.sandbox.faultworld.driver",
]
HARNESS_PACKAGES = (
    "bridge_pipelines.sandbox.sshd",
    "bridge_pipelines.sandbox.fault_proxy",
    "bridge_pipelines.sandbox.postgres",
    "bridge_pipelines.sandbox.faultworld",
)


def _imported_modules(path: Path) -> set[str]:
    """Every module an `import` or `from ... import` in the file names (absolute imports only)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _importers(folder: Path, prefixes: tuple[str, ...], *, skip: tuple[str, ...] = ()) -> list[str]:
    hits = []
    for path in sorted(folder.rglob("*.py")):
        relative = path.relative_to(REPO).as_posix()
        if relative.startswith(skip):
            continue
        hits += [f"{relative}: {m}" for m in _imported_modules(path) if m.startswith(prefixes)]
    return hits


@pytest.mark.parametrize("module", HARNESS_MODULES)
def test_harness_module_imports_neither_pytest_nor_a_test_module(module: str) -> None:
    code = (
        f"import sys, {module}; "
        "print(sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('pytest', '_pytest', 'bridge_pipelines_tests')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", f"{module} pulls in {out.stdout.strip()}"


def test_only_the_sandbox_and_the_demo_import_the_harnesses() -> None:
    skip = ("bridge_pipelines/sandbox/", "bridge_pipelines/demo/")
    assert _importers(REPO / "bridge_pipelines", HARNESS_PACKAGES, skip=skip) == []


def test_benchmarks_import_no_test_module() -> None:
    assert _importers(REPO / "bench", ("bridge_pipelines_tests",)) == []


def test_shared_test_helpers_are_imported_from_support_not_from_a_test_folder() -> None:
    assert _importers(REPO / "bridge_pipelines_tests", ("bridge_pipelines_tests.unit",)) == []
