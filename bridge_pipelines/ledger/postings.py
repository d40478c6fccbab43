"""Postings: planning documents for an ERP, claiming them under a lease, and recording the answer.

reliability.md §2. A claim commits `sending` with a lease before any byte reaches the
ERP; every later write is fenced on `lease_owner = :me` and the states it may come from,
so a worker whose lease was taken over can write nothing (LeaseLostError). Leases are
set and compared with the database clock only: workers' clocks may disagree (§4 #19).
"""

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from bridge_pipelines.ledger.audit import DEFAULT_ACTOR, Event, append_events
from bridge_pipelines.ledger.coltypes import UtcDateTime
from bridge_pipelines.ledger.db import LedgerDb, chunks, utcnow
from bridge_pipelines.ledger.errors import (
    ExternalRefConflictError,
    InvalidTransitionError,
    LeaseLostError,
    UnknownEntityError,
)
from bridge_pipelines.ledger.models import PlannedPosting, PostingRow
from bridge_pipelines.ledger.rows import posting_row
from bridge_pipelines.ledger.states import PostingKind, PostingState, check_posting_transition
from bridge_pipelines.ledger.tables import postings, records
from bridge_pipelines.redaction import redact

# Terminal moves and releases give the lease up.
_NO_LEASE: dict[str, Any] = {"lease_owner": None, "lease_until": None}
# ERP answers are kept for review, but a garbage answer must not bloat the ledger.
MAX_RESPONSE_CHARS = 64 * 1024


def _kept_response(response: str | None) -> str | None:
    """The ERP's answer as the ledger keeps it: redacted (P6) and bounded."""
    if response is None:
        return None
    text = redact(response)
    if len(text) > MAX_RESPONSE_CHARS:
        cut = len(text) - MAX_RESPONSE_CHARS
        text = f"{text[:MAX_RESPONSE_CHARS]}... [{cut} more characters not kept]"
    return text


class PostingRoom:
    """Postings of every tenant, and the leases that fence their writers."""

    _db: LedgerDb

    def _db_now(self) -> sa.ColumnElement[Any]:
        """The database's current time, comparable with `lease_until` on this backend."""
        if self._db.sqlite:
            # SQLAlchemy stores SQLite datetimes as 'YYYY-MM-DD HH:MM:SS.ffffff' (naive UTC);
            # %f gives 'SS.fff', padded to six digits so text comparison stays chronological.
            return sa.func.strftime("%Y-%m-%d %H:%M:%f", "now").op("||")(sa.literal("000"))
        return sa.func.now()

    def _db_now_plus(self, ttl: timedelta) -> sa.ColumnElement[Any]:
        if ttl <= timedelta(0):
            raise ValueError(f"a lease needs a positive ttl, got {ttl}")
        if self._db.sqlite:
            shift = f"{ttl.total_seconds():+.6f} seconds"
            return sa.func.strftime("%Y-%m-%d %H:%M:%f", "now", shift).op("||")(sa.literal("000"))
        return sa.func.now() + sa.literal(ttl, sa.Interval())

    def database_now(self) -> datetime:
        """The database clock (tz-aware UTC), the one leases are measured by."""
        with self._db.read() as conn:
            value = conn.execute(sa.select(sa.type_coerce(self._db_now(), UtcDateTime))).scalar()
        assert isinstance(value, datetime)
        return value

    def _claimable(
        self, tenant: str, target: str, kind: PostingKind = PostingKind.INVOICE
    ) -> sa.ColumnElement[bool]:
        return sa.and_(
            postings.c.tenant == tenant,
            postings.c.target == target,
            postings.c.kind == kind.value,
            sa.or_(
                postings.c.state == PostingState.PLANNED.value,
                sa.and_(
                    postings.c.state.in_([PostingState.SENDING.value, PostingState.UNKNOWN.value]),
                    sa.or_(
                        postings.c.lease_until.is_(None),
                        postings.c.lease_until < self._db_now(),
                    ),
                ),
            ),
        )

    def plan_postings(
        self,
        tenant: str,
        target: str,
        items: Sequence[PlannedPosting],
        *,
        actor: str = DEFAULT_ACTOR,
        kind: PostingKind = PostingKind.INVOICE,
    ) -> list[PostingRow]:
        """Upsert `planned` postings, idempotently; returns each item's row, in item order.

        A new reference is inserted `planned` (`waiting`, with the item's `waiting` reason,
        when it has one). A known one is left as it is, except that a `planned` row (nothing
        of it is in the ERP) takes a changed `payload_hash` (and record), and a `waiting` row
        takes a changed reason, or becomes `planned` when the item waits no more.
        Rows in any other state are returned unchanged: a rejected posting is re-planned only
        by `resolve_posting`, and a sent one is never re-planned.

        Raises:
            UnknownEntityError: a record does not exist or belongs to another tenant.
            ExternalRefConflictError: a reference already belongs to another tenant, target or
                record, or the record already has a posting to `target` under another reference.
        """
        unique: dict[str, PlannedPosting] = {}
        for item in items:
            seen = unique.setdefault(item.external_ref, item)
            if seen != item:
                raise ExternalRefConflictError(
                    f"{item.external_ref} planned twice: {seen} and {item}"
                )
        if not unique:
            return []
        refs = sorted(unique)
        record_ids = sorted({i.record_id for i in unique.values()})

        def work(conn: sa.Connection) -> list[PostingRow]:
            owners: dict[int, str] = {}
            for chunk in chunks(record_ids):
                query = sa.select(records.c.id, records.c.tenant).where(records.c.id.in_(chunk))
                owners.update({r.id: r.tenant for r in conn.execute(query)})
            strangers = [i for i in record_ids if owners.get(i) != tenant]
            if strangers:
                raise UnknownEntityError(f"tenant {tenant} has no records {strangers}")
            by_ref: dict[str, PostingRow] = {}
            by_record: dict[int, PostingRow] = {}
            for ref_chunk in chunks(refs):
                query = (
                    sa.select(postings)
                    .where(postings.c.external_ref.in_(ref_chunk))
                    .order_by(postings.c.id)
                    .with_for_update()
                )
                by_ref.update(
                    {r.external_ref: posting_row(r._mapping) for r in conn.execute(query)}
                )
            for chunk in chunks(record_ids):
                query = (
                    sa.select(postings)
                    .where(postings.c.target == target, postings.c.record_id.in_(chunk))
                    .order_by(postings.c.id)
                    .with_for_update()
                )
                by_record.update(
                    {r.record_id: posting_row(r._mapping) for r in conn.execute(query)}
                )
            now = utcnow()
            fresh: list[dict[str, Any]] = []
            events: list[Event] = []
            for ref in refs:
                item = unique[ref]
                row = by_ref.get(ref)
                other = by_record.get(item.record_id)
                if other is not None and other.external_ref != ref:
                    raise ExternalRefConflictError(
                        f"record #{item.record_id} already has posting #{other.id} to {target} "
                        f"as {other.external_ref}, not {ref}"
                    )
                if row is None:
                    state = PostingState.WAITING if item.waiting else PostingState.PLANNED
                    fresh.append(
                        {
                            "tenant": tenant,
                            "record_id": item.record_id,
                            "kind": kind.value,
                            "target": target,
                            "external_ref": ref,
                            "payload_hash": item.payload_hash,
                            "state": state.value,
                            "reason": item.waiting,
                            "attempt": 0,
                            "created_at": now,
                            "updated_at": now,
                        }
                    )
                    continue
                if row.tenant != tenant or row.target != target or row.kind != kind:
                    raise ExternalRefConflictError(
                        f"{ref} already belongs to posting #{row.id} "
                        f"of {row.tenant} to {row.target}"
                    )
                if row.state == PostingState.WAITING and row.record_id == item.record_id:
                    by_ref[ref] = self._still_waiting(conn, row, item, now, events)
                    continue
                if row.record_id != item.record_id and row.state != PostingState.PLANNED:
                    raise ExternalRefConflictError(
                        f"{ref} already belongs to record #{row.record_id} ({row.state}), "
                        f"not #{item.record_id}"
                    )
                changed = row.payload_hash != item.payload_hash or row.record_id != item.record_id
                if row.state == PostingState.PLANNED and changed:
                    updated = conn.execute(
                        postings.update()
                        .where(
                            postings.c.id == row.id,
                            postings.c.state == PostingState.PLANNED.value,
                        )
                        .values(
                            payload_hash=item.payload_hash,
                            record_id=item.record_id,
                            updated_at=now,
                        )
                        .returning(*postings.c)
                    ).first()
                    assert updated is not None  # locked above
                    by_ref[ref] = posting_row(updated._mapping)
                    detail: dict[str, Any] = {"from": row.state.value}
                    detail["payload_hash"] = item.payload_hash
                    detail |= {"previous_hash": row.payload_hash, "record_id": item.record_id}
                    events.append((tenant, "posting", row.id, "replanned", detail))
            if fresh:
                inserted = conn.execute(
                    postings.insert().returning(*postings.c, sort_by_parameter_order=True), fresh
                )
                for r in inserted:
                    created = posting_row(r._mapping)
                    by_ref[created.external_ref] = created
                    planned: dict[str, Any] = {"record_id": created.record_id, "target": target}
                    planned |= {"external_ref": created.external_ref, "kind": kind.value}
                    if created.state == PostingState.WAITING:
                        planned["waiting"] = created.reason
                    events.append((tenant, "posting", created.id, created.state.value, planned))
            append_events(conn, events, actor)
            return [by_ref[i.external_ref] for i in items]

        return self._db.race_safe(work)

    @staticmethod
    def _still_waiting(
        conn: sa.Connection,
        row: PostingRow,
        item: PlannedPosting,
        now: datetime,
        events: list[Event],
    ) -> PostingRow:
        """A `waiting` row planned again: a new reason, or `planned` once it waits no more."""
        if item.waiting and item.waiting == row.reason and item.payload_hash == row.payload_hash:
            return row
        values: dict[str, Any] = {"payload_hash": item.payload_hash, "updated_at": now}
        if item.waiting:
            values["reason"] = item.waiting
        else:
            check_posting_transition(row.state, PostingState.PLANNED)
            values |= {"state": PostingState.PLANNED.value, "reason": None}
        updated = conn.execute(
            postings.update()
            .where(postings.c.id == row.id, postings.c.state == PostingState.WAITING.value)
            .values(**values)
            .returning(*postings.c)
        ).first()
        assert updated is not None  # locked by the caller
        moved = posting_row(updated._mapping)
        if item.waiting and item.waiting != row.reason:
            detail: dict[str, Any] = {"from": row.state.value, "waiting": item.waiting}
            events.append((row.tenant, "posting", row.id, "waiting", detail))
        elif not item.waiting:
            detail = {"from": row.state.value, "waited_for": row.reason}
            events.append((row.tenant, "posting", row.id, PostingState.PLANNED.value, detail))
        return moved

    def claim_postings(
        self,
        tenant: str,
        target: str,
        *,
        owner: str,
        ttl: timedelta,
        limit: int,
        kind: PostingKind = PostingKind.INVOICE,
    ) -> list[PostingRow]:
        """Claim up to `limit` postings for `owner`: `sending`, leased until db-now + `ttl`.

        Claimable: `planned` rows, and `sending` or `unknown` rows whose lease has expired (the
        worker died or gave up). The claim commits before this returns, so it is durable before
        any byte reaches the ERP. Each returned row carries `claimed_from`; when that is
        `sending` or `unknown` the ERP must be searched before anything is sent. On PostgreSQL
        concurrent claimers skip each other's rows (`FOR UPDATE SKIP LOCKED`); on SQLite the
        write lock (`BEGIN IMMEDIATE`) serialises them. Oldest rows first.

        Args:
            tenant: tenant id.
            target: ERP kind and company.
            owner: a token unique to this worker and attempt (fencing relies on it).
            ttl: lease length; must exceed the longest ERP call, deadline included.
            limit: most rows to claim.
            kind: invoices (the default) or payments; each engine run claims one kind.
        """
        if limit <= 0:
            return []
        lease_until = self._db_now_plus(ttl)
        with self._db.write() as conn:
            candidates = conn.execute(
                sa.select(postings.c.id, postings.c.state)
                .where(self._claimable(tenant, target, kind))
                .order_by(postings.c.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            if not candidates:
                return []
            previous = {r.id: PostingState(r.state) for r in candidates}
            now = utcnow()
            claimed = conn.execute(
                postings.update()
                .where(postings.c.id.in_(list(previous)), self._claimable(tenant, target, kind))
                .values(
                    state=PostingState.SENDING.value,
                    lease_owner=owner,
                    lease_until=lease_until,
                    attempt=postings.c.attempt + 1,
                    updated_at=now,
                )
                .returning(*postings.c)
            ).all()
            rows = sorted(
                (posting_row(r._mapping, claimed_from=previous[r.id]) for r in claimed),
                key=lambda p: p.id,
            )
            append_events(
                conn,
                [
                    (
                        tenant,
                        "posting",
                        r.id,
                        "claimed",
                        {"from": str(r.claimed_from), "attempt": r.attempt, "owner": owner},
                    )
                    for r in rows
                ],
                owner,
            )
            return rows

    def _fenced(
        self,
        posting_id: int,
        owner: str,
        target: PostingState,
        *,
        values: Mapping[str, Any],
        detail: Mapping[str, Any],
        sources: frozenset[PostingState] = frozenset({PostingState.SENDING}),
        event_name: str | None = None,
    ) -> PostingRow:
        """Move a posting this owner holds to `target`, with an audit event, in one transaction.

        Raises:
            LeaseLostError: another owner holds the row, or it is no longer in `sources`.
            UnknownEntityError: no such posting.
        """
        with self._db.write() as conn:
            found = conn.execute(
                sa.select(postings).where(postings.c.id == posting_id).with_for_update()
            ).first()
            if found is None:
                raise UnknownEntityError(f"no posting #{posting_id}")
            current = posting_row(found._mapping)
            if current.lease_owner != owner or current.state not in sources:
                raise LeaseLostError(
                    f"posting #{posting_id} is {current.state}, held by "
                    f"{current.lease_owner or 'nobody'}: {owner} may not make it {target}"
                )
            check_posting_transition(current.state, target)
            row = conn.execute(
                postings.update()
                .where(
                    postings.c.id == posting_id,
                    postings.c.lease_owner == owner,
                    postings.c.state == current.state.value,
                )
                .values(state=target.value, updated_at=utcnow(), **values)
                .returning(*postings.c)
            ).first()
            if row is None:  # pragma: no cover - the row is locked above
                raise LeaseLostError(f"posting #{posting_id} changed under {owner}")
            moved = posting_row(row._mapping)
            if event_name is not None or current.state != target:
                audit_detail = {"from": current.state.value, "attempt": moved.attempt, **detail}
                append_events(
                    conn,
                    [(moved.tenant, "posting", moved.id, event_name or target.value, audit_detail)],
                    owner,
                )
            return moved

    def extend_lease(self, posting_id: int, owner: str, ttl: timedelta) -> PostingRow:
        """Push the lease to db-now + `ttl` (before each ERP call of a long batch).

        Raises:
            LeaseLostError: the lease was taken over, or the row is neither sending nor unknown.
        """
        lease_until = self._db_now_plus(ttl)
        held = frozenset({PostingState.SENDING, PostingState.UNKNOWN})
        with self._db.write() as conn:
            row = conn.execute(
                postings.update()
                .where(
                    postings.c.id == posting_id,
                    postings.c.lease_owner == owner,
                    postings.c.state.in_([s.value for s in held]),
                )
                .values(lease_until=lease_until)
                .returning(*postings.c)
            ).first()
        if row is None:
            raise LeaseLostError(f"posting #{posting_id}: {owner} no longer holds its lease")
        return posting_row(row._mapping)

    def mark_posted(
        self,
        posting_id: int,
        owner: str,
        erp_doc_id: str,
        response: str | None = None,
        *,
        reason: str | None = None,
    ) -> PostingRow:
        """The ERP has the document (it answered, or a lookup found exactly one).

        Raises:
            LeaseLostError: `owner` no longer holds the posting.
        """
        kept = _kept_response(response)
        return self._fenced(
            posting_id,
            owner,
            PostingState.POSTED,
            values={
                "erp_doc_id": erp_doc_id,
                "last_response": kept,
                "reason": reason,
                "posted_at": utcnow(),
                **_NO_LEASE,
            },
            detail={"erp_doc_id": erp_doc_id, "reason": reason, "response": kept},
            sources=frozenset({PostingState.SENDING, PostingState.UNKNOWN}),
        )

    def mark_rejected(
        self, posting_id: int, owner: str, response: str | None, reason: str
    ) -> PostingRow:
        """The ERP refused the document; its answer is kept. Only a new payload re-plans it.

        Raises:
            LeaseLostError: `owner` no longer holds the posting.
        """
        kept = _kept_response(response)
        return self._fenced(
            posting_id,
            owner,
            PostingState.REJECTED,
            values={"last_response": kept, "reason": reason, **_NO_LEASE},
            detail={"reason": reason, "response": kept},
        )

    def mark_unknown(
        self,
        posting_id: int,
        owner: str,
        reason: str,
        *,
        response: str | None = None,
        hold_lease: bool = True,
    ) -> PostingRow:
        """The document may or may not be in the ERP: only a lookup can tell.

        With `hold_lease` the owner keeps the lease to look it up at once; without, the row is
        left for the next claim (or the reconciler), which looks it up first.

        Raises:
            LeaseLostError: `owner` no longer holds the posting.
        """
        kept = _kept_response(response)
        values: dict[str, Any] = {"reason": reason}
        if kept is not None:
            values["last_response"] = kept
        if not hold_lease:
            values |= _NO_LEASE
        return self._fenced(
            posting_id,
            owner,
            PostingState.UNKNOWN,
            values=values,
            detail={"reason": reason, "response": kept, "lease_kept": hold_lease},
            sources=frozenset({PostingState.SENDING, PostingState.UNKNOWN}),
            event_name=PostingState.UNKNOWN.value,
        )

    def mark_needs_review(
        self, posting_id: int, owner: str, reason: str, *, response: str | None = None
    ) -> PostingRow:
        """Hold the posting for an operator (lookup down or stale, several matches...).

        Raises:
            LeaseLostError: `owner` no longer holds the posting.
        """
        kept = _kept_response(response)
        values: dict[str, Any] = {"reason": reason, **_NO_LEASE}
        if kept is not None:
            values["last_response"] = kept
        return self._fenced(
            posting_id,
            owner,
            PostingState.NEEDS_REVIEW,
            values=values,
            detail={"reason": reason, "response": kept},
            sources=frozenset({PostingState.SENDING, PostingState.UNKNOWN}),
        )

    def release_to_planned(self, posting_id: int, owner: str, reason: str) -> PostingRow:
        """Give a posting back, for the next claim to send: nothing of it is in the ERP.

        Only for a posting that never reached the ERP, or that a consistent lookup did not find.

        Raises:
            LeaseLostError: `owner` no longer holds the posting.
        """
        return self._fenced(
            posting_id,
            owner,
            PostingState.PLANNED,
            values={"reason": reason, **_NO_LEASE},
            detail={"reason": reason},
            sources=frozenset({PostingState.SENDING, PostingState.UNKNOWN}),
        )

    def resolve_posting(
        self,
        posting_id: int,
        to: PostingState,
        *,
        reason: str,
        actor: str,
        payload_hash: str | None = None,
        erp_doc_id: str | None = None,
    ) -> PostingRow:
        """An operator's resolution of a held or rejected posting.

        `needs_review → posted` needs the `erp_doc_id` the operator found in the ERP;
        `needs_review → planned` asserts the ERP does not have it; `rejected → planned` needs
        a `payload_hash` different from the rejected one (the mapping or data was fixed).

        Raises:
            InvalidTransitionError: any other move, or a re-plan without a new payload.
            UnknownEntityError: no such posting.
        """
        with self._db.write() as conn:
            found = conn.execute(
                sa.select(postings).where(postings.c.id == posting_id).with_for_update()
            ).first()
            if found is None:
                raise UnknownEntityError(f"no posting #{posting_id}")
            current = posting_row(found._mapping)
            if current.state not in (PostingState.NEEDS_REVIEW, PostingState.REJECTED):
                raise InvalidTransitionError(
                    f"posting #{posting_id} is {current.state}: only needs_review or rejected "
                    "postings are resolved by hand"
                )
            check_posting_transition(current.state, to)
            values: dict[str, Any] = {"reason": reason, **_NO_LEASE}
            if to == PostingState.POSTED:
                if not erp_doc_id:
                    raise InvalidTransitionError("resolving as posted needs the ERP document id")
                values |= {"erp_doc_id": erp_doc_id, "posted_at": utcnow()}
            if current.state == PostingState.REJECTED and (
                payload_hash is None or payload_hash == current.payload_hash
            ):
                raise InvalidTransitionError(
                    f"posting #{posting_id} was rejected: re-planning needs a new payload "
                    "(fix the mapping or data first)"
                )
            if payload_hash is not None:
                values["payload_hash"] = payload_hash
            row = conn.execute(
                postings.update()
                .where(postings.c.id == posting_id, postings.c.state == current.state.value)
                .values(state=to.value, updated_at=utcnow(), **values)
                .returning(*postings.c)
            ).first()
            assert row is not None  # locked above
            moved = posting_row(row._mapping)
            detail = {"from": current.state.value, "reason": reason, "resolved": True}
            detail |= {"erp_doc_id": erp_doc_id, "payload_hash": payload_hash}
            append_events(conn, [(moved.tenant, "posting", moved.id, to.value, detail)], actor)
            return moved

    def get_posting(self, posting_id: int) -> PostingRow:
        """One posting by id.

        Raises:
            UnknownEntityError: no such posting.
        """
        with self._db.read() as conn:
            row = conn.execute(sa.select(postings).where(postings.c.id == posting_id)).first()
        if row is None:
            raise UnknownEntityError(f"no posting #{posting_id}")
        return posting_row(row._mapping)

    def posting_by_ref(self, external_ref: str) -> PostingRow | None:
        """The posting carrying an external reference, if any."""
        with self._db.read() as conn:
            row = conn.execute(
                sa.select(postings).where(postings.c.external_ref == external_ref)
            ).first()
        return None if row is None else posting_row(row._mapping)

    def postings(
        self,
        tenant: str,
        *,
        states: Iterable[PostingState] | None = None,
        day: date | None = None,
        target: str | None = None,
        kind: PostingKind | None = None,
    ) -> list[PostingRow]:
        """A tenant's postings, oldest first; `day` is the partition day of their records."""
        query = sa.select(postings).where(postings.c.tenant == tenant)
        if kind is not None:
            query = query.where(postings.c.kind == PostingKind(kind).value)
        if states is not None:
            query = query.where(postings.c.state.in_([PostingState(s).value for s in states]))
        if target is not None:
            query = query.where(postings.c.target == target)
        if day is not None:
            query = query.join(records, records.c.id == postings.c.record_id).where(
                records.c.partition_day == day
            )
        with self._db.read() as conn:
            return [posting_row(r._mapping) for r in conn.execute(query.order_by(postings.c.id))]
