"""Key rotation over tenant files: re-encrypt in place, then retire the old key.

Files are edited, not re-dumped: each ciphertext is replaced inside the exact span of its YAML
scalar (located with `yaml.compose`), so comments, ordering and quoting survive review. The new
key is saved before any file changes and old keys stay until retired, so a rotation that stops
half-way leaves every file decryptable; running it again finishes the job.
"""

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bridge_pipelines.errors import ConfigError, FieldProblem
from bridge_pipelines.tenants.loader import (
    FILE_FIELD,
    check_secrets,
    inspect_tenants,
    tenant_files,
)
from bridge_pipelines.tenants.models import TenantConfig
from bridge_pipelines.tenants.secrets import Keyring, encrypted_fields, key_id_of


@dataclass
class RotationResult:
    """What a rotation did."""

    new_key: str
    secrets: int = 0
    files: list[Path] = field(default_factory=list)
    problems: list[FieldProblem] = field(default_factory=list)


def _scalar_span(text: str, field_path: str) -> tuple[int, int] | None:
    node: yaml.Node | None = yaml.compose(text, Loader=yaml.SafeLoader)
    for part in field_path.split("."):
        if not isinstance(node, yaml.MappingNode):
            return None
        node = next((v for k, v in node.value if k.value == part), None)
    if not isinstance(node, yaml.ScalarNode):
        return None
    return node.start_mark.index, node.end_mark.index


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with temporary.open("w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        shutil.copymode(path, temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def reencrypt_file(path: Path, tenant: TenantConfig, keyring: Keyring) -> int:
    """Re-encrypt the tenant's secrets under the primary key, in place; returns how many changed.

    Raises:
        ConfigError: a ciphertext could not be located in the file's text (nothing is written).
        SecretError: a secret does not decrypt.
    """
    text = path.read_text(encoding="utf-8")
    edits: list[tuple[int, int, str]] = []
    for field_path, token in encrypted_fields(tenant):
        new_token = keyring.reencrypt(tenant.id, field_path, token)
        if new_token == token:
            continue
        span = _scalar_span(text, field_path)
        if span is None or text[span[0] : span[1]].count(token) != 1:
            raise ConfigError(
                f"{path}: {field_path}: cannot locate the ciphertext in the file text; "
                "write it as a single plain or quoted value"
            )
        start, end = span
        edits.append((start, end, text[start:end].replace(token, new_token)))
    for start, end, replacement in sorted(edits, reverse=True):
        text = text[:start] + replacement + text[end:]
    if edits:
        _write_atomically(path, text)
    return len(edits)


def rotate_tenant_files(directory: Path | None, keyring: Keyring) -> RotationResult:
    """Add a new primary key and re-encrypt every secret of every tenant file under it.

    Refuses (before changing anything) while any tenant file has a problem, since a secret that
    does not decrypt now could not be re-encrypted.

    Raises:
        ConfigError: the keys come from the environment and cannot be saved.
    """
    report = inspect_tenants(directory)
    problems = report.problems + check_secrets(report, keyring)
    if problems:
        return RotationResult(new_key="", problems=problems)
    result = RotationResult(new_key=keyring.add_key())
    for tenant in report.tenants:
        path = report.files[tenant.id]
        try:
            changed = reencrypt_file(path, tenant, keyring)
        except ConfigError as exc:
            result.problems.append(FieldProblem(str(path), FILE_FIELD, str(exc)))
            continue
        if changed:
            result.secrets += changed
            result.files.append(path)
    return result


def key_usage(directory: Path | None, key_id: str) -> list[FieldProblem]:
    """Where tenant files still hold ciphertext under `key_id`, valid files or not."""
    report = inspect_tenants(directory)
    marker = re.compile(rf"enc:v1:{re.escape(key_id)}:")
    uses: list[FieldProblem] = []
    by_file = {str(path): tenant_id for tenant_id, path in report.files.items()}
    tenants = {t.id: t for t in report.tenants}
    for path in tenant_files(directory):
        text = path.read_text(encoding="utf-8", errors="replace")
        if not marker.search(text):
            continue
        tenant = tenants.get(by_file.get(str(path), ""))
        fields = (
            [f for f, token in encrypted_fields(tenant) if key_id_of(token) == key_id]
            if tenant is not None
            else []
        )
        for field_path in fields or [FILE_FIELD]:
            uses.append(FieldProblem(str(path), field_path, f"still encrypted with key {key_id!r}"))
    return uses


def retire_key(directory: Path | None, keyring: Keyring, key_id: str) -> None:
    """Remove `key_id` from the keyring once no tenant file uses it.

    Raises:
        ConfigError: the key is unknown, primary, or still used (each use is listed).
    """
    if key_id == keyring.primary or key_id not in keyring.key_ids:
        keyring.remove_key(key_id)  # raises with the reason
    uses = key_usage(directory, key_id)
    if uses:
        listed = "\n".join(str(use) for use in uses)
        raise ConfigError(
            f"key {key_id!r} is still used; run `bridge secrets rotate` first:\n{listed}"
        )
    keyring.remove_key(key_id)
