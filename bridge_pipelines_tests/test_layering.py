"""The arrows go one way: the import-linter contracts of pyproject.toml hold.

`make lint` runs `lint-imports` too; running it here keeps `make test` (what CI calls) honest
when someone runs only the tests. The contracts: layers from the CLI down to the errors, no
cycles between sibling packages, connectors independent of each other, only the demo imports
the sandboxes, and the domain imports no Dagster.
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONTRACTS = 5


def test_every_import_contract_is_kept() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"Contracts: {CONTRACTS} kept, 0 broken." in out.stdout, out.stdout
