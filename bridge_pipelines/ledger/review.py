"""The review queue: postings that wait for a person, and an operator's dismissal of one.

A posting held for review (`needs_review`) or refused by the ERP (`rejected`) waits until an
operator releases it (`resolve_posting`) or dismisses it: "nothing more to do here" (paid by
hand, a duplicate Stampli should not have exported), with a reason. A dismissal is an audit
event on the posting (`posting_dismissed`, the operator as actor), like a quarantined file's
(`attention.py`): the posting keeps its state, which is what the ERP made of it. A dismissal
stands while the posting does not move; one that is held again after it waits again.
"""

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from bridge_pipelines.ledger.audit import append_events
from bridge_pipelines.ledger.db import LedgerDb
from bridge_pipelines.ledger.errors import InvalidTransitionError, UnknownEntityError
from bridge_pipelines.ledger.models import PostingRow, RecordRow
from bridge_pipelines.ledger.rows import posting_row, record_row
from bridge_pipelines.ledger.states import PostingState
from bridge_pipelines.ledger.tables import audit_events, postings, records

POSTING_DISMISSED = "posting_dismissed"
WAITING_STATES = (PostingState.NEEDS_REVIEW, PostingState.REJECTED)


@dataclass(frozen=True)
class Waiting:
    """One posting in the review queue, with its record and since when it waits."""

    posting: PostingRow
    record: RecordRow
    since: datetime


class ReviewRoom:
    """Dismissing waiting postings and reading the queue."""

    _db: LedgerDb

    def dismiss_posting(self, posting_id: int, *, reason: str, actor: str) -> PostingRow:
        """An operator says a waiting posting needs nothing more (with why).

        Raises:
            UnknownEntityError: no such posting.
            InvalidTransitionError: it does not wait for review, or no reason was given.
        """
        if not reason.strip():
            raise InvalidTransitionError("a dismissal needs a reason")
        with self._db.write() as conn:
            row = conn.execute(
                sa.select(postings).where(postings.c.id == posting_id).with_for_update()
            ).first()
            if row is None:
                raise UnknownEntityError(f"no posting #{posting_id}")
            current = posting_row(row._mapping)
            if current.state not in WAITING_STATES:
                raise InvalidTransitionError(
                    f"posting #{posting_id} is {current.state.value}: only a posting held for "
                    "review or rejected is dismissed"
                )
            detail = {"reason": reason, "state": current.state.value}
            events = [(current.tenant, "posting", posting_id, POSTING_DISMISSED, detail)]
            append_events(conn, events, actor)
            return current

    def review_queue(self, tenant: str) -> list[Waiting]:
        """The tenant's waiting postings not dismissed since they last moved, oldest first."""
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(postings, records)
                .join(records, records.c.id == postings.c.record_id)
                .where(
                    postings.c.tenant == tenant,
                    postings.c.state.in_([s.value for s in WAITING_STATES]),
                )
                .order_by(postings.c.updated_at, postings.c.id)
            ).all()
            dismissed = {
                int(r.entity_id): r.at
                for r in conn.execute(
                    sa.select(audit_events.c.entity_id, audit_events.c.at)
                    .where(
                        audit_events.c.tenant == tenant,
                        audit_events.c.entity == "posting",
                        audit_events.c.event == POSTING_DISMISSED,
                    )
                    .order_by(audit_events.c.id)
                )
            }
        queue: list[Waiting] = []
        width = len(postings.c)
        for r in rows:
            posting = posting_row(dict(zip(postings.c.keys(), r[:width], strict=True)))
            record = record_row(dict(zip(records.c.keys(), r[width:], strict=True)))
            at = dismissed.get(posting.id)
            if at is not None and at >= posting.updated_at:
                continue
            queue.append(Waiting(posting=posting, record=record, since=posting.updated_at))
        return queue
