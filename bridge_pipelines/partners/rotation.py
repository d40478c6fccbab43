"""Key rotation for the partners files: re-encrypt in place, and say where a key is still used.

Same rules as the tenant files' rotation (`tenants/rotation.py`): each ciphertext is replaced
inside the exact span of its YAML scalar, so comments and layout survive review; the file is
replaced atomically; a key is retired only once no partners file uses it either.
"""

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bridge_pipelines.errors import BridgeError, FieldProblem
from bridge_pipelines.partners.config import PARTNERS_FOLDER, SECRET_FIELDS, secret_field
from bridge_pipelines.settings import get_settings
from bridge_pipelines.tenants.secrets import Keyring


@dataclass
class PartnerRotation:
    """What re-encrypting the partners files did."""

    secrets: int = 0
    files: list[Path] = field(default_factory=list)
    problems: list[FieldProblem] = field(default_factory=list)


def partner_files(directory: Path | None = None) -> list[Path]:
    """Every `<tenants dir>/partners/<tenant>.yaml`, by name."""
    folder = (directory if directory is not None else get_settings().tenants_dir) / PARTNERS_FOLDER
    return sorted(folder.glob("*.yaml")) if folder.is_dir() else []


def _secret_scalars(text: str) -> list[tuple[str, str, yaml.ScalarNode]]:
    """(partner id, secret name, scalar node) for every secret of a partners file."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    found: list[tuple[str, str, yaml.ScalarNode]] = []
    if not isinstance(root, yaml.MappingNode):
        return found
    partners = next((v for k, v in root.value if k.value == "partners"), None)
    if not isinstance(partners, yaml.SequenceNode):
        return found
    for partner in partners.value:
        if not isinstance(partner, yaml.MappingNode):
            continue
        values = {k.value: v for k, v in partner.value}
        pid, sftp = values.get("id"), values.get("sftp")
        if not isinstance(pid, yaml.ScalarNode) or not isinstance(sftp, yaml.MappingNode):
            continue
        for key, value in sftp.value:
            if key.value in SECRET_FIELDS and isinstance(value, yaml.ScalarNode) and value.value:
                found.append((str(pid.value), str(key.value), value))
    return found


def reencrypt_partner_files(directory: Path | None, keyring: Keyring) -> PartnerRotation:
    """Re-encrypt every partner secret under the keyring's primary key, file by file."""
    result = PartnerRotation()
    for path in partner_files(directory):
        tenant_id = path.stem
        text = path.read_text(encoding="utf-8")
        edits: list[tuple[int, int, str]] = []
        try:
            for pid, name, node in _secret_scalars(text):
                new = keyring.reencrypt(tenant_id, secret_field(pid, name), str(node.value))
                if new != node.value:
                    start, end = node.start_mark.index, node.end_mark.index
                    edits.append((start, end, text[start:end].replace(str(node.value), new)))
        except (BridgeError, yaml.YAMLError) as exc:
            result.problems.append(FieldProblem(str(path), "partners", str(exc)))
            continue
        if not edits:
            continue
        for start, end, replacement in sorted(edits, reverse=True):
            text = text[:start] + replacement + text[end:]
        _write_atomically(path, text)
        result.secrets += len(edits)
        result.files.append(path)
    return result


def partner_key_usage(directory: Path | None, key_id: str) -> list[FieldProblem]:
    """Where partners files still hold ciphertext under `key_id`."""
    marker = re.compile(rf"^enc:v1:{re.escape(key_id)}:")
    uses: list[FieldProblem] = []
    for path in partner_files(directory):
        text = path.read_text(encoding="utf-8", errors="replace")
        try:
            scalars = _secret_scalars(text)
        except yaml.YAMLError:
            scalars = []
        for pid, name, node in scalars:
            if marker.match(str(node.value)):
                uses.append(
                    FieldProblem(
                        str(path),
                        f"partners.{pid}.sftp.{name}",
                        f"still encrypted with key {key_id!r}",
                    )
                )
    return uses


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
