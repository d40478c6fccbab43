"""`bridge verify <tenant>`: the reconciliation report an analyst or an auditor runs.

Exit status: 0 when every invariant holds, 1 when one does not (or cannot be checked), 2 when
the command could not run (unknown tenant, bad day, ERP or SFTP unreachable).
"""

import json
import sys
from datetime import datetime, timedelta
from typing import Any

import click

from bridge_pipelines.cli.options import TIMEOUT_OPTION, erp_overrides
from bridge_pipelines.errors import BridgeError

ITEMS_SHOWN = 5
EXIT_FAILED = 1
EXIT_UNUSABLE = 2


def _table(report: Any) -> list[str]:
    from bridge_pipelines.verify.report import DESCRIPTIONS, CheckStatus

    day = report.day.isoformat() if report.day else "all days"
    lines = [f"tenant {report.tenant} ({day}): {'OK' if report.ok else 'FAILED'}"]
    labels = {
        CheckStatus.OK: "OK",
        CheckStatus.FAIL: "FAIL",
        CheckStatus.SKIPPED: "SKIP",
        CheckStatus.NOT_CHECKABLE: "NOT CHECKED",
    }
    for name, check in report.checks.items():
        label = labels[check.status]
        lines.append(f"  {label:<12} {name:<20} {check.count:>5}  {DESCRIPTIONS.get(name, '')}")
        if check.note:
            lines.append(f"  {'':<12} {'':<20} {'':>5}  ({check.note})")
        for item in check.items[:ITEMS_SHOWN]:
            lines.append(f"      - {item['message']}")
        if check.count > ITEMS_SHOWN:
            lines.append(f"      ... and {check.count - ITEMS_SHOWN} more (--json lists all)")
    counts = ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in report.counts.items())
    lines.append(f"counted: {counts}")
    return lines


@click.command()
@click.argument("tenant_id")
@click.option(
    "--day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    metavar="YYYY-MM-DD",
    help="Only this partition day (in the tenant's time zone).",
)
@click.option("--json", "as_json", is_flag=True, help="The whole report as JSON.")
@click.option(
    "--in-flight",
    "in_flight_s",
    type=click.FloatRange(min=0),
    default=None,
    metavar="SECONDS",
    help="A file changed this recently and not yet terminal is in flight, not stuck "
    "(default: the tenant's settle time + 2 sensor intervals; 0 counts every one).",
)
@TIMEOUT_OPTION
def verify(
    tenant_id: str,
    day: datetime | None,
    as_json: bool,
    in_flight_s: float | None,
    timeout_s: float | None,
) -> None:
    """Reconcile a tenant: Stampli files <-> ledger <-> ERP documents, read back.

    Lists every invoice posted twice, ERP documents unknown to the ledger, approved invoices
    neither posted nor held with a reason, files not in a terminal state and journal
    imbalances. Exit 0 when all hold, 1 when any does not, 2 when it could not run.
    """
    from bridge_pipelines.tenants.loader import find_tenant
    from bridge_pipelines.verify.reconcile import remote_grace
    from bridge_pipelines.verify.run import run_verify

    if sys.stderr.isatty():  # progress: listing SFTP and reading the ERP back takes a while
        click.echo(f"verifying {tenant_id}: ledger, Stampli server, ERP documents ...", err=True)
    try:
        tenant = find_tenant(tenant_id)
        # A cron job must not alarm on a file still settling or waiting for its run.
        grace = timedelta(seconds=in_flight_s) if in_flight_s is not None else remote_grace(tenant)
        report = run_verify(
            tenant_id,
            day.date() if day else None,
            tenant=tenant,
            in_flight=grace,
            erp_options=erp_overrides(timeout_s),
        )
        moving = _in_flight(tenant_id, day, grace)
    except BridgeError as exc:
        click.echo(f"bridge verify {tenant_id}: could not verify: {exc}", err=True)
        sys.exit(EXIT_UNUSABLE)
    if as_json:
        click.echo(json.dumps({**report.to_dict(), "in_flight_files": moving}, indent=2))
    else:
        click.echo("\n".join(_table(report)))
        if moving:
            click.echo(
                f"in flight (not counted): {len(moving)} file(s) changed in the last "
                f"{grace.total_seconds():.0f} s: " + ", ".join(moving[:5])
            )
    sys.exit(0 if report.ok else EXIT_FAILED)


def _in_flight(tenant_id: str, day: datetime | None, grace: timedelta) -> list[str]:
    """Files not yet terminal that changed within `grace`: settling, or their run is coming."""
    from bridge_pipelines.intake.runtime import Runtime
    from bridge_pipelines.ledger.states import TERMINAL_FILE_STATES

    ledger = Runtime.from_env().ledger
    now = ledger.database_now()
    return [
        f"#{f.id} {f.name} ({f.state.value})"
        for f in ledger.files(tenant_id)
        if f.state not in TERMINAL_FILE_STATES
        and now - f.updated_at < grace
        and (day is None or f.partition_day in (None, day.date()))
    ]
