"""The throwaway connector, registered by one line, is a connector like the built-in ones.

The conformance suite runs it (`test_conformance.py`, `[throwaway]`); here, the rest of the
product reads its descriptor too: `bridge tenants check` validates a tenant file naming it,
with its own setting, and refuses another connector's setting on it; log redaction masks its
session token's shape.
"""

import io
import logging
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from bridge_pipelines.cli import main
from bridge_pipelines.erps import registry
from bridge_pipelines.redaction import install_redaction
from bridge_pipelines.tenants.secrets import Keyring
from bridge_pipelines_tests.erps.harness import HOST_KEY
from bridge_pipelines_tests.erps.throwaway.plugin import PLUGIN

pytestmark = [pytest.mark.conformance, pytest.mark.usefixtures("throwaway_registered")]


def _write_tenant(directory: Path, keyring: Keyring, **erp: object) -> Path:
    tenant = "throwco"
    path = directory / f"{tenant}.yaml"
    document = {
        "id": tenant,
        "name": "Throw Co",
        "sftp": {
            "host": "sftp.throwco.example",
            "username": "stampli",
            "host_key": HOST_KEY,
            "password": keyring.encrypt(tenant, "sftp.password", "sftp-secret-0"),
        },
        "erp": {
            "kind": PLUGIN.kind,
            "base_url": "https://books.throwco.example/api",
            "username": "bridge",
            "password": keyring.encrypt(tenant, "erp.password", "erp-secret-0"),
            "throwaway_book": "EU",
            **erp,
        },
    }
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def _check() -> Result:
    return CliRunner().invoke(main, ["tenants", "check"], catch_exceptions=False)


def test_tenants_check_accepts_a_tenant_on_the_throwaway_erp(
    tenants_dir: Path, tenant_keyring: Keyring
) -> None:
    _write_tenant(tenants_dir, tenant_keyring)
    result = _check()
    assert result.exit_code == 0, result.output
    assert result.stdout == "1 tenant OK: throwco\n"


def test_tenants_check_names_another_connectors_setting_on_it(
    tenants_dir: Path, tenant_keyring: Keyring
) -> None:
    own = PLUGIN.settings_model.model_fields
    other, field = next(
        (plugin, name)
        for plugin in registry.plugins()
        if plugin.kind != PLUGIN.kind
        for name in plugin.settings_model.model_fields
        if name not in own
    )
    path = _write_tenant(tenants_dir, tenant_keyring, **{field: "https://elsewhere.example/"})
    result = _check()
    assert result.exit_code == 1
    [line] = result.stdout.splitlines()
    assert line.startswith(f"{path}: erp: {field}: read by the {other.label} adapter only")
    assert "1 problem in 1 file(s)" in result.stderr


@pytest.fixture
def log() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A private logger writing to a buffer, with the product's redaction installed."""
    stream = io.StringIO()
    logger = logging.getLogger(f"test.throwaway.{secrets.token_hex(4)}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    install_redaction(logger)
    try:
        yield logger, stream
    finally:
        logger.removeHandler(handler)


def test_a_throwaway_session_token_is_masked_in_log_lines(
    log: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = log
    # The shape the sandbox issues, never registered as a secret: only the plugin's pattern
    # (ErpPlugin.log_patterns, installed by the registry) can mask it.
    token = "tws_" + secrets.token_hex(16)
    logger.info("GET /api/vendors Cookie: TWSESSION=%s", token)
    logger.warning("login answered %s", {"session": token})
    output = stream.getvalue()
    assert token not in output and token[4:] not in output
    assert output.splitlines() == [
        "GET /api/vendors Cookie: TWSESSION=***",
        "login answered {'session': '***'}",
    ]
