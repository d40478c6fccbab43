"""The arrows go one way.

Inside the package, the import-linter contracts of pyproject.toml hold (`make lint` runs
`lint-imports` too; running it here keeps `make test`, what CI calls, honest): layers from the
CLI down to the errors, no cycles between sibling packages, connectors independent of each
other, only the demo imports the sandboxes, and the domain imports no Dagster. Outside it: the
harnesses shared with the benchmarks need no pytest, the benchmarks import no test module, and
tests share helpers through `support/`.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CONTRACTS = 5


def test_every_import_contract_is_kept() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"Contracts: {CONTRACTS} kept, 0 broken." in out.stdout, out.stdout


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


def test_benchmarks_import_no_test_module() -> None:
    assert _importers(REPO / "bench", ("bridge_pipelines_tests",)) == []


def test_shared_test_helpers_are_imported_from_support_not_from_a_test_folder() -> None:
    assert _importers(REPO / "bridge_pipelines_tests", ("bridge_pipelines_tests.unit",)) == []
