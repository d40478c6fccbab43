"""`bridge find <text>`: an invoice number, Stampli id, file name, reference or ERP document.

Prints the whole trail of what it names: file, rows, record, postings, ERP document, the
Dagster run filter (`bridge/batch` tag) and every audit event. Exit 0 when something matched,
2 (one line) when nothing did.
"""

import json
from typing import Any

import click

from bridge_pipelines.cli.errors import NotFoundError, require_tenant


@click.command()
@click.argument("text")
@click.option("--tenant", "tenant_id", default=None, help="Only this tenant.")
@click.option("--json", "as_json", is_flag=True, help="The trails as JSON.")
def find(text: str, tenant_id: str | None, as_json: bool) -> None:
    """Find an invoice or file and print its whole trail.

    TEXT is a vendor invoice number, a Stampli invoice id, a file name, an external reference
    (BP...) or an ERP document number.
    """
    from bridge_pipelines.intake.runtime import Runtime
    from bridge_pipelines.ledger.trail import find_trails

    if tenant_id is not None:
        require_tenant(tenant_id)
    trails = find_trails(Runtime.from_env().ledger, text, tenant_id)
    if not trails:
        where = f"tenant {tenant_id}" if tenant_id else "any tenant"
        raise NotFoundError(
            f"nothing in {where} matches {text!r} (an invoice number, Stampli id, file "
            "name, BP reference or ERP document number)"
        )
    payload = [_to_dict(t) for t in trails]
    if as_json:
        click.echo(json.dumps(payload, indent=2, default=str))
        return
    for index, item in enumerate(payload):
        if index:
            click.echo("")
        click.echo("\n".join(_lines(item)))


def _to_dict(trail: Any) -> dict[str, Any]:
    from bridge_pipelines.stampli.naming import record_name

    f, r = trail.file, trail.record
    return {
        "tenant": trail.tenant,
        "matched": trail.matched,
        "invoice_name": record_name(r) if r else None,
        "file": None
        if f is None
        else {
            "id": f.id,
            "name": f.name,
            "folder": f.folder,
            "state": f.state.value,
            "reason": f.reason,
            "partition_day": f.partition_day,
            "batch": f.batch_id,
        },
        "record": None
        if r is None
        else {
            "id": r.id,
            "state": r.state.value,
            "rows": list(r.rows),
            "amount": str(r.amount) if r.amount is not None else None,
            "currency": r.currency,
            "identity": r.identity,
            "reason": r.reason,
        },
        "postings": [
            {
                "id": p.id,
                "state": p.state.value,
                "target": p.target,
                "external_ref": p.external_ref,
                "erp_document": p.erp_doc_id,
                "reason": p.reason,
                "attempts": p.attempt,
            }
            for p in trail.postings
        ],
        "events": [
            {
                "at": e.at.isoformat(timespec="seconds"),
                "entity": f"{e.entity} #{e.entity_id}",
                "event": e.event,
                "actor": e.actor,
                "reason": (e.detail or {}).get("reason"),
            }
            for e in trail.events
        ],
    }


def _lines(item: dict[str, Any]) -> list[str]:
    tenant = item["tenant"]
    head = item["invoice_name"] or (item["file"] or {}).get("name", "?")
    lines = [f"{tenant}: {head} (matched {item['matched']})"]
    f = item["file"]
    if f:
        lines.append(f"  file     #{f['id']} {f['name']} ({f['state']})")
        lines.append(f"           {f['folder']}, day {f['partition_day'] or '-'}")
        if f["reason"]:
            lines.append(f"           {f['reason']}")
        if f["batch"]:
            lines.append(f"  runs     Dagster runs tagged bridge/batch={f['batch']}")
    r = item["record"]
    if r:
        lines.append(
            f"  record   #{r['id']} {r['state']}, rows {r['rows']}, "
            f"{r['amount'] or '?'} {r['currency'] or ''}".rstrip()
        )
        if r["reason"]:
            lines.append(f"           {r['reason']}")
    for p in item["postings"]:
        doc = f", ERP document {p['erp_document']}" if p["erp_document"] else ""
        lines.append(f"  posting  #{p['id']} {p['state']} to {p['target']}{doc}")
        lines.append(f"           ref {p['external_ref']}, {p['attempts']} attempt(s)")
        if p["reason"]:
            lines.append(f"           {p['reason']}")
        if p["state"] in ("needs_review", "rejected"):
            lines.append(f"           act: bridge review show {p['id']}")
    if item["events"]:
        lines.append("  history")
        for e in item["events"]:
            why = f": {e['reason']}" if e["reason"] else ""
            lines.append(f"    {e['at'][:19]} {e['entity']} {e['event']} by {e['actor']}{why}")
    return lines
