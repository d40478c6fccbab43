"""Postings: planning, claims, leases on the database clock, fencing and the state machine."""

import threading
import time
from datetime import date, timedelta
from decimal import Decimal

import pytest

from bridge_pipelines.ledger.errors import (
    ExternalRefConflictError,
    InvalidTransitionError,
    LeaseLostError,
    UnknownEntityError,
)
from bridge_pipelines.ledger.models import DocumentIn, PlannedPosting
from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.ledger.states import PostingState
from bridge_pipelines_tests.integration.ledger.conftest import stable_file

TARGET = "syspro:EDU1"
LONG = timedelta(minutes=5)
TINY = timedelta(milliseconds=50)

_sha = iter(f"{i:064x}" for i in range(1, 10_000))


def make_records(ledger: Ledger, count: int, *, tenant: str = "acme", name: str = "a.csv"):
    row = stable_file(ledger, name, tenant=tenant)
    ledger.mark_downloaded(row.id, sha256=next(_sha), size=100, archive_path=f"/a/{name}")
    docs = [
        DocumentIn(
            kind="invoice",
            identity=f"V-1|INV-{i}|invoice",
            content_hash=f"h{i}",
            rows=(i + 1,),
            payload={"number": f"INV-{i}", "total": Decimal("10.00")},
            document_day=date(2025, 3, 1),
            amount=Decimal("10.00"),
            currency="USD",
        )
        for i in range(count)
    ]
    ledger.complete_parse(row.id, documents=docs, rows_total=count)
    return ledger.records(tenant, file_id=row.id)


def plan(ledger: Ledger, count: int = 1, *, tenant: str = "acme", name: str = "a.csv"):
    recs = make_records(ledger, count, tenant=tenant, name=name)
    items = [PlannedPosting(r.id, f"BP{tenant[:3].upper()}{r.id:06d}", "hash-1") for r in recs]
    return ledger.plan_postings(tenant, TARGET, items)


def events(ledger: Ledger, posting_id: int, tenant: str = "acme") -> list[str]:
    return [e.event for e in ledger.audit(tenant, entity="posting", entity_id=posting_id)]


def test_planning_is_idempotent_and_audited(ledger: Ledger) -> None:
    (first,) = plan(ledger)
    assert (first.state, first.attempt, first.lease_owner) == (PostingState.PLANNED, 0, None)
    again = ledger.plan_postings(
        "acme", TARGET, [PlannedPosting(first.record_id, first.external_ref, "hash-1")]
    )
    assert again == [first]
    assert ledger.postings("acme") == [first]
    assert events(ledger, first.id) == ["planned"]


def test_a_changed_payload_replans_a_planned_posting_but_not_a_sent_one(ledger: Ledger) -> None:
    (row,) = plan(ledger)
    item = PlannedPosting(row.record_id, row.external_ref, "hash-2")
    (replanned,) = ledger.plan_postings("acme", TARGET, [item])
    assert replanned.payload_hash == "hash-2"
    assert events(ledger, row.id) == ["planned", "replanned"]

    ledger.claim_postings("acme", TARGET, owner="w1", ttl=LONG, limit=1)
    (unchanged,) = ledger.plan_postings(
        "acme", TARGET, [PlannedPosting(row.record_id, row.external_ref, "hash-3")]
    )
    assert (unchanged.state, unchanged.payload_hash) == (PostingState.SENDING, "hash-2")


def test_planning_refuses_strangers_and_conflicts(ledger: Ledger) -> None:
    (row,) = plan(ledger)
    (other,) = make_records(ledger, 1, tenant="globex", name="g.csv")
    with pytest.raises(UnknownEntityError):
        ledger.plan_postings("acme", TARGET, [PlannedPosting(other.id, "BPX1", "h")])
    with pytest.raises(ExternalRefConflictError):  # the reference belongs to acme
        ledger.plan_postings("globex", TARGET, [PlannedPosting(other.id, row.external_ref, "h")])
    with pytest.raises(ExternalRefConflictError):  # one record, one posting per target
        ledger.plan_postings("acme", TARGET, [PlannedPosting(row.record_id, "BPOTHER", "h")])
    assert ledger.postings("globex") == []


def test_a_claim_commits_a_lease_on_the_database_clock(ledger: Ledger) -> None:
    (row,) = plan(ledger)
    before = ledger.database_now()
    (claimed,) = ledger.claim_postings("acme", TARGET, owner="w1", ttl=LONG, limit=10)
    assert (claimed.state, claimed.attempt, claimed.lease_owner) == (PostingState.SENDING, 1, "w1")
    assert claimed.claimed_from == PostingState.PLANNED
    assert not claimed.needs_lookup_first
    assert claimed.lease_until is not None
    assert claimed.lease_until.utcoffset() == timedelta(0)
    assert before + LONG - timedelta(seconds=5) < claimed.lease_until < before + LONG * 2
    # Committed: another connection sees it, and cannot claim it while the lease lives.
    assert ledger.get_posting(row.id).state == PostingState.SENDING
    assert ledger.claim_postings("acme", TARGET, owner="w2", ttl=LONG, limit=10) == []
    assert ledger.claim_postings("acme", "sap_b1:X", owner="w2", ttl=LONG, limit=10) == []


def test_an_expired_lease_is_taken_over_and_the_old_owner_is_fenced_out(ledger: Ledger) -> None:
    (row,) = plan(ledger)
    ledger.claim_postings("acme", TARGET, owner="w1", ttl=TINY, limit=1)
    time.sleep(0.3)
    (taken,) = ledger.claim_postings("acme", TARGET, owner="w2", ttl=LONG, limit=1)
    assert (taken.lease_owner, taken.attempt) == ("w2", 2)
    assert taken.claimed_from == PostingState.SENDING
    assert taken.needs_lookup_first
    with pytest.raises(LeaseLostError):
        ledger.mark_posted(row.id, "w1", "DOC-1")
    with pytest.raises(LeaseLostError):
        ledger.extend_lease(row.id, "w1", LONG)
    with pytest.raises(LeaseLostError):
        ledger.release_to_planned(row.id, "w1", "giving up")
    assert ledger.get_posting(row.id).lease_owner == "w2"
    posted = ledger.mark_posted(row.id, "w2", "DOC-1", "<ok/>", reason="found by lookup")
    assert (posted.state, posted.erp_doc_id, posted.lease_owner) == (
        PostingState.POSTED,
        "DOC-1",
        None,
    )
    assert posted.posted_at is not None
    assert events(ledger, row.id) == ["planned", "claimed", "claimed", "posted"]


def test_extending_a_lease_keeps_other_owners_out(ledger: Ledger) -> None:
    (row,) = plan(ledger)
    (claimed,) = ledger.claim_postings("acme", TARGET, owner="w1", ttl=TINY, limit=1)
    extended = ledger.extend_lease(row.id, "w1", LONG)
    assert claimed.lease_until is not None and extended.lease_until is not None
    assert extended.lease_until > claimed.lease_until
    time.sleep(0.2)
    assert ledger.claim_postings("acme", TARGET, owner="w2", ttl=LONG, limit=1) == []


def test_rejected_keeps_the_redacted_response_and_needs_a_new_payload(ledger: Ledger) -> None:
    (row,) = plan(ledger)
    ledger.claim_postings("acme", TARGET, owner="w1", ttl=LONG, limit=1)
    body = "ERROR: Supplier 'X9' not on file; url ?OperatorPassword=s3cret&x=1"
    rejected = ledger.mark_rejected(row.id, "w1", body, "unknown supplier")
    assert rejected.state == PostingState.REJECTED
    assert rejected.last_response is not None
    assert "Supplier 'X9' not on file" in rejected.last_response
    assert "s3cret" not in rejected.last_response
    (audit,) = [e for e in ledger.audit("acme", entity="posting") if e.event == "rejected"]
    assert "s3cret" not in str(audit.detail)
    assert audit.detail["reason"] == "unknown supplier"
    # Planning again with the same or a new payload does not resend a rejected posting...
    (same,) = ledger.plan_postings(
        "acme", TARGET, [PlannedPosting(row.record_id, row.external_ref, "hash-2")]
    )
    assert same.state == PostingState.REJECTED
    # ...only an explicit re-plan with a new payload does.
    with pytest.raises(InvalidTransitionError):
        ledger.resolve_posting(
            row.id, PostingState.PLANNED, reason="retry", actor="ops", payload_hash="hash-1"
        )
    replanned = ledger.resolve_posting(
        row.id, PostingState.PLANNED, reason="supplier mapped", actor="ops", payload_hash="hash-2"
    )
    assert (replanned.state, replanned.payload_hash) == (PostingState.PLANNED, "hash-2")


def test_the_state_machine_refuses_moves_it_does_not_have(ledger: Ledger) -> None:
    (row,) = plan(ledger)
    with pytest.raises(LeaseLostError):  # planned: nobody holds it
        ledger.mark_posted(row.id, "w1", "DOC")
    ledger.claim_postings("acme", TARGET, owner="w1", ttl=LONG, limit=1)
    ledger.mark_unknown(row.id, "w1", "timeout after send")
    with pytest.raises(LeaseLostError):  # unknown -> rejected is not a move
        ledger.mark_rejected(row.id, "w1", "x", "y")
    with pytest.raises(LeaseLostError):  # another owner cannot write
        ledger.mark_unknown(row.id, "w2", "not mine")
    review = ledger.mark_needs_review(row.id, "w1", "lookup answered 503")
    assert (review.state, review.lease_owner) == (PostingState.NEEDS_REVIEW, None)
    with pytest.raises(InvalidTransitionError):
        ledger.resolve_posting(row.id, PostingState.POSTED, reason="found", actor="ops")
    posted = ledger.resolve_posting(
        row.id, PostingState.POSTED, reason="found it in SYSPRO", actor="ops", erp_doc_id="D1"
    )
    assert posted.erp_doc_id == "D1"
    with pytest.raises(InvalidTransitionError):
        ledger.resolve_posting(row.id, PostingState.PLANNED, reason="again", actor="ops")
    assert ledger.claim_postings("acme", TARGET, owner="w3", ttl=TINY, limit=5) == []
    assert events(ledger, row.id) == ["planned", "claimed", "unknown", "needs_review", "posted"]


def test_unknown_keeps_its_lease_for_the_inline_lookup_or_leaves_it_to_the_next_claim(
    ledger: Ledger,
) -> None:
    held, left = plan(ledger, 2)
    ledger.claim_postings("acme", TARGET, owner="w1", ttl=LONG, limit=2)
    ledger.mark_unknown(held.id, "w1", "read timeout")
    ledger.mark_unknown(left.id, "w1", "read timeout", hold_lease=False)
    (claimed,) = ledger.claim_postings("acme", TARGET, owner="w2", ttl=LONG, limit=5)
    assert claimed.id == left.id
    assert claimed.claimed_from == PostingState.UNKNOWN
    assert claimed.needs_lookup_first
    planned = ledger.release_to_planned(held.id, "w1", "consistent lookup found nothing")
    assert planned.state == PostingState.PLANNED


def test_postings_filter_by_state_and_partition_day(ledger: Ledger) -> None:
    rows = plan(ledger, 3)
    ledger.claim_postings("acme", TARGET, owner="w1", ttl=LONG, limit=1)
    sending = ledger.postings("acme", states=[PostingState.SENDING])
    assert [p.id for p in sending] == [rows[0].id]
    day = ledger.get_record(rows[0].record_id).partition_day
    assert day is not None
    assert len(ledger.postings("acme", day=day)) == 3
    assert ledger.postings("acme", day=day + timedelta(days=1)) == []
    assert ledger.posting_by_ref(rows[1].external_ref) == rows[1]


def test_concurrent_claims_never_take_the_same_row(open_ledger, ledger: Ledger) -> None:
    rows = plan(ledger, 40)
    workers = [open_ledger() for _ in range(4)]
    barrier = threading.Barrier(len(workers))
    claimed: dict[str, list[int]] = {}
    errors: list[BaseException] = []

    def run(index: int, worker: Ledger) -> None:
        owner = f"w{index}"
        mine: list[int] = []
        try:
            barrier.wait()
            while batch := worker.claim_postings("acme", TARGET, owner=owner, ttl=LONG, limit=3):
                mine.extend(p.id for p in batch)
                for p in batch:
                    worker.mark_posted(p.id, owner, f"DOC-{p.id}")
        except BaseException as exc:
            errors.append(exc)
        claimed[owner] = mine

    threads = [threading.Thread(target=run, args=(i, w)) for i, w in enumerate(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    every = [i for ids in claimed.values() for i in ids]
    assert sorted(every) == sorted(r.id for r in rows)  # each row exactly once
    assert {p.state for p in ledger.postings("acme")} == {PostingState.POSTED}
