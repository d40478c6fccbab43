"""`bridge secrets ...`: master keys and tenant-file ciphertexts.

A plain secret is read from stdin or a hidden prompt, never from an argument: arguments land in
shell history and in `ps` output for every user of the machine.
"""

import functools
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

import click

from bridge_pipelines.cli import export as partner_export
from bridge_pipelines.errors import ConfigError
from bridge_pipelines.settings import get_settings
from bridge_pipelines.tenants.models import TENANT_ID_RE
from bridge_pipelines.tenants.rotation import retire_key, rotate_tenant_files
from bridge_pipelines.tenants.secrets import Keyring, secret_field_paths

P = ParamSpec("P")
R = TypeVar("R")

KEY_FILE_OPTION = click.option(
    "--key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Key file (default: BRIDGE_MASTER_KEYS if set, else BRIDGE_KEY_FILE, else "
    ".bridge/keys.json).",
)
DIR_OPTION = click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Tenants folder (default: BRIDGE_TENANTS_DIR, else ./tenants).",
)


def _config_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Show a ConfigError as `Error: ...` with exit status 1, without a traceback."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper


@click.group(name="secrets")
def group() -> None:
    """Master keys and encrypted tenant secrets."""


@group.command()
@click.option(
    "--key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to create it (default: BRIDGE_KEY_FILE, else .bridge/keys.json).",
)
@_config_errors
def keygen(key_file: Path | None) -> None:
    """Create the key file with one new key (mode 0600); never overwrites one."""
    path = key_file or get_settings().resolved_key_file
    keyring = Keyring.generate(path)
    click.echo(f"created {path} with key {keyring.primary}")
    click.echo("Back it up somewhere safe: tenant secrets cannot be decrypted without it.")


def _read_plaintext() -> str:
    stdin = sys.stdin
    if stdin.isatty():
        value: str = click.prompt("Secret", hide_input=True, confirmation_prompt=True, err=True)
        return value
    text = stdin.read()
    # `echo pw | ...` adds one newline that is not part of the secret.
    if text.endswith("\r\n"):
        return text[:-2]
    return text.removesuffix("\n")


_PARTNER_SECRET = re.compile(
    r"^partners\.[a-z][a-z0-9_]{1,39}\.sftp\.(password|private_key|private_key_passphrase)$"
)


def _secret_field(value: str) -> str:
    """A tenant file's secret field, or a partner's in the tenant's partners file."""
    if value in secret_field_paths() or _PARTNER_SECRET.match(value):
        return value
    raise click.BadParameter(f"{value!r} is not a secret field", param_hint="'--field'")


@group.command()
@click.option("--tenant", "tenant_id", required=True, help="Tenant id, as in tenants/<id>.yaml.")
@click.option(
    "--field",
    "field_path",
    required=True,
    callback=lambda _ctx, _param, value: _secret_field(value),
    help="Dotted path of the secret field: "
    + ", ".join(secret_field_paths())
    + ", or partners.<partner id>.sftp.<password|private_key|private_key_passphrase>.",
)
@KEY_FILE_OPTION
@_config_errors
def encrypt(tenant_id: str, field_path: str, key_file: Path | None) -> None:
    """Encrypt a secret read from stdin (or a hidden prompt) for one tenant and field.

    Prints only the ciphertext, to paste into the tenant file. It decrypts only for this tenant
    and field. Example: `bridge secrets encrypt --tenant acme --field sftp.password < pw.txt`,
    or `... --field sftp.private_key < id_ed25519`.
    """
    if not TENANT_ID_RE.match(tenant_id):
        raise click.BadParameter(
            "must be 2-40 chars of a-z, 0-9 and _, starting with a letter", param_hint="--tenant"
        )
    keyring = Keyring.load(key_file)
    plaintext = _read_plaintext()
    if not plaintext:
        raise click.ClickException("empty secret on stdin; nothing encrypted")
    click.echo(keyring.encrypt(tenant_id, field_path, plaintext))


@group.command()
@DIR_OPTION
@KEY_FILE_OPTION
@_config_errors
def rotate(directory: Path | None, key_file: Path | None) -> None:
    """Add a new primary key and re-encrypt every tenant secret under it, in place.

    Comments and layout of the tenant files are kept. Old keys stay for decryption until
    `bridge secrets retire-key ID`.
    """
    keyring = Keyring.load(key_file)
    result = rotate_tenant_files(directory, keyring)
    for problem in result.problems:
        click.echo(str(problem), err=True)
    if not result.new_key:
        raise click.ClickException("fix the problems above before rotating; nothing changed")
    partners = partner_export.rotate_partner_secrets(directory, keyring)
    click.echo(
        f"new primary key {result.new_key}; re-encrypted {result.secrets} secret(s) "
        f"in {len(result.files)} file(s)" + partners
    )
    old = [k for k in keyring.key_ids if k != result.new_key]
    if result.problems:
        raise click.ClickException(
            "some files were not re-encrypted (above); they still decrypt with the old key"
        )
    if old:
        click.echo(
            f"old key(s) {', '.join(old)} kept for decryption; once every deployment has the new "
            f"files: bridge secrets retire-key {old[0]}"
        )


@group.command(name="retire-key")
@click.argument("key_id")
@DIR_OPTION
@KEY_FILE_OPTION
@_config_errors
def retire_key_command(key_id: str, directory: Path | None, key_file: Path | None) -> None:
    """Remove an old key from the key file; refused while any tenant file still uses it."""
    keyring = Keyring.load(key_file)
    partner_export.refuse_retiring_a_used_key(directory, key_id)
    retire_key(directory, keyring, key_id)
    click.echo(f"retired key {key_id}; keys now: {', '.join(keyring.key_ids)}")
