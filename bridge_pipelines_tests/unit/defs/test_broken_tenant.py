"""One tenant file with a typo stops only its own tenant, in Dagster and in the CLI."""

from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner

from bridge_pipelines.cli import main
from bridge_pipelines.defs import build_defs
from bridge_pipelines.defs.failures import config_errors_not_retried
from bridge_pipelines.errors import ConfigError

BROKEN = """\
id: hooli
name: Hooli
sftp:
  host: 10.0.0.13
  port: 70000
  username: hooli
"""


@pytest.fixture
def with_broken_third(sealed_tenants: Path) -> Path:
    (sealed_tenants / "hooli.yaml").write_text(BROKEN)
    return sealed_tenants


def test_a_broken_file_is_a_failing_placeholder_and_the_others_load(with_broken_third):
    defs = build_defs()
    dg.Definitions.validate_loadable(defs)
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {"acme/stampli/stampli_invoices", "globex/erp/posted_invoices"} <= keys
    assert "hooli/tenant_file" in keys
    assert not any(k.startswith("hooli/stampli") for k in keys)
    sensors = {s.name for s in defs.sensors or []}
    assert {"acme_stampli_files", "globex_stampli_files", "hooli_tenant_file"} <= sensors

    placeholder = defs.resolve_assets_def(dg.AssetKey(["hooli", "tenant_file"]))
    assert f"{with_broken_third}/hooli.yaml: sftp.port:" in (
        placeholder.descriptions_by_key[dg.AssetKey(["hooli", "tenant_file"])] or ""
    )
    result = dg.materialize([placeholder], raise_on_error=False)
    assert not result.success
    checks = result.get_asset_check_evaluations()
    assert [(c.check_name, c.passed) for c in checks] == [("loads", False)]
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = str(failure.step_failure_data.error.message)  # type: ignore[union-attr]
    assert "hooli.yaml: sftp.port: Input should be less than or equal to 65535" in message


def test_the_cli_serves_the_other_tenants_and_names_the_broken_file(with_broken_third):
    ok = CliRunner().invoke(main, ["tenants", "list", "--json"])
    # The listing still says which file is broken, and exits 1 for it.
    assert "hooli.yaml: sftp.port" in ok.output
    check = CliRunner().invoke(main, ["tenants", "check"])
    assert check.exit_code == 1 and "hooli.yaml: sftp.port" in check.output
    from bridge_pipelines.tenants.loader import find_tenant

    assert find_tenant("acme").id == "acme"
    with pytest.raises(ConfigError, match=r"hooli.yaml: sftp.port"):
        find_tenant("hooli")


def test_a_configuration_error_is_not_retried():
    attempts: list[int] = []

    @dg.asset(retry_policy=dg.RetryPolicy(max_retries=2))
    def posting() -> None:
        attempts.append(1)
        with config_errors_not_retried("acme"):
            raise ConfigError("SYSPRO refused the operator's password")

    result = dg.materialize([posting], raise_on_error=False)
    assert not result.success
    assert len(attempts) == 1
