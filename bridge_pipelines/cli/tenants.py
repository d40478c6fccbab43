"""`bridge tenants ...`: validate and list tenant files; never prints a secret."""

import json
from pathlib import Path

import click

from bridge_pipelines.cli import export as partner_export
from bridge_pipelines.errors import FieldProblem, TenantConfigError
from bridge_pipelines.settings import get_settings
from bridge_pipelines.tenants.loader import (
    TenantCheck,
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
@click.option("--json", "as_json", is_flag=True, help="Tenants OK and problems as JSON.")
def check(directory: Path | None, as_json: bool) -> None:
    """Validate every tenant file, decrypt every secret, check ERP and mapping files.

    Prints one line per problem, `file: field: message`, and exits 1 if there is any.
    """
    report = inspect_tenants(directory)
    problems = (
        report.problems
        + check_secrets(report)
        + check_erp_settings(report)
        + _mapping_problems(report)
        + partner_export.partner_problems(report.tenants, directory)
    )
    if as_json:
        click.echo(
            json.dumps(
                {
                    "ok": [t.id for t in report.tenants if not _has(problems, report, t.id)],
                    "problems": [
                        {"file": p.file, "field": p.field, "message": p.message} for p in problems
                    ],
                },
                indent=2,
            )
        )
        if problems:
            raise click.exceptions.Exit(1)
        return
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


def _has(problems: list[FieldProblem], report: TenantCheck, tenant_id: str) -> bool:
    file = str(report.files.get(tenant_id, ""))
    mapping = str(get_settings().mapping_file(tenant_id))
    return any(p.file in (file, mapping) for p in problems)


def _mapping_problems(report: TenantCheck) -> list[FieldProblem]:
    """Each tenant's mapping file read as the postings read it: `file: field: message`."""
    from bridge_pipelines.mapping.tables import load_overrides

    problems: list[FieldProblem] = []
    for tenant in report.tenants:
        path = get_settings().mapping_file(tenant.id)
        if tenant.erp.kind == "none" or not path.is_file():
            continue
        try:
            load_overrides(path)
        except TenantConfigError as exc:
            problems.extend(exc.problems)
    return problems
