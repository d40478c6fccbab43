"""`bridge review` and `bridge replay`: what an operator does with held and failed postings."""

import getpass
import json
import sys
from datetime import date
from typing import Any

import click

from bridge_pipelines.cli.errors import NotFoundError, require_tenant
from bridge_pipelines.cli.options import TIMEOUT_OPTION, erp_overrides
from bridge_pipelines.errors import BridgeError


def _tenant(tenant_id: str) -> Any:
    from bridge_pipelines.errors import TenantConfigError
    from bridge_pipelines.tenants.loader import find_tenant

    try:
        return find_tenant(tenant_id)
    except TenantConfigError:
        raise
    except BridgeError as exc:
        raise NotFoundError(str(exc)) from None


def _ctx() -> Any:
    from bridge_pipelines.intake.runtime import Runtime

    return Runtime.from_env()


@click.group(name="review")
def group() -> None:
    """Postings held for review (unmapped codes, ambiguous ERP answers) and rejected ones."""


@group.command(name="list")
@click.argument("tenant_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "--state",
    type=click.Choice(["needs_review", "rejected"]),
    default=None,
    help="Only postings in this state.",
)
@click.option(
    "--day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    metavar="YYYY-MM-DD",
    default=None,
    help="Only invoices of this partition day.",
)
def list_(tenant_id: str, as_json: bool, state: str | None, day: Any) -> None:
    """Every posting that waits for a person, with its reason; and changed re-deliveries."""
    from bridge_pipelines.posting.review import queue_rows
    from bridge_pipelines.stampli.naming import record_name

    require_tenant(tenant_id)
    ctx = _ctx()
    rows = queue_rows(ctx, tenant_id)
    if state is not None:
        rows = [r for r in rows if r.state == state]
    if day is not None:
        rows = [r for r in rows if r.partition_day == day.date().isoformat()]
    held = ctx.ledger.held_records(tenant_id) if state is None else []
    items = [
        {
            "posting": r.posting,
            "state": r.state,
            "invoice": r.identity,
            "invoice_name": r.invoice_name,
            "vendor": r.vendor,
            "invoice_number": r.invoice_number,
            "amount": r.amount,
            "currency": r.currency,
            "partition_day": r.partition_day,
            "since": r.since.isoformat(timespec="seconds"),
            "external_ref": ctx.ledger.get_posting(r.posting).external_ref,
            "reason": r.reason,
            "what_to_do": r.action,
        }
        for r in rows
    ]
    changed = [
        {
            "record": new.id,
            "invoice": new.identity,
            "invoice_name": record_name(new),
            "accepted_record": old.id,
            "reason": new.reason,
        }
        for new, old in held
        if day is None or new.partition_day == day.date()
    ]
    if as_json:
        click.echo(json.dumps({"postings": items, "changed_redeliveries": changed}, indent=2))
        return
    if not items and not changed:
        click.echo(f"tenant {tenant_id}: nothing waits for review")
        return
    if items:
        from bridge_pipelines.cli.tables import print_table

        print_table(
            f"tenant {tenant_id}: {len(items)} waiting for review",
            ["posting", "state", "invoice", "amount", "waiting since"],
            [
                [
                    f"#{i['posting']}",
                    i["state"],
                    f"{i['vendor']} {i['invoice_number']}",
                    f"{i['amount']} {i['currency']}",
                    i["since"][:16].replace("T", " "),
                ]
                for i in items
            ],
            [
                (
                    f"#{i['posting']}",
                    f"{i['invoice_name']}: {i['reason']}. To do: {i['what_to_do']}",
                )
                for i in items
            ],
        )
    for item in changed:
        click.echo(
            f"record #{item['record']:<6} changed re-delivery {item['invoice_name']}: "
            f"{item['reason']}"
        )


@group.command()
@click.argument("posting_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def show(posting_id: int, as_json: bool) -> None:
    """One posting: the invoice, the ERP's last answer and its audit trail."""
    from bridge_pipelines.stampli.naming import record_name

    ledger = _ctx().ledger
    posting = ledger.get_posting(posting_id)
    record = ledger.get_record(posting.record_id)
    source = ledger.get_file(record.file_id)
    events = ledger.audit(posting.tenant, entity="posting", entity_id=posting.id)
    if as_json:
        payload = {
            "posting": posting.id,
            "tenant": posting.tenant,
            "state": posting.state.value,
            "target": posting.target,
            "invoice": record.identity,
            "invoice_name": record_name(record),
            "record": record.id,
            "source": {"file": source.name, "rows": list(record.rows)},
            "amount": str(record.amount) if record.amount is not None else None,
            "currency": record.currency,
            "external_ref": posting.external_ref,
            "attempts": posting.attempt,
            "erp_document": posting.erp_doc_id,
            "reason": posting.reason,
            "last_response": posting.last_response,
            "history": [
                {"at": e.at.isoformat(), "event": e.event, "actor": e.actor, "detail": e.detail}
                for e in events
            ],
        }
        click.echo(json.dumps(payload, indent=2, default=str))
        return
    click.echo(
        f"posting #{posting.id} ({posting.state.value}) of {record_name(record)} "
        f"to {posting.target}"
    )
    click.echo(f"  external ref: {posting.external_ref}   attempts: {posting.attempt}")
    click.echo(f"  reason:       {posting.reason or '-'}")
    click.echo(f"  invoice:      {record_name(record)} (record #{record.id})")
    click.echo(f"  source:       {source.name} rows {list(record.rows)}")
    click.echo(f"  amount:       {record.amount} {record.currency}")
    if posting.erp_doc_id:
        click.echo(f"  ERP document: {posting.erp_doc_id}")
    if posting.last_response:
        click.echo("  last ERP answer:")
        for line in posting.last_response.splitlines()[:40]:
            click.echo(f"    {line}")
    click.echo("  history:")
    for event in events:
        click.echo(f"    {event.at:%Y-%m-%d %H:%M:%S} {event.event} by {event.actor}")


@group.command()
@click.argument("posting_id", type=int)
@click.option(
    "--as",
    "to",
    type=click.Choice(["planned", "posted"]),
    required=True,
    help="planned: post it on the next run (after fixing the mapping); posted: it is in the "
    "ERP already (give --erp-doc).",
)
@click.option("--erp-doc", default=None, help="The ERP document that already holds it.")
@click.option("--reason", required=True, help="Why; kept in the audit trail.")
@TIMEOUT_OPTION
def resolve(
    posting_id: int, to: str, erp_doc: str | None, reason: str, timeout_s: float | None
) -> None:
    """Resolve a held or rejected posting; the next run (or `bridge replay`) acts on it.

    Releasing a rejected posting reads the ERP (its mapping), bounded by `--timeout`.
    """
    from bridge_pipelines.ledger.states import PostingState
    from bridge_pipelines.posting.review import resolve as resolve_posting

    row = resolve_posting(
        _ctx(),
        posting_id,
        PostingState(to),
        reason=reason,
        actor=_actor(),
        erp_doc=erp_doc,
        erp_options=erp_overrides(timeout_s),
    )
    click.echo(f"posting #{row.id} is now {row.state.value}")


@group.command()
@click.argument("posting_id", type=int)
@click.option("--reason", required=True, help="Why nothing more is needed; kept in the audit.")
def dismiss(posting_id: int, reason: str) -> None:
    """Take a waiting posting off the review queue for good (paid by hand, a duplicate...)."""
    from bridge_pipelines.posting.review import dismiss as dismiss_posting

    row = dismiss_posting(_ctx(), posting_id, reason=reason, actor=_actor())
    click.echo(f"posting #{row.id} ({row.state.value}) dismissed: {reason}")


def _actor() -> str:
    return f"operator:{getpass.getuser()}"


@click.command()
@click.argument("tenant_id")
@click.option("--invoice", "invoice_number", default=None, help="A vendor invoice number.")
@click.option("--file", "file_name", default=None, help="A Stampli file name.")
@click.option("--partition", default=None, help="A tenant-day, YYYY-MM-DD.")
@TIMEOUT_OPTION
def replay(
    tenant_id: str,
    invoice_number: str | None,
    file_name: str | None,
    partition: str | None,
    timeout_s: float | None,
) -> None:
    """Take and post again whatever is pending: safe, nothing is ever posted twice.

    The ledger decides what is done: a replay finishes pending files of the day and posts
    every open posting, looking each up in the ERP first where a previous try may have landed.
    """
    from bridge_pipelines.intake.process import process_pending
    from bridge_pipelines.posting.payment_run import post_tenant_payments
    from bridge_pipelines.posting.run import post_tenant_day
    from bridge_pipelines.tenants.erp import build_adapter

    if sum(x is not None for x in (invoice_number, file_name, partition)) != 1:
        raise click.UsageError("give exactly one of --invoice, --file, --partition")
    ctx = _ctx()
    tenant = _tenant(tenant_id)
    days = _days(ctx, tenant_id, invoice_number, file_name, partition)
    if not days:
        raise click.ClickException("nothing in the ledger matches")
    failed = False
    for day in sorted(days):
        for kind in ("invoices", "payments"):
            process_pending(ctx, tenant, kind, day)
        if tenant.erp.kind == "none":
            click.echo(f"{day}: files taken; no ERP configured")
            continue
        click.echo(f"{day}: posting ...", err=True)  # progress: the ERP may take a while
        try:
            erp = build_adapter(tenant, keyring=ctx.keyring, **erp_overrides(timeout_s))
            report = post_tenant_day(
                ctx, tenant, day, owner=f"replay-{getpass.getuser()}", adapter=erp
            )
            paid = post_tenant_payments(
                ctx,
                tenant,
                day,
                owner=f"replay-{getpass.getuser()}",
                adapter=build_adapter(tenant, keyring=ctx.keyring, **erp_overrides(timeout_s)),
            )
        except BridgeError as exc:
            click.echo(f"{day}: FAILED: {exc}", err=True)
            failed = True
            continue
        counts = {o.value: report.count(o) for o in {x.outcome for x in report.outcomes}}
        click.echo(
            f"{day}: {len(report.outcomes)} postings handled "
            + (", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "(nothing open)")
            + (f"; stopped early: {report.aborted}" if report.aborted else "")
        )
        if paid.outcomes or paid.waiting:
            click.echo(
                f"{day}: payments: {len(paid.outcomes)} handled, {paid.waiting} waiting for "
                "their invoices" + (f"; stopped early: {paid.aborted}" if paid.aborted else "")
            )
    sys.exit(1 if failed else 0)


def _days(
    ctx: Any,
    tenant_id: str,
    invoice_number: str | None,
    file_name: str | None,
    partition: str | None,
) -> set[date]:
    if partition is not None:
        try:
            return {date.fromisoformat(partition)}
        except ValueError:
            raise click.BadParameter(f"{partition!r} is not YYYY-MM-DD") from None
    records = ctx.ledger.records(tenant_id, kind="invoices")
    if invoice_number is not None:
        matched = [r for r in records if r.payload.get("invoice_number") == invoice_number]
        return {r.partition_day for r in matched if r.partition_day}
    files = [f for f in ctx.ledger.files(tenant_id) if f.name == file_name]
    return {f.partition_day for f in files if f.partition_day}
