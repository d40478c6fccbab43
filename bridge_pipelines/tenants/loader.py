"""Tenant files into `TenantConfig`s, with every problem of every file reported at once.

A data engineer fixes a folder of tenant files in one pass only if the loader lists everything
wrong, each with file and dotted field path. Messages never quote a field's value: a plaintext
password pasted into a secret field must not reach a terminal, a CI log or the Dagster UI.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bridge_pipelines.erps import registry
from bridge_pipelines.errors import ConfigError, FieldProblem, TenantConfigError
from bridge_pipelines.settings import get_settings
from bridge_pipelines.tenants.models import TenantConfig
from bridge_pipelines.tenants.secrets import Keyring, UndecryptableSecretError, encrypted_fields

TENANT_SUFFIXES = (".yaml", ".yml")
FILE_FIELD = "(file)"
MAX_TENANT_FILE_BYTES = 1024 * 1024
FOLDER_NOT_FOUND = "tenants folder not found"


@dataclass
class TenantCheck:
    """What a folder of tenant files holds: the tenants that validated and every problem found."""

    tenants: list[TenantConfig] = field(default_factory=list)
    problems: list[FieldProblem] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)
    """Tenant id -> the file it came from."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses duplicate mapping keys (YAML would keep the last silently)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", mark)
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


def _yaml_problem(file: str, exc: yaml.YAMLError) -> FieldProblem:
    # str(exc) quotes the offending line, which may hold a plaintext secret: keep only the
    # location and the parser's description of the problem.
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    problem = getattr(exc, "problem", None) or exc.__class__.__name__
    return FieldProblem(file, "(yaml)", f"YAML syntax error at {where}{problem}")


def _field_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def _message(error: Any) -> str:
    kind = error["type"]
    if kind == "missing":
        return "required"
    if kind == "extra_forbidden":
        return "unknown field (check the spelling; see tenants/README.md)"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def _parse_file(path: Path) -> tuple[TenantConfig | None, list[FieldProblem]]:
    file = str(path)
    try:
        if path.stat().st_size > MAX_TENANT_FILE_BYTES:
            return None, [FieldProblem(file, FILE_FIELD, "larger than 1 MiB: not a tenant file")]
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None, [FieldProblem(file, FILE_FIELD, "not UTF-8 text")]
    except OSError as exc:
        return None, [FieldProblem(file, FILE_FIELD, f"cannot read: {exc.strerror}")]
    try:
        document = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        return None, [_yaml_problem(file, exc)]
    if not isinstance(document, dict):
        return None, [FieldProblem(file, FILE_FIELD, "must be a YAML mapping (id: ..., sftp: ...)")]
    problems: list[FieldProblem] = []
    tenant: TenantConfig | None = None
    try:
        tenant = TenantConfig.model_validate(document)
    except ValidationError as exc:
        problems.extend(
            FieldProblem(file, _field_path(error["loc"]), _message(error)) for error in exc.errors()
        )
    declared = document.get("id")
    if isinstance(declared, str) and declared != path.stem:
        problems.append(
            FieldProblem(
                file, "id", f"{declared!r} differs from the file name: rename it {declared}.yaml"
            )
        )
    return tenant, problems


def tenant_files(directory: Path | None = None) -> list[Path]:
    """The tenant files of `directory` (default: the configured folder), by name."""
    directory = directory if directory is not None else get_settings().tenants_dir
    if not directory.is_dir():
        return []
    return sorted(
        p
        for p in directory.iterdir()
        if p.suffix in TENANT_SUFFIXES and not p.name.startswith(".") and p.is_file()
    )


def inspect_tenants(directory: Path | None = None) -> TenantCheck:
    """Every tenant file of `directory` (default: the configured tenants folder), validated.

    Files with problems contribute their problems and no tenant; tenants are sorted by id.
    """
    directory = directory if directory is not None else get_settings().tenants_dir
    check = TenantCheck()
    if not directory.is_dir():
        check.problems.append(FieldProblem(str(directory), FILE_FIELD, FOLDER_NOT_FOUND))
        return check
    by_id: dict[str, list[Path]] = defaultdict(list)
    parsed: list[tuple[Path, TenantConfig]] = []
    for path in tenant_files(directory):
        tenant, problems = _parse_file(path)
        check.problems.extend(problems)
        if tenant is not None:
            by_id[tenant.id].append(path)
            if not problems:
                parsed.append((path, tenant))
    for tenant_id, paths in by_id.items():
        if len(paths) > 1:
            others = ", ".join(p.name for p in paths)
            check.problems.extend(
                FieldProblem(str(p), "id", f"duplicate tenant id {tenant_id!r} (files: {others})")
                for p in paths
            )
    check.problems.sort(key=lambda problem: problem.file)  # stable: a file's own order stays
    for path, tenant in sorted(parsed, key=lambda item: item[1].id):
        if len(by_id[tenant.id]) == 1:
            check.tenants.append(tenant)
            check.files[tenant.id] = path
    return check


def load_tenant_file(path: Path) -> TenantConfig:
    """One tenant file, validated.

    Raises:
        TenantConfigError: every problem of the file, each with its field path.
    """
    tenant, problems = _parse_file(path)
    if problems or tenant is None:
        raise TenantConfigError(problems)
    return tenant


def load_tenants(directory: Path | None = None) -> list[TenantConfig]:
    """All tenants of `directory` (default `Settings().tenants_dir`), sorted by id.

    Raises:
        TenantConfigError: all problems of all files together, each with file and field.
    """
    check = inspect_tenants(directory)
    if check.problems:
        raise TenantConfigError(check.problems)
    return check.tenants


def find_tenant(tenant_id: str, directory: Path | None = None) -> TenantConfig:
    """One tenant of the tenants folder, for commands that name it.

    Another tenant's broken file does not stop this one (the same isolation as the code
    location); only the named tenant's own file, or a file claiming its id, is reported.

    Raises:
        ConfigError: no such tenant (TenantConfigError when its tenant file does not validate).
    """
    check = inspect_tenants(directory)
    for tenant in check.tenants:
        if tenant.id == tenant_id:
            return tenant
    own = [
        p
        for p in check.problems
        if Path(p.file).stem == tenant_id
        or (p.field == "id" and repr(tenant_id) in p.message)
        or p.message == FOLDER_NOT_FOUND
    ]
    if own:
        raise TenantConfigError(own)
    raise ConfigError(f"no tenant {tenant_id!r} in the tenants folder")


def check_secrets(check: TenantCheck, keyring: Keyring | None = None) -> list[FieldProblem]:
    """Problems decrypting the secret fields of the validated tenants (values are never shown)."""
    if not check.tenants:
        return []
    if keyring is None:
        try:
            keyring = Keyring.load()
        except ConfigError as exc:
            return [FieldProblem("(keyring)", FILE_FIELD, str(exc))]
    problems: list[FieldProblem] = []
    for tenant in check.tenants:
        for path, token in encrypted_fields(tenant):
            try:
                keyring.decrypt(tenant.id, path, token)
            except UndecryptableSecretError as exc:
                problems.append(FieldProblem(str(check.files[tenant.id]), path, exc.reason))
    return problems


def reads_open_purchase_orders(kind: str) -> bool | None:
    """Whether the adapter registered for `kind` reads open purchase orders (None: unknown)."""
    plugin = registry.find(kind)
    if plugin is None or plugin is registry.NONE:
        return None
    return plugin.reads_open_purchase_orders()


def check_erp_settings(check: TenantCheck) -> list[FieldProblem]:
    """Problems of the ERP settings only this machine and the adapters can see.

    The model validates a file on its own; these look outside it, through the connector's
    descriptor: what its settings say only this machine can tell (a CA bundle that must be a
    readable PEM file here), and a tenant asking for open purchase orders needs an adapter
    that reads them. Both would fail later, at the first run, otherwise. A tenant with an ERP
    needs its mapping file (`<mappings dir>/<tenant>.yaml`, under `BRIDGE_HOME` unless
    `BRIDGE_MAPPINGS_DIR` says otherwise): without it every invoice would be held as unmapped.
    """
    problems: list[FieldProblem] = []
    settings = get_settings()
    for tenant in check.tenants:
        file = str(check.files[tenant.id])
        mapping = settings.mapping_file(tenant.id)
        if tenant.erp.kind != "none" and not mapping.is_file():
            problems.append(
                FieldProblem(
                    file,
                    "erp",
                    f"mapping file {mapping} not found: every invoice would be held as "
                    "unmapped; write it (Stampli code -> ERP code, see the README), or set "
                    "BRIDGE_MAPPINGS_DIR (default: <BRIDGE_HOME>/mappings)",
                )
            )
        for name, problem in tenant.erp.machine_problems():
            problems.append(FieldProblem(file, f"erp.{name}", problem))
        asks_for_pos = tenant.schedules.open_purchase_orders_cron is not None
        if asks_for_pos and reads_open_purchase_orders(tenant.erp.kind) is False:
            problems.append(
                FieldProblem(
                    file,
                    "schedules.open_purchase_orders_cron",
                    f"the {tenant.erp.kind} adapter does not read purchase orders: "
                    "remove the setting (or wait for an adapter that does)",
                )
            )
    return problems


def check_tenants(
    directory: Path | None = None, keyring: Keyring | None = None
) -> list[FieldProblem]:
    """Every problem of the tenant files, with undecryptable secrets and unusable ERP settings.

    ERP settings are checked against this machine and the adapters (`check_erp_settings`).

    A missing keyring is reported as a problem rather than raised, so that the structural
    problems of the files are listed too.
    """
    check = inspect_tenants(directory)
    return check.problems + check_secrets(check, keyring) + check_erp_settings(check)
