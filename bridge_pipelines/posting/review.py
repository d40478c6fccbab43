"""What an operator does with a waiting posting: release it, record it as posted, dismiss it.

One code path for `bridge review resolve|dismiss` and the Dagster jobs `release_posting` and
`dismiss_posting`, so both are audited the same way (the operator as actor, the reason in the
event). The queue's rows say what to do next, in a person's words.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bridge_pipelines.errors import BadInputError, BridgeError
from bridge_pipelines.intake.runtime import Runtime
from bridge_pipelines.ledger.errors import InvalidTransitionError
from bridge_pipelines.ledger.models import PostingRow
from bridge_pipelines.ledger.review import Waiting
from bridge_pipelines.ledger.states import PostingKind, PostingState
from bridge_pipelines.posting.payload_hash import payload_hash
from bridge_pipelines.posting.run import build_postable, load_mapping
from bridge_pipelines.stampli.naming import record_name
from bridge_pipelines.tenants.erp import build_adapter
from bridge_pipelines.tenants.loader import find_tenant


class NothingChangedError(InvalidTransitionError):
    """A rejected posting released before its data or mapping was fixed."""


def resolve(
    ctx: Runtime,
    posting_id: int,
    to: PostingState,
    *,
    reason: str,
    actor: str,
    erp_doc: str | None = None,
    erp_options: Mapping[str, Any] | None = None,
) -> PostingRow:
    """Release a waiting posting (`planned`: the next run posts it) or record it as posted.

    `erp_options`: client-setting overrides (timeouts) for the ERP read a rejected one needs.

    A rejected posting is released only with a changed payload: the mapping or the data was
    fixed, or the ERP would refuse it again.

    Raises:
        NothingChangedError: a rejected posting whose document would be the same.
        BadInputError: a rejected posting that still does not map.
        UnknownEntityError / InvalidTransitionError: no such posting, or not waiting.
    """
    if not reason.strip():
        raise InvalidTransitionError("a resolution needs a reason")
    posting = ctx.ledger.get_posting(posting_id)
    new_hash = None
    if posting.state == PostingState.REJECTED and to == PostingState.PLANNED:
        new_hash = current_payload_hash(ctx, posting, erp_options)
        if new_hash == posting.payload_hash:
            raise NothingChangedError(
                "nothing changed since the ERP rejected it: fix the data or mapping first"
            )
    return ctx.ledger.resolve_posting(
        posting_id, to, reason=reason, actor=actor, payload_hash=new_hash, erp_doc_id=erp_doc
    )


def dismiss(ctx: Runtime, posting_id: int, *, reason: str, actor: str) -> PostingRow:
    """Take a waiting posting off the queue for good, with why (audited)."""
    return ctx.ledger.dismiss_posting(posting_id, reason=reason, actor=actor)


def current_payload_hash(
    ctx: Runtime, posting: PostingRow, erp_options: Mapping[str, Any] | None = None
) -> str:
    """What would be sent now, after the fix: the hash that lets a rejected posting re-plan."""
    tenant = find_tenant(posting.tenant)
    if posting.kind == PostingKind.PAYMENT:
        from bridge_pipelines.posting.payment_run import current_payment_hash

        try:
            return current_payment_hash(ctx, tenant, posting.record_id, erp_options)
        except BridgeError as exc:
            raise BadInputError(f"still not ready to send: {exc}") from None
    record = ctx.ledger.get_record(posting.record_id)
    with build_adapter(tenant, keyring=ctx.keyring, **(erp_options or {})) as erp:
        tables = load_mapping(ctx, tenant, erp, [record])
    try:
        invoice = build_postable(tenant, record, tables, ctx.ledger.get_file(record.file_id).name)
    except BridgeError as exc:
        raise BadInputError(f"still not postable: {exc}") from None
    return payload_hash(invoice)


@dataclass(frozen=True)
class QueueRow:
    """One row of the review queue as a person reads it."""

    posting: int
    state: str
    identity: str
    vendor: str
    invoice_number: str
    invoice_name: str
    amount: str
    currency: str
    reason: str
    since: datetime
    partition_day: str
    action: str


def what_to_do(waiting: Waiting) -> str:
    """The next step for a waiting posting, with the command that takes it."""
    posting = waiting.posting
    reason = (posting.reason or "").lower()
    release = f"bridge review resolve {posting.id} --as planned --reason ..."
    if "unmapped" in reason:
        fix = "map the code (mapping file or ErpVendorCode in Stampli)"
    elif "period" in reason:
        fix = "open the ERP period"
    elif posting.state == PostingState.REJECTED:
        fix = "fix the data or the mapping the ERP refused"
    else:
        fix = "check the ERP: if the document is there, `--as posted --erp-doc D`; if not"
    return f"{fix}, then release: `{release}` (or dismiss it)"


def queue_rows(ctx: Runtime, tenant_id: str) -> list[QueueRow]:
    """The tenant's review queue, oldest first, with reasons in full."""
    rows: list[QueueRow] = []
    for waiting in ctx.ledger.review_queue(tenant_id):
        record, posting = waiting.record, waiting.posting
        payload = record.payload or {}
        parts = record.identity.split("|")
        rows.append(
            QueueRow(
                posting=posting.id,
                state=posting.state.value,
                identity=record.identity,
                vendor=str(payload.get("vendor_id") or (parts[0] if parts else "?")),
                invoice_number=str(
                    payload.get("invoice_number") or (parts[1] if len(parts) > 1 else "?")
                ),
                invoice_name=record_name(record),
                amount=str(record.amount) if record.amount is not None else "",
                currency=record.currency or "",
                reason=posting.reason or "",
                since=waiting.since,
                partition_day=record.partition_day.isoformat() if record.partition_day else "",
                action=what_to_do(waiting),
            )
        )
    return rows
