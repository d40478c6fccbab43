"""`bridge tenants ...` and `bridge secrets ...` as an operator runs them."""

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bridge_pipelines.cli import main
from bridge_pipelines.tenants.loader import load_tenant_file
from bridge_pipelines.tenants.secrets import Keyring
from bridge_pipelines_tests.support.tenant_fixtures import BAD, plaintext_for

BRIDGE = Path(sys.executable).parent / "bridge"


def run(*args, input=None):
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def test_check_reports_ok_tenants(sealed_tenants):
    result = run("tenants", "check")
    assert result.exit_code == 0, result.output
    assert result.stdout == "3 tenants OK: acme, globex, initech\n"


def test_check_lists_every_problem_with_file_and_field(bad_tenants, tenant_keyring):
    result = run("tenants", "check", "--dir", str(bad_tenants))
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert (
        f"{bad_tenants}/bad_port.yaml: sftp.port: Input should be less than or equal to 65535"
        in (lines)
    )
    assert any(line.startswith(f"{bad_tenants}/syntax_error.yaml: (yaml): ") for line in lines)
    assert len(lines) == 10
    assert "10 problems in 10 file(s)" in result.stderr
    assert "Pl41n-Text-Passw0rd" not in result.output
    assert "Synt4x-Leak-Passw0rd" not in result.output


def test_check_reports_undecryptable_secrets_without_values(sealed_tenants, tenant_keyring):
    acme = sealed_tenants / "acme.yaml"
    acme.write_text(acme.read_text().replace("enc:v1:k1:", "enc:v1:k1:AAAA"))
    result = run("tenants", "check")
    assert result.exit_code == 1
    assert result.stdout.startswith(f"{acme}: sftp.password: ")
    assert "plain<" not in result.output


def test_check_of_an_empty_folder_passes(tenants_dir):
    result = run("tenants", "check")
    assert result.exit_code == 0
    assert "no tenant files" in result.stdout


def test_list_shows_endpoints_and_no_secrets(sealed_tenants):
    table = run("tenants", "list")
    assert table.exit_code == 0
    assert table.stdout.splitlines()[0].split() == ["ID", "NAME", "ERP", "SFTP", "TIMEZONE"]
    assert "sftp.acme.example:2222" in table.stdout
    as_json = run("tenants", "list", "--json")
    rows = json.loads(as_json.stdout)
    assert [row["id"] for row in rows] == ["acme", "globex", "initech"]
    assert rows[1] == {
        "id": "globex",
        "name": "Globex Corporation",
        "erp": "sap_b1",
        "sftp": "sftp.globex.example:22",
        "timezone": "Europe/Berlin",
    }
    for output in (table.stdout, as_json.stdout):
        assert "enc:v1:" not in output and "plain<" not in output


def test_list_fails_on_bad_files(bad_tenants):
    result = run("tenants", "list", "--dir", str(bad_tenants))
    assert result.exit_code == 1
    assert "sftp.port" in result.stderr


def test_keygen_creates_a_private_key_file_once(key_file):
    result = run("secrets", "keygen")
    assert result.exit_code == 0
    assert str(key_file) in result.stdout
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    before = key_file.read_bytes()
    again = run("secrets", "keygen", "--key-file", str(key_file))
    assert again.exit_code == 1
    assert "refusing to overwrite" in again.output
    assert key_file.read_bytes() == before


def test_encrypt_reads_stdin_and_prints_only_ciphertext(tenant_keyring):
    result = run(
        "secrets", "encrypt", "--tenant", "acme", "--field", "sftp.password", input="hunter2pw\n"
    )
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert result.stdout == token + "\n"
    assert token.startswith("enc:v1:k1:")
    assert "hunter2pw" not in result.output
    secret = tenant_keyring.decrypt("acme", "sftp.password", token)
    assert secret.get_secret_value() == "hunter2pw"  # the newline from `echo` is not kept


def test_encrypt_keeps_a_multi_line_key(tenant_keyring):
    pem = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk=\n-----END OPENSSH PRIVATE KEY-----"
    result = run(
        "secrets", "encrypt", "--tenant", "acme", "--field", "sftp.private_key", input=pem + "\n"
    )
    token = result.stdout.strip()
    assert tenant_keyring.decrypt("acme", "sftp.private_key", token).get_secret_value() == pem


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tenant", "Acme!", "--field", "sftp.password"], "--tenant"),
        (["--tenant", "acme", "--field", "sftp.host"], "sftp.host"),
        (["--tenant", "acme", "--field", "sftp.password", "--value", "pw"], "--value"),
    ],
    ids=["bad tenant id", "not a secret field", "no value argument"],
)
def test_encrypt_refuses_bad_arguments(tenant_keyring, args, message):
    result = run("secrets", "encrypt", *args, input="pw\n")
    assert result.exit_code == 2
    assert message in result.output
    assert "enc:v1:" not in result.output


def test_encrypt_refuses_an_empty_secret(tenant_keyring):
    result = run("secrets", "encrypt", "--tenant", "acme", "--field", "sftp.password", input="\n")
    assert result.exit_code == 1
    assert "empty secret" in result.output


def test_encrypt_without_keys_explains_keygen(key_file):
    result = run("secrets", "encrypt", "--tenant", "acme", "--field", "sftp.password", input="pw")
    assert result.exit_code == 1
    assert "bridge secrets keygen" in result.output


def test_encrypted_value_pasted_in_a_file_passes_check(tenants_dir, tenant_keyring):
    source = (BAD / "plaintext_secret.yaml").read_text()
    token = run(
        "secrets",
        "encrypt",
        "--tenant",
        "plaintext_secret",
        "--field",
        "sftp.password",
        input="Pl41n-Text-Passw0rd\n",
    ).stdout.strip()
    (tenants_dir / "plaintext_secret.yaml").write_text(source.replace("Pl41n-Text-Passw0rd", token))
    result = run("tenants", "check")
    assert result.exit_code == 0, result.output
    assert result.stdout == "1 tenant OK: plaintext_secret\n"


def test_rotate_then_retire(sealed_tenants, tenant_keyring, key_file):
    tenant_keyring.add_key()  # k2 primary while every file is still under k1
    refused = run("secrets", "retire-key", "k1")
    assert refused.exit_code == 1
    assert f"{sealed_tenants}/acme.yaml: sftp.password: still encrypted with key 'k1'" in (
        refused.output
    )
    comments = (sealed_tenants / "globex.yaml").read_text().count("#")

    rotated = run("secrets", "rotate")
    assert rotated.exit_code == 0, rotated.output
    assert "new primary key k3; re-encrypted 6 secret(s) in 3 file(s)" in rotated.stdout
    assert "retire-key k1" in rotated.stdout
    assert (sealed_tenants / "globex.yaml").read_text().count("#") == comments
    assert run("tenants", "check").exit_code == 0

    for key_id in ("k1", "k2"):
        retired = run("secrets", "retire-key", key_id)
        assert retired.exit_code == 0, retired.output
    assert Keyring.load(key_file).key_ids == ["k3"]
    assert run("tenants", "check").stdout == "3 tenants OK: acme, globex, initech\n"
    acme = load_tenant_file(sealed_tenants / "acme.yaml")
    assert acme.sftp.password is not None
    assert (
        Keyring.load(key_file).decrypt("acme", "sftp.password", acme.sftp.password)
    ).get_secret_value() == plaintext_for("acme", "sftp.password")


def test_rotate_refuses_while_a_file_is_broken(sealed_tenants, tenant_keyring, key_file):
    shutil.copy(BAD / "bad_port.yaml", sealed_tenants)
    result = run("secrets", "rotate")
    assert result.exit_code == 1
    assert "bad_port.yaml: sftp.port" in result.stderr
    assert "nothing changed" in result.output
    assert Keyring.load(key_file).key_ids == ["k1"]


@pytest.mark.e2e
def test_installed_bridge_command_checks_tenants(sealed_tenants, bad_tenants, key_file):
    assert BRIDGE.exists(), f"{BRIDGE} missing: run `make test` to install the project"
    env = {
        **os.environ,
        "BRIDGE_KEY_FILE": str(key_file),
        "BRIDGE_TENANTS_DIR": str(sealed_tenants),
    }
    env.pop("BRIDGE_MASTER_KEYS", None)

    def bridge(*args):
        return subprocess.run(
            [str(BRIDGE), *args], env=env, capture_output=True, text=True, timeout=60, check=False
        )

    ok = bridge("tenants", "check")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == "3 tenants OK: acme, globex, initech\n"
    bad = bridge("tenants", "check", "--dir", str(bad_tenants))
    assert bad.returncode == 1
    assert f"{bad_tenants}/missing_sftp.yaml: sftp: required" in bad.stdout.splitlines()
    assert "Pl41n-Text-Passw0rd" not in bad.stdout + bad.stderr
