"""Planning: mapped invoices become `planned` postings, before anything is sent (step 1)."""

from collections.abc import Sequence

from bridge_pipelines.erps.base import PostableInvoice
from bridge_pipelines.ledger.models import PlannedPosting, PostingRow
from bridge_pipelines.ledger.repository import DEFAULT_ACTOR, Ledger
from bridge_pipelines.posting.payload_hash import payload_hash


def plan_invoices(
    ledger: Ledger,
    tenant: str,
    target: str,
    invoices: Sequence[PostableInvoice],
    *,
    actor: str = DEFAULT_ACTOR,
) -> list[PostingRow]:
    """Plan one posting per invoice (idempotent); returns their rows in invoice order.

    Raises:
        ExternalRefConflictError: a reference is already planned for something else.
        UnknownEntityError: an invoice's record is not the tenant's.
    """
    items = [PlannedPosting(i.record_id, i.external_ref, payload_hash(i)) for i in invoices]
    return ledger.plan_postings(tenant, target, items, actor=actor)
