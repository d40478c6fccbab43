"""`bridge files ...`: quarantined files, what could be read of them, and operators' decisions.

A quarantined file counts in `bridge verify` (`files_need_attention`) until a corrected export
replaces it (detected, or said with `replace`) or an operator dismisses it with a reason. Both
decisions are audit events on the file, with the operator as actor.
"""

import getpass
import json
from collections.abc import Callable
from typing import Any

import click

from bridge_pipelines.cli.errors import NotFoundError, require_tenant
from bridge_pipelines.errors import BridgeError


def _ctx() -> Any:
    from bridge_pipelines.intake.runtime import Runtime

    return Runtime.from_env()


def _tenant_or_none(tenant_id: str) -> Any:
    """The tenant's config when its file reads (for its template); files are judged without."""
    from bridge_pipelines.tenants.loader import find_tenant

    try:
        return find_tenant(tenant_id)
    except BridgeError:
        return None


def _file(ledger: Any, tenant_id: str, ref: str) -> Any:
    """A file of the tenant by id (`12` or `#12`) or by name (the latest delivery of it)."""
    require_tenant(tenant_id)
    text = ref.removeprefix("#")
    if text.isdigit():
        try:
            row = ledger.get_file(int(text))
        except BridgeError:
            row = None
        if row is not None and row.tenant == tenant_id:
            return row
    named = [f for f in ledger.files(tenant_id) if f.name == ref]
    if not named:
        raise NotFoundError(f"tenant {tenant_id} has no file {ref!r} (an id or a name)")
    return named[-1]


def _actor() -> str:
    return f"operator:{getpass.getuser()}"


@click.group(name="files")
def group() -> None:
    """Quarantined files: list, show what could be read, replace or dismiss them."""


@group.command(name="list")
@click.argument("tenant_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_(tenant_id: str, as_json: bool) -> None:
    """Every quarantined file of a tenant: needs attention, replaced or dismissed."""
    from bridge_pipelines.verify.attention import quarantined_files

    require_tenant(tenant_id)
    ctx = _ctx()
    items = quarantined_files(ctx.ledger, tenant_id, tenant=_tenant_or_none(tenant_id))
    if as_json:
        click.echo(json.dumps([i.to_dict() for i in items], indent=2))
        return
    if not items:
        click.echo(f"tenant {tenant_id}: no quarantined files")
        return
    for item in items:
        f = item.file
        click.echo(
            f"#{f.id:<5} {item.status:<16} {f.kind:<10} {f.name}: {len(item.invoices)} "
            f"invoice(s) read - {f.reason or ''}"
        )


@group.command()
@click.argument("tenant_id")
@click.argument("file_ref", metavar="FILE")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def show(tenant_id: str, file_ref: str, as_json: bool) -> None:
    """A quarantined file: why, the invoices that could be read of it, and its history."""
    from bridge_pipelines.verify.attention import quarantined_files

    ctx = _ctx()
    row = _file(ctx.ledger, tenant_id, file_ref)
    if row.state.value != "quarantined":
        raise click.ClickException(
            f"file #{row.id} {row.name} is {row.state.value}, not quarantined "
            f"(`bridge status {tenant_id}` shows every file)"
        )
    [item] = quarantined_files(
        ctx.ledger, tenant_id, tenant=_tenant_or_none(tenant_id), files=[row]
    )
    if as_json:
        click.echo(json.dumps(item.to_dict(), indent=2))
        return
    click.echo(f"file #{row.id} {row.folder}/{row.name} ({row.kind}): quarantined")
    click.echo(f"  reason:   {row.reason or '-'}")
    click.echo(f"  raw copy: {row.archive_path if item.readable else '(none kept)'}")
    click.echo(f"  status:   {item.status.replace('_', ' ')}")
    if item.decision is not None:
        d = item.decision
        by = f" by file #{d.replaced_by}" if d.replaced_by is not None else ""
        click.echo(f"            {d.event.removeprefix('file_')}{by} by {d.actor}: {d.reason}")
    for other in item.replaced_by:
        click.echo(f"            its invoices came again in file #{other.id} {other.name}")
    if item.invoices:
        click.echo(f"  invoices that could be read ({len(item.invoices)}, best effort):")
        for invoice in item.invoices:
            extra = f" - {invoice.vendor_name}" if invoice.vendor_name else ""
            click.echo(f"    {invoice.name}{extra}")
    elif item.readable:
        click.echo("  no invoice could be read from the raw copy")
    click.echo("  history:")
    for event in ctx.ledger.audit(tenant_id, entity="file", entity_id=row.id):
        reason = event.detail.get("reason") if isinstance(event.detail, dict) else None
        click.echo(
            f"    {event.at:%Y-%m-%d %H:%M:%S} {event.event} by {event.actor}"
            + (f": {reason}" if reason else "")
        )


def _decided(decision: Callable[[], object]) -> None:
    """Record an operator's decision; a refusal (wrong state, unknown file) is a CLI error."""
    try:
        decision()
    except BridgeError as exc:
        raise click.ClickException(str(exc)) from None


@group.command()
@click.argument("tenant_id")
@click.argument("file_ref", metavar="FILE")
@click.option("--reason", required=True, help="Why nothing more is needed; kept in the audit.")
def dismiss(tenant_id: str, file_ref: str, reason: str) -> None:
    """Say a quarantined file needs nothing more (audited); verify stops counting it."""
    ctx = _ctx()
    row = _file(ctx.ledger, tenant_id, file_ref)
    _decided(lambda: ctx.ledger.dismiss_file(row.id, reason=reason, actor=_actor()))
    click.echo(f"file #{row.id} {row.name} dismissed: {reason}")


@group.command()
@click.argument("tenant_id")
@click.argument("file_ref", metavar="FILE")
@click.option("--by", "by_ref", required=True, help="The corrected export (id or name).")
@click.option("--reason", default="corrected export", show_default=True, help="Kept in the audit.")
def replace(tenant_id: str, file_ref: str, by_ref: str, reason: str) -> None:
    """Say a parsed file is the corrected export of a quarantined one (audited)."""
    ctx = _ctx()
    row = _file(ctx.ledger, tenant_id, file_ref)
    new = _file(ctx.ledger, tenant_id, by_ref)
    _decided(lambda: ctx.ledger.replace_file(row.id, by=new.id, reason=reason, actor=_actor()))
    click.echo(f"file #{row.id} {row.name} replaced by file #{new.id} {new.name}")


@group.command()
@click.argument("tenant_id")
@click.argument("file_ref", metavar="FILE")
@click.option("--reason", required=True, help="Why it needs attention again.")
def reopen(tenant_id: str, file_ref: str, reason: str) -> None:
    """Take back a dismissal or replacement (audited): the file needs attention again."""
    ctx = _ctx()
    row = _file(ctx.ledger, tenant_id, file_ref)
    _decided(lambda: ctx.ledger.reopen_file(row.id, reason=reason, actor=_actor()))
    click.echo(f"file #{row.id} {row.name} needs attention again")
