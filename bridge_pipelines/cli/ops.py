"""Operator commands: `bridge ping <tenant>` and `bridge status <tenant>`."""

import json
import sys
import time
from typing import Any

import click

from bridge_pipelines.cli import export as partner_export
from bridge_pipelines.cli.errors import NotFoundError, require_tenant
from bridge_pipelines.cli.options import TIMEOUT_OPTION, erp_overrides
from bridge_pipelines.errors import BridgeError
from bridge_pipelines.ledger.states import FileState


def _tenant(tenant_id: str) -> Any:
    from bridge_pipelines.errors import TenantConfigError
    from bridge_pipelines.tenants.loader import find_tenant

    try:
        return find_tenant(tenant_id)
    except TenantConfigError:
        raise
    except BridgeError as exc:
        raise NotFoundError(str(exc)) from None


@click.command()
@click.argument("tenant_id")
@TIMEOUT_OPTION
def ping(tenant_id: str, timeout_s: float | None) -> None:
    """Check a tenant's connections: reach SFTP, verify the host key, log in, list folders."""
    from bridge_pipelines.intake.runtime import Runtime
    from bridge_pipelines.sftp.client import SftpClient
    from bridge_pipelines.tenants.models import FILE_KINDS

    tenant = _tenant(tenant_id)
    ctx = Runtime.from_env()
    started = time.monotonic()
    endpoint = f"{tenant.sftp.host}:{tenant.sftp.port}"
    try:
        with SftpClient.connect(tenant.sftp, ctx.credentials_factory(tenant)()) as client:
            click.echo(
                f"sftp {endpoint}: host key verified, logged in as {tenant.sftp.username} "
                f"({(time.monotonic() - started) * 1000:.0f} ms)"
            )
            folders = [tenant.folders.for_kind(k) for k in FILE_KINDS] + [tenant.folders.inbound]
            for folder in folders:
                entries, rejected = client.list_files(folder)
                extra = f", {len(rejected)} refused names" if rejected else ""
                click.echo(f"  {folder}: {len(entries)} files{extra}")
    except BridgeError as exc:
        click.echo(f"sftp {endpoint}: FAILED: {exc}", err=True)
        sys.exit(1)
    if tenant.erp.kind == "none":
        click.echo("erp: none configured")
        return
    from bridge_pipelines.tenants.erp import build_adapter

    started = time.monotonic()
    try:
        with build_adapter(tenant, keyring=ctx.keyring, **erp_overrides(timeout_s)) as erp:
            vendor = next(iter(erp.read_vendors()), None)
    except BridgeError as exc:
        click.echo(f"erp {tenant.erp.kind}: FAILED: {exc}", err=True)
        sys.exit(1)
    click.echo(
        f"erp {tenant.erp.kind} company {tenant.erp.company}: logged on, read "
        + (f"supplier {vendor.code} ({vendor.name})" if vendor else "no suppliers")
        + f", logged off ({(time.monotonic() - started) * 1000:.0f} ms)"
    )


@click.command()
@click.argument("tenant_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "--day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    metavar="YYYY-MM-DD",
    default=None,
    help="Only files of this partition day.",
)
@click.option(
    "--state",
    type=click.Choice([s.value for s in FileState]),
    default=None,
    help="Only files in this state.",
)
def status(tenant_id: str, as_json: bool, day: Any, state: str | None) -> None:
    """Every file of a tenant with its state and reason, records and located row errors."""
    from bridge_pipelines.intake.runtime import Runtime
    from bridge_pipelines.stampli.naming import record_name
    from bridge_pipelines.stampli.salvage import archived_names
    from bridge_pipelines.verify.attention import quarantined_files

    require_tenant(tenant_id)
    ledger = Runtime.from_env().ledger
    files = [
        f
        for f in ledger.files(tenant_id)
        if (day is None or f.partition_day == day.date())
        and (state is None or f.state.value == state)
    ]
    quarantined = {q.file.id: q for q in quarantined_files(ledger, tenant_id, files=files)}
    records = ledger.records(tenant_id)
    errors = ledger.row_errors(tenant_id)
    # A refused row never became a record: its raw file still says the invoice's vendor, number.
    names = {
        f.id: archived_names(f.archive_path)
        for f in files
        if f.kind == "invoices" and f.id in {e.file_id for e in errors}
    }
    payload: dict[str, Any] = {
        "tenant": tenant_id,
        "files": [
            {
                "id": f.id,
                "kind": f.kind,
                "folder": f.folder,
                "name": f.name,
                "size": f.size,
                "sha256": f.sha256,
                "state": f.state.value,
                "reason": f.reason,
                "partition_day": f.partition_day.isoformat() if f.partition_day else None,
                "duplicate_of": f.duplicate_of,
                "rows_total": f.rows_total,
                "rows_rejected": f.rows_rejected,
                "archive_path": f.archive_path,
                **(
                    {
                        "attention": quarantined[f.id].status,
                        "invoices_read": [i.name for i in quarantined[f.id].invoices],
                    }
                    if f.id in quarantined
                    else {}
                ),
            }
            for f in files
        ],
        "records": {
            state: sum(1 for r in records if r.state.value == state)
            for state in sorted({r.state.value for r in records})
        },
        "held": [
            {
                "id": r.id,
                "kind": r.kind,
                "invoice_name": record_name(r),
                "identity": r.identity,
                "reason": r.reason,
            }
            for r in records
            if r.state.value == "held"
        ],
        "row_errors": [
            {
                "file": e.file_name,
                "row": e.row,
                "field": e.field,
                "document": e.document,
                "invoice_name": names.get(e.file_id, {}).get(e.document or ""),
                "message": e.message,
            }
            for e in errors
        ],
        "partner_files": partner_export.sent_files(ledger, tenant_id),
    }
    if as_json:
        click.echo(json.dumps(payload, indent=2))
        return
    from bridge_pipelines.cli.tables import wrapped

    click.echo(f"tenant {tenant_id}: {len(files)} files")
    for f in payload["files"]:
        reason = f" - {f['reason']}" if f["reason"] else ""
        click.echo(
            wrapped(f"  #{f['id']:<5} {f['state']:<12} {f['kind']:<12} {f['name']}{reason}", 21)
        )
        if "attention" in f:
            read = f["invoices_read"]
            click.echo(
                f"         {f['attention'].replace('_', ' ')}; {len(read)} invoice(s) read"
                + (f": {', '.join(read[:3])}" + (" ..." if len(read) > 3 else "") if read else "")
                + f" (bridge files show {tenant_id} {f['id']})"
            )
    click.echo(
        "records: " + (", ".join(f"{n} {s}" for s, n in payload["records"].items()) or "none")
    )
    for h in payload["held"]:
        click.echo(wrapped(f"  held {h['invoice_name']} (record #{h['id']}): {h['reason']}", 4))
    if errors:
        click.echo(f"row errors: {len(errors)}")
        for e in payload["row_errors"][:50]:
            where = f"row {e['row']}" + (f", field {e['field']}" if e["field"] else "")
            of = f" ({e['invoice_name']})" if e["invoice_name"] else ""
            click.echo(wrapped(f"  {e['file']} {where}{of}: {e['message']}", 4))
    partner_export.echo_sent(payload["partner_files"])


commands: list[click.Command] = [ping, status]
