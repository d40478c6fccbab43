"""`bridge export`, `bridge exports`, `bridge status` and `bridge tenants check` for partners."""

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from bridge_pipelines.cli import main
from bridge_pipelines.demo import partners as demo_partners
from bridge_pipelines.partners.config import partners_path
from bridge_pipelines_tests.partners.conftest import PASSWORD, PartnerWorld

pytestmark = pytest.mark.e2e


@pytest.fixture
def on_disk(partner_world: PartnerWorld, monkeypatch: pytest.MonkeyPatch) -> PartnerWorld:
    """acme's tenant file and partners file in the tenants folder; the ledger in the env."""
    document = partner_world.tenant.model_dump(mode="json", exclude_none=True)
    (partner_world.tenants_dir / "acme.yaml").write_text(yaml.safe_dump(document))
    demo_partners.write_partners_file(
        partners_path("acme", partner_world.tenants_dir),
        demo_partners.partner_document(
            port=partner_world.server.port,
            host_key=partner_world.server.host_key_line,
            password=PASSWORD,
            encrypt=lambda f, plain: partner_world.keyring.encrypt("acme", f, plain),
        ),
    )
    monkeypatch.setenv("BRIDGE_LEDGER_URL", partner_world.ledger.url.render_as_string(False))
    monkeypatch.setenv("BRIDGE_HOME", str(partner_world.tenants_dir.parent / "home"))
    return partner_world


def test_bridge_export_sends_the_period_and_status_lists_it(on_disk: PartnerWorld) -> None:
    runner = CliRunner()
    period = str(on_disk.period)
    sent = runner.invoke(main, ["export", "acme", "--partner", "parent_erp", "--period", period])
    assert sent.exit_code == 0, sent.output
    assert sent.output.count(" sent ") == 3 and PASSWORD not in sent.output
    again = runner.invoke(main, ["export", "acme", "--partner", "parent_erp", "--period", period])
    assert again.exit_code == 0 and again.output.count("already sent") == 3
    status = runner.invoke(main, ["status", "acme", "--json"])
    assert status.exit_code == 0, status.output
    files = json.loads(status.output)["partner_files"]
    assert sorted(f["remote_name"] for f in files) == sorted(on_disk.received())
    listed = runner.invoke(main, ["exports", "acme"])
    assert "partner files: 3" in listed.output


def test_bridge_export_names_a_bad_period_or_partner(on_disk: PartnerWorld) -> None:
    runner = CliRunner()
    bad = runner.invoke(main, ["export", "acme", "--partner", "parent_erp", "--period", "2026-13"])
    assert bad.exit_code == 2 and "is not a month written YYYY-MM" in bad.output
    nobody = runner.invoke(main, ["export", "acme", "--partner", "nobody", "--period", "2026-11"])
    assert nobody.exit_code == 2 and "has no partner 'nobody'" in nobody.output


def test_tenants_check_validates_the_partners_file(on_disk: PartnerWorld) -> None:
    path: Path = partners_path("acme", on_disk.tenants_dir)
    document = yaml.safe_load(path.read_text())
    document["partners"][0]["files"][0]["fields"][0]["field"] = "costcentre"
    document["partners"][0]["files"][1]["name"] = "invoices.x12"
    path.write_text(yaml.safe_dump(document))
    result = CliRunner().invoke(main, ["tenants", "check"])
    assert result.exit_code == 1
    assert (
        "partners.parent_erp.files.0: unknown gl_journal field(s) ['costcentre']" in result.output
    )
    assert "partners.parent_erp.files.1.name: must contain {seq}" in result.output


def test_key_rotation_covers_partner_secrets(on_disk: PartnerWorld) -> None:
    runner = CliRunner()
    path = partners_path("acme", on_disk.tenants_dir)
    before = path.read_text()
    old_key = on_disk.keyring.primary
    rotated = runner.invoke(main, ["secrets", "rotate"])
    assert rotated.exit_code == 0, rotated.output
    assert "1 partner secret(s) in 1 partners file(s)" in rotated.output
    after = path.read_text()
    assert after.startswith("# Partners of this tenant") and f"enc:v1:{old_key}:" not in after
    assert runner.invoke(main, ["tenants", "check"]).exit_code == 0

    path.write_text(before)  # a deployment still holding the old partners file
    refused = runner.invoke(main, ["secrets", "retire-key", old_key])
    assert refused.exit_code != 0
    assert "partners.parent_erp.sftp.password: still encrypted with key" in refused.output
    path.write_text(after)
    assert runner.invoke(main, ["secrets", "retire-key", old_key]).exit_code == 0
