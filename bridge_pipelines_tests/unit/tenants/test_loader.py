import re
import shutil
import traceback
from pathlib import Path

import pytest

from bridge_pipelines.errors import TenantConfigError
from bridge_pipelines.tenants.loader import check_tenants, load_tenant_file, load_tenants
from bridge_pipelines_tests.support.tenant_fixtures import BAD, GOOD, GOOD_IDS, plaintext_for

HOST_KEY_BASE64 = "AAAAC3NzaC1lZDI1NTE5AAAAIAEpO0SB27EJ04gcxgtoRqNfLIPsVdt9uY9kZy2uFFBR"
LEAKS = ["Pl41n-Text-Passw0rd", "Synt4x-Leak-Passw0rd"]


def test_good_files_load_sorted_by_id():
    tenants = load_tenants(GOOD)
    assert [t.id for t in tenants] == GOOD_IDS
    globex = tenants[1]
    assert globex.erp.kind == "sap_b1"
    assert globex.sftp.port == 22
    assert globex.templates.invoices.decimal_separator == ","
    assert globex.erp.password == "enc:v1:fixture:globex_erp_password"


def test_default_folder_comes_from_settings(sealed_tenants):
    assert [t.id for t in load_tenants()] == GOOD_IDS


def test_every_problem_of_every_file_is_reported_together():
    with pytest.raises(TenantConfigError) as caught:
        load_tenants(BAD)
    located = {(p.file.rsplit("/", 1)[-1], p.field) for p in caught.value.problems}
    assert located == {
        ("bad_port.yaml", "sftp.port"),
        ("unknown_key.yaml", "schedule"),
        ("bad_timezone.yaml", "timezone"),
        ("missing_sftp.yaml", "sftp"),
        ("bad_host_key.yaml", "sftp.host_key"),
        ("plaintext_secret.yaml", "sftp.password"),
        ("syntax_error.yaml", "(yaml)"),
        ("wrong_name.yaml", "id"),
        ("dupe.yaml", "id"),
        ("dupe.yml", "id"),
    }
    text = str(caught.value)
    assert "bad_port.yaml: sftp.port: Input should be less than or equal to 65535" in text
    assert "unknown field" in text
    assert "Mars/Olympus_Mons" in text
    assert "missing_sftp.yaml: sftp: required" in text
    assert "duplicate tenant id 'dupe'" in text
    assert "rename it right_name.yaml" in text


def test_yaml_syntax_error_is_located_without_quoting_the_line():
    with pytest.raises(TenantConfigError) as caught:
        load_tenant_file(BAD / "syntax_error.yaml")
    (problem,) = caught.value.problems
    assert "line 5, column 12" in problem.message
    assert "Synt4x-Leak-Passw0rd" not in str(caught.value)


def test_plaintext_in_a_secret_field_is_refused_without_echoing_it():
    with pytest.raises(TenantConfigError) as caught:
        load_tenant_file(BAD / "plaintext_secret.yaml")
    rendered = "".join(traceback.format_exception(caught.value)) + repr(caught.value)
    assert "bridge secrets encrypt" in rendered
    for leak in LEAKS:
        assert leak not in rendered
    # no pydantic ValidationError (which carries input values) is chained
    assert caught.value.__cause__ is None and caught.value.__context__ is None


def test_duplicate_yaml_keys_are_refused(tmp_path):
    path = tmp_path / "acme.yaml"
    path.write_text((GOOD / "acme.yaml").read_text() + "name: Again\n")
    with pytest.raises(TenantConfigError, match=r"line 12, column 1: duplicate key 'name'"):
        load_tenant_file(path)


@pytest.mark.parametrize("content", ["", "- a list\n", "just text\n"])
def test_a_file_that_is_not_a_mapping_is_reported(tmp_path, content):
    (tmp_path / "acme.yaml").write_text(content)
    with pytest.raises(TenantConfigError, match=r"acme.yaml: \(file\): must be a YAML mapping"):
        load_tenants(tmp_path)


def test_an_oversized_file_is_refused_unread(tmp_path):
    (tmp_path / "acme.yaml").write_text("# padding\n" * 120_000)
    with pytest.raises(TenantConfigError, match="larger than 1 MiB"):
        load_tenants(tmp_path)


def test_missing_folder_is_a_problem_and_an_empty_one_is_no_tenants(tmp_path):
    with pytest.raises(TenantConfigError, match="tenants folder not found"):
        load_tenants(tmp_path / "nowhere")
    (tmp_path / "README.md").write_text("not a tenant")
    (tmp_path / ".hidden.yaml").write_text("- ignored")
    assert load_tenants(tmp_path) == []


def test_check_passes_when_every_secret_decrypts(sealed_tenants, tenant_keyring):
    assert check_tenants(sealed_tenants, tenant_keyring) == []
    assert check_tenants() == []  # default folder and key file from the environment


def test_check_reports_secrets_the_keyring_cannot_open(tenant_keyring):
    problems = check_tenants(GOOD, tenant_keyring)
    assert {(p.file.rsplit("/", 1)[-1], p.field) for p in problems} == {
        ("acme.yaml", "sftp.password"),
        ("globex.yaml", "sftp.private_key"),
        ("globex.yaml", "sftp.private_key_passphrase"),
        ("globex.yaml", "erp.password"),
        ("globex.yaml", "erp.company_password"),
        ("initech.yaml", "sftp.private_key"),
    }
    assert all("'fixture'" in p.message for p in problems)


def test_check_reports_a_ciphertext_copied_from_another_tenant(sealed_tenants, tenant_keyring):
    acme = (sealed_tenants / "acme.yaml").read_text()
    initech = load_tenant_file(sealed_tenants / "initech.yaml")
    acme_token = load_tenant_file(sealed_tenants / "acme.yaml").sftp.password
    assert acme_token is not None and initech.sftp.private_key is not None
    initech_text = (sealed_tenants / "initech.yaml").read_text()
    # copy acme's password into initech, and initech's key into acme's password field
    (sealed_tenants / "initech.yaml").write_text(
        initech_text.replace(initech.sftp.private_key, acme_token)
    )
    (sealed_tenants / "acme.yaml").write_text(acme.replace(acme_token, initech.sftp.private_key))
    problems = check_tenants(sealed_tenants, tenant_keyring)
    assert [(p.file.rsplit("/", 1)[-1], p.field) for p in problems] == [
        ("acme.yaml", "sftp.password"),
        ("initech.yaml", "sftp.private_key"),
    ]
    assert all("another tenant or field" in p.message for p in problems)
    assert plaintext_for("acme", "sftp.password") not in str(problems)


def test_check_without_keys_says_how_to_create_them(tmp_path, key_file):
    shutil.copytree(GOOD, tmp_path / "t")
    problems = check_tenants(tmp_path / "t")
    assert len(problems) == 1
    assert "bridge secrets keygen" in problems[0].message


def test_check_lists_structural_and_secret_problems_together(sealed_tenants, tenant_keyring):
    shutil.copy(BAD / "bad_port.yaml", sealed_tenants)
    acme = sealed_tenants / "acme.yaml"
    acme.write_text(acme.read_text().replace("enc:v1:k1:", "enc:v1:k9:"))
    problems = check_tenants(sealed_tenants, tenant_keyring)
    assert {(p.file.rsplit("/", 1)[-1], p.field) for p in problems} == {
        ("bad_port.yaml", "sftp.port"),
        ("acme.yaml", "sftp.password"),
    }


def test_tenant_repr_holds_no_plaintext(sealed_tenants):
    for tenant in load_tenants(sealed_tenants):
        rendered = repr(tenant) + str(tenant) + tenant.model_dump_json()
        assert "plain<" not in rendered


def test_the_example_in_the_tenants_readme_validates(tmp_path):
    readme = (Path(__file__).resolve().parents[3] / "tenants" / "README.md").read_text()
    example = readme.split("```yaml\n", 1)[1].split("```", 1)[0]
    filled = example.replace("AAAAC3NzaC1lZDI1NTE5AAAA...", HOST_KEY_BASE64)
    filled = re.sub(r"enc:v1:k1:[\w.]+", "enc:v1:k1:placeholder", filled)
    (tmp_path / "acme.yaml").write_text(filled)
    (tenant,) = load_tenants(tmp_path)
    assert tenant.erp.kind == "sap_b1"
    assert tenant.templates.invoices.columns == {"Vendor No": "VendorId"}
