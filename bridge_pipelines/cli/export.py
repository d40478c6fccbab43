"""`bridge export` (one partner's files for one period, on demand) and `bridge exports` (sent).

Hooks into the other commands stay one line each: `bridge tenants check` adds
`partner_problems`, `bridge status` adds `sent_files`/`echo_sent`.
"""

import json
import sys
from pathlib import Path
from typing import Any

import click

from bridge_pipelines.errors import BridgeError, ConfigError, FieldProblem

STATUS_MARK = {
    "delivered": "sent",
    "resent": "re-sent",
    "already_delivered": "already sent",
    "nothing_new": "nothing to send",
    "failed": "FAILED",
}


@click.command(name="export")
@click.argument("tenant_id")
@click.option("--partner", "partner_id", required=True, help="The partner's id (partners file).")
@click.option("--period", required=True, help="The month to send, YYYY-MM (e.g. 2026-11).")
@click.option(
    "--resend",
    is_flag=True,
    help="Upload the period's delivered files again: the same bytes under the same names "
    "(refused for a file whose SYSPRO rows changed since).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def export(tenant_id: str, partner_id: str, period: str, resend: bool, as_json: bool) -> None:
    """Send a partner its files for one period, now (what the close calendar does on schedule).

    Files already delivered are not sent again; rows changed in SYSPRO since go out as the
    period's next file. Exit 1 if a file failed, 2 if the command could not run.
    """
    from bridge_pipelines.intake.runtime import Runtime
    from bridge_pipelines.partners.config import load_partners
    from bridge_pipelines.partners.export import PartnerRun
    from bridge_pipelines.partners.periods import Period
    from bridge_pipelines.tenants.loader import find_tenant

    try:
        month = Period.parse(period)
        tenant = find_tenant(tenant_id)
        partner = load_partners(tenant).partner(partner_id)
        if partner is None:
            raise ConfigError(f"tenant {tenant_id} has no partner {partner_id!r}")
        runtime = Runtime.from_env()
        run = PartnerRun(tenant, partner, runtime.ledger, runtime.keyring)
    except BridgeError as exc:
        click.echo(f"bridge export: {exc}", err=True)
        sys.exit(2)
    try:
        outcomes = run.run(month, resend=resend)
    finally:
        run.close()
    if as_json:
        click.echo(json.dumps([_plain(o.__dict__) for o in outcomes], indent=2))
    else:
        for o in outcomes:
            name = o.remote_name or o.file
            detail = o.error if o.error else f"{o.rows} rows, sha256 {(o.sha256 or '')[:12]}"
            click.echo(f"{partner_id} {o.period} {STATUS_MARK[o.status]:<15} {name}: {detail}")
    if any(o.status == "failed" for o in outcomes):
        sys.exit(1)


@click.command(name="exports")
@click.argument("tenant_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def exports(tenant_id: str, as_json: bool) -> None:
    """The files sent to the tenant's partners: period, name, rows, totals, hash, when."""
    from bridge_pipelines.intake.runtime import Runtime

    sent = sent_files(Runtime.from_env().ledger, tenant_id)
    if as_json:
        click.echo(json.dumps(sent, indent=2))
        return
    echo_sent(sent)


def sent_files(ledger: Any, tenant_id: str) -> list[dict[str, Any]]:
    """The tenant's partner files, oldest first, as `bridge status` and `bridge exports` list."""
    return [
        _plain(
            {
                "partner": e.partner,
                "period": e.period,
                "file": e.dataset,
                "remote_name": e.remote_name,
                "state": e.state,
                "rows": e.row_count,
                "totals": e.totals,
                "sha256": e.sha256,
                "size": e.size,
                "control_number": e.control_number,
                "delivered_at": e.delivered_at,
                "verified": e.verified,
            }
        )
        for e in ledger.partner_exports(tenant_id)
    ]


def echo_sent(sent: list[dict[str, Any]]) -> None:
    """The human lines of `sent_files` (nothing when the tenant has no partner files)."""
    if not sent:
        return
    click.echo(f"partner files: {len(sent)}")
    for f in sent:
        when = f["delivered_at"] or "not delivered yet"
        click.echo(
            f"  {f['partner']} {f['period']} {f['state']:<9} {f['remote_name']} "
            f"({f['rows']} rows, sha256 {f['sha256'][:12]}, {when})"
        )


def partner_problems(tenants: list[Any], directory: Path | None) -> list[FieldProblem]:
    """The partners files' problems, for `bridge tenants check`."""
    from bridge_pipelines.partners.config import check_partner_files
    from bridge_pipelines.tenants.secrets import Keyring

    try:
        keyring: Keyring | None = Keyring.load()
    except ConfigError:
        keyring = None  # reported by the tenant files' secret check already
    return check_partner_files(tenants, keyring, directory)


def rotate_partner_secrets(directory: Path | None, keyring: Any) -> str:
    """Re-encrypt the partners files' secrets (after the tenant files'); a summary to append.

    Raises:
        click.ClickException: a partners file could not be re-encrypted (it still decrypts with
            the old key).
    """
    from bridge_pipelines.partners.rotation import reencrypt_partner_files

    result = reencrypt_partner_files(directory, keyring)
    for problem in result.problems:
        click.echo(str(problem), err=True)
    if result.problems:
        raise click.ClickException("partners files not re-encrypted (above); old key still used")
    if not result.secrets:
        return ""
    return f", and {result.secrets} partner secret(s) in {len(result.files)} partners file(s)"


def refuse_retiring_a_used_key(directory: Path | None, key_id: str) -> None:
    """`bridge secrets retire-key` stops while a partners file still uses the key.

    Raises:
        click.ClickException: listing every use.
    """
    from bridge_pipelines.partners.rotation import partner_key_usage

    uses = partner_key_usage(directory, key_id)
    if uses:
        listed = "\n".join(str(use) for use in uses)
        raise click.ClickException(
            f"key {key_id!r} is still used; run `bridge secrets rotate` first:\n{listed}"
        )


def _plain(value: Any) -> Any:
    """JSON-ready: Decimal and datetimes as text."""
    from bridge_pipelines.ledger.coltypes import plain_json

    return plain_json(value)


commands: list[click.Command] = [export, exports]
