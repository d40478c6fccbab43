"""Domain packages never import Dagster: they stay testable and reusable without an instance."""

import subprocess
import sys

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
