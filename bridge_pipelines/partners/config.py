"""Loading and checking a tenant's partners file, and the partners' decrypted credentials.

The file sits beside the tenant files: `<tenants dir>/partners/<tenant id>.yaml` (a folder, so
the tenant loader, which reads the folder's files, never takes it for a tenant). No file means
no partners. Problems are reported like the tenant file's: file, field path (with the partner's
id, not its index), message; secret values are never shown.
"""

import contextlib
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr, ValidationError

from bridge_pipelines.errors import FieldProblem, TenantConfigError
from bridge_pipelines.partners.models import Partner, PartnersFile
from bridge_pipelines.redaction import register_secret
from bridge_pipelines.settings import get_settings
from bridge_pipelines.sftp.credentials import SftpCredentials
from bridge_pipelines.tenants.loader import _message, _UniqueKeyLoader, _yaml_problem
from bridge_pipelines.tenants.models import TenantConfig
from bridge_pipelines.tenants.secrets import Keyring, UndecryptableSecretError

PARTNERS_FOLDER = "partners"
SECRET_FIELDS = ("password", "private_key", "private_key_passphrase")
MAX_FILE_BYTES = 1024 * 1024


def partners_path(tenant_id: str, tenants_dir: Path | None = None) -> Path:
    """Where a tenant's partners file lives."""
    directory = tenants_dir if tenants_dir is not None else get_settings().tenants_dir
    return directory / PARTNERS_FOLDER / f"{tenant_id}.yaml"


def secret_field(partner_id: str, name: str) -> str:
    """The field a partner secret is sealed to: `partners.<id>.sftp.<name>`."""
    return f"{PARTNERS_FOLDER}.{partner_id}.sftp.{name}"


def _location(loc: tuple[int | str, ...], document: Any) -> str:
    parts = [str(p) for p in loc]
    if len(loc) >= 2 and loc[0] == "partners" and isinstance(loc[1], int):
        with contextlib.suppress(KeyError, IndexError, TypeError):
            parts[1] = str(document["partners"][loc[1]]["id"])
    return ".".join(parts) or "(top level)"


def inspect_partners(path: Path) -> tuple[PartnersFile, list[FieldProblem]]:
    """The partners file at `path` (empty when absent) and its problems."""
    file = str(path)
    if not path.is_file():
        return PartnersFile(), []
    if path.stat().st_size > MAX_FILE_BYTES:
        return PartnersFile(), [FieldProblem(file, "(file)", "larger than 1 MiB")]
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # noqa: S506
    except yaml.YAMLError as exc:
        return PartnersFile(), [_yaml_problem(file, exc)]
    except UnicodeDecodeError:
        return PartnersFile(), [FieldProblem(file, "(file)", "not UTF-8 text")]
    if document is None:
        return PartnersFile(), []
    try:
        return PartnersFile.model_validate(document), []
    except ValidationError as exc:
        return PartnersFile(), [
            FieldProblem(file, _location(e["loc"], document), _message(e)) for e in exc.errors()
        ]


def load_partners(tenant: TenantConfig, tenants_dir: Path | None = None) -> PartnersFile:
    """A tenant's partners.

    Raises:
        TenantConfigError: the partners file does not validate (every problem listed).
    """
    partners, problems = inspect_partners(partners_path(tenant.id, tenants_dir))
    if problems:
        raise TenantConfigError(problems)
    return partners


def check_partner_files(
    tenants: list[TenantConfig], keyring: Keyring | None, tenants_dir: Path | None = None
) -> list[FieldProblem]:
    """Every problem of the tenants' partners files: structure, secrets, and the ERP they need.

    A partners file needs a SYSPRO tenant (the files are read from SYSPRO's OData).
    """
    problems: list[FieldProblem] = []
    for tenant in tenants:
        path = partners_path(tenant.id, tenants_dir)
        partners, found = inspect_partners(path)
        problems.extend(found)
        if partners.partners and tenant.erp.kind != "syspro":
            problems.append(
                FieldProblem(
                    str(path),
                    "partners",
                    f"tenant {tenant.id} has erp.kind {tenant.erp.kind!r}; partner exports "
                    "read SYSPRO (erp.kind: syspro)",
                )
            )
        if keyring is None:
            continue
        for partner in partners.partners:
            for name in SECRET_FIELDS:
                token = getattr(partner.sftp, name)
                if token is None:
                    continue
                try:
                    keyring.decrypt(tenant.id, secret_field(partner.id, name), token)
                except UndecryptableSecretError as exc:
                    problems.append(
                        FieldProblem(str(path), f"partners.{partner.id}.sftp.{name}", exc.reason)
                    )
    return problems


def partner_credentials(tenant_id: str, partner: Partner, keyring: Keyring) -> SftpCredentials:
    """The partner's SFTP secrets, decrypted and registered with log redaction.

    Raises:
        SecretError: a secret does not decrypt for this tenant and field.
    """
    values: dict[str, SecretStr | None] = {}
    for name in SECRET_FIELDS:
        token = getattr(partner.sftp, name)
        if token is None:
            values[name] = None
            continue
        secret = keyring.decrypt(tenant_id, secret_field(partner.id, name), token)
        register_secret(secret.get_secret_value())
        values[name] = secret
    return SftpCredentials(**values)
