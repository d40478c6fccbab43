"""`bridge tenants ...`: validate and list tenant files; never prints a secret."""

import json
from pathlib import Path

import click

from bridge_pipelines.tenants.loader import (
    check_erp_settings,
    check_secrets,
    inspect_tenants,
)

DIR_OPTION = click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Tenants folder (default: BRIDGE_TENANTS_DIR, else ./tenants).",
)


@click.group(name="tenants")
def group() -> None:
    """Tenant files: validate and list them."""


@group.command(name="check")
@DIR_OPTION
def check(directory: Path | None) -> None:
    """Validate every tenant file, decrypt every secret, check ERP files; list every problem.

    Prints one line per problem, `file: field: message`, and exits 1 if there is any.
    """
    report = inspect_tenants(directory)
    problems = report.problems + check_secrets(report) + check_erp_settings(report)
    for problem in problems:
        click.echo(str(problem))
    if problems:
        files = len({p.file for p in problems})
        noun = "problem" if len(problems) == 1 else "problems"
        click.echo(f"{len(problems)} {noun} in {files} file(s)", err=True)
        raise click.exceptions.Exit(1)
    ids = [tenant.id for tenant in report.tenants]
    if not ids:
        click.echo("no tenant files (<id>.yaml) found")
        return
    noun = "tenant" if len(ids) == 1 else "tenants"
    click.echo(f"{len(ids)} {noun} OK: {', '.join(ids)}")


@group.command(name="list")
@DIR_OPTION
@click.option("--json", "as_json", is_flag=True, help="One JSON array on stdout.")
def list_tenants(directory: Path | None, as_json: bool) -> None:
    """Tenant ids, names, ERP kinds and SFTP endpoints (no secrets)."""
    # A broken file is named on stderr (exit 1); the tenants that load are still listed.
    report = inspect_tenants(directory)
    tenants = report.tenants
    for problem in report.problems:
        click.echo(str(problem), err=True)
    failed = bool(report.problems)
    rows = [
        {
            "id": t.id,
            "name": t.name,
            "erp": t.erp.kind,
            "sftp": f"{t.sftp.host}:{t.sftp.port}",
            "timezone": t.timezone,
        }
        for t in tenants
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    elif not rows:
        click.echo("no tenants")
    else:
        _print_rows(rows)
    if failed:
        raise click.exceptions.Exit(1)


def _print_rows(rows: list[dict[str, str]]) -> None:
    headers = {"id": "ID", "name": "NAME", "erp": "ERP", "sftp": "SFTP", "timezone": "TIMEZONE"}
    widths = {k: max(len(headers[k]), *(len(str(r[k])) for r in rows)) for k in headers}
    for row in [headers, *rows]:
        click.echo("  ".join(str(row[k]).ljust(widths[k]) for k in headers).rstrip())
