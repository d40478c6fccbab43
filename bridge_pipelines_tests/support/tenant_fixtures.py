"""Tenant fixtures: a keyring generated per test (no committed keys) and sealed tenant files.

Registered in `bridge_pipelines_tests/conftest.py`, so other tiers can use them too.
"""

import re
import shutil
from pathlib import Path

import pytest

from bridge_pipelines.tenants.loader import load_tenant_file
from bridge_pipelines.tenants.secrets import Keyring, encrypted_fields

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tenants"
GOOD = FIXTURES / "good"
BAD = FIXTURES / "bad"
GOOD_IDS = ["acme", "globex", "initech"]


def plaintext_for(tenant_id: str, field: str) -> str:
    """The plain value the sealed fixtures hold for a tenant's field."""
    return f'plain<{tenant_id}/{field}>Zq9&x=1 "quoted"'


def seal(source: Path, target: Path, keyring: Keyring) -> Path:
    """Copy tenant files, replacing each placeholder ciphertext with a real one from `keyring`."""
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(source.glob("*.yaml")):
        tenant = load_tenant_file(path)
        text = path.read_text()
        for field, token in encrypted_fields(tenant):
            sealed = keyring.encrypt(tenant.id, field, plaintext_for(tenant.id, field))
            # whole tokens only: one placeholder may be a prefix of another
            text = re.sub(re.escape(token) + r"(?![\w=-])", sealed, text)
        (target / path.name).write_text(text)
    return target


MAPPED_TENANTS = ("acme", "globex", "initech", "throwco")
"""The tenant ids the fixtures and tests write; each gets an (empty) mapping file."""


@pytest.fixture
def mappings_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """BRIDGE_MAPPINGS_DIR in tmp_path, with an empty mapping file for `MAPPED_TENANTS`.

    `bridge tenants check` reports a tenant with an ERP but no mapping file; a test about
    that removes the file.
    """
    path = tmp_path / "mappings"
    path.mkdir(exist_ok=True)
    for tenant_id in MAPPED_TENANTS:
        (path / f"{tenant_id}.yaml").write_text("{}\n")
    monkeypatch.setenv("BRIDGE_MAPPINGS_DIR", str(path))
    return path


@pytest.fixture
def key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mappings_dir: Path) -> Path:
    """Where the test's key file lives (BRIDGE_KEY_FILE points there; env keys are unset).

    The machine's other per-tenant state comes with it: `mappings_dir`.
    """
    path = tmp_path / "keys" / "keys.json"
    monkeypatch.setenv("BRIDGE_KEY_FILE", str(path))
    monkeypatch.delenv("BRIDGE_MASTER_KEYS", raising=False)
    return path


@pytest.fixture
def tenant_keyring(key_file: Path) -> Keyring:
    """A fresh one-key keyring in tmp_path, also the process default via BRIDGE_KEY_FILE."""
    return Keyring.generate(key_file)


@pytest.fixture
def tenants_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty tenants folder, the default via BRIDGE_TENANTS_DIR."""
    path = tmp_path / "tenants"
    path.mkdir()
    monkeypatch.setenv("BRIDGE_TENANTS_DIR", str(path))
    return path


@pytest.fixture
def sealed_tenants(tenants_dir: Path, tenant_keyring: Keyring) -> Path:
    """The good fixture tenants with secrets that decrypt with `tenant_keyring`."""
    return seal(GOOD, tenants_dir, tenant_keyring)


@pytest.fixture
def bad_tenants(tmp_path: Path) -> Path:
    """A copy of the bad fixture tenants."""
    return Path(shutil.copytree(BAD, tmp_path / "bad"))
