"""The posting engine against a scripted in-memory ERP: every answer and recovery, no duplicate."""

import time
from datetime import timedelta

import pytest

from bridge_pipelines.errors import BadInputError, ConfigError
from bridge_pipelines.ledger.errors import LeaseLostError
from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.ledger.states import PostingState
from bridge_pipelines.posting.engine import Outcome, RetryPolicy, post_pending
from bridge_pipelines_tests.support.fake_erp import (
    TARGET,
    TENANT,
    FakeErp,
    build_invoice,
    plan,
)

TTL = timedelta(minutes=5)
TINY = timedelta(milliseconds=50)


@pytest.fixture
def ledger(tmp_path) -> Ledger:
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    ledger.migrate()
    yield ledger
    ledger.dispose()


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def run(ledger: Ledger, erp: FakeErp, *, owner: str = "run-1", limit: int = 50, **kw):
    kw.setdefault("sleep", Sleeps())
    return post_pending(
        ledger, erp, TENANT, TARGET, build_invoice, owner=owner, ttl=TTL, limit=limit, **kw
    )


def states(ledger: Ledger) -> list[PostingState]:
    return [p.state for p in ledger.postings(TENANT)]


def test_planned_invoices_are_posted_once_with_their_document_ids(ledger: Ledger) -> None:
    rows = plan(ledger, 3)
    erp = FakeErp()
    report = run(ledger, erp)
    assert (report.claimed, report.posted, report.sends, report.lookups) == (3, 3, 3, 0)
    assert report.aborted is None
    for row in rows:
        posted = ledger.get_posting(row.id)
        assert posted.state == PostingState.POSTED
        assert erp.documents(row.external_ref) == [posted.erp_doc_id]
    again = run(ledger, erp, owner="run-2")
    assert (again.claimed, erp.posts) == (0, 3)


def test_a_refusal_is_rejected_with_the_erp_answer_and_not_sent_again(ledger: Ledger) -> None:
    (row,) = plan(ledger)
    erp = FakeErp()
    erp.script = ["reject"]
    report = run(ledger, erp)
    assert report.rejected == 1
    rejected = ledger.get_posting(row.id)
    assert rejected.state == PostingState.REJECTED
    assert rejected.last_response == "<ERROR>Supplier 'V-1' not on file</ERROR>"
    assert rejected.reason == "Supplier 'V-1' not on file"
    assert run(ledger, erp, owner="run-2").claimed == 0
    assert (erp.posts, erp.documents()) == (1, [])


def test_a_closed_period_is_held_for_review_with_the_erp_answer_never_re_dated(
    ledger: Ledger,
) -> None:
    (row,) = plan(ledger)
    erp = FakeErp()
    erp.script = ["period_closed"]
    report = run(ledger, erp)
    assert (report.needs_review, report.rejected, report.sends) == (1, 0, 1)
    held = ledger.get_posting(row.id)
    assert held.state == PostingState.NEEDS_REVIEW
    assert held.last_response == '{"error":{"code":-4013,"message":"Posting period locked"}}'
    period = build_invoice(ledger.get_record(row.record_id)).posting_period
    assert held.reason == (
        f"posting period {period} refused by the ERP: "
        "Posting period locked; specify an alternative date (-4013)"
    )
    assert run(ledger, erp, owner="run-2").claimed == 0
    # Reopened and resolved by an operator, the same document (same date) posts once.
    ledger.resolve_posting(row.id, PostingState.PLANNED, reason="period open", actor="ops")
    assert run(ledger, erp, owner="run-3").posted == 1
    assert len(erp.documents(row.external_ref)) == 1


def test_retryable_answers_back_off_then_post_one_document(ledger: Ledger) -> None:
    (row,) = plan(ledger)
    erp = FakeErp()
    erp.script = ["retryable", "429", "ok"]
    sleeps = Sleeps()
    report = run(ledger, erp, sleep=sleeps)
    assert report.posted == 1
    assert sleeps == [0.5, 2.0]  # exponential backoff, then the ERP's Retry-After
    assert erp.posts == 3
    assert len(erp.documents(row.external_ref)) == 1


def test_an_erp_that_stays_down_stops_the_run_and_loses_nothing(ledger: Ledger) -> None:
    plan(ledger, 2)
    erp = FakeErp()
    erp.script = ["retryable"] * 3
    report = run(ledger, erp, retry=RetryPolicy(max_sends=3, base_delay=0.01))
    assert report.aborted is not None and "unavailable" in report.aborted
    assert [o.outcome for o in report.outcomes] == [Outcome.RELEASED, Outcome.RELEASED]
    assert states(ledger) == [PostingState.PLANNED, PostingState.PLANNED]
    resumed = run(ledger, erp, owner="run-2")
    assert resumed.posted == 2
    assert len(erp.documents()) == 2


def test_a_timeout_after_the_erp_committed_is_found_not_resent(ledger: Ledger) -> None:
    (row,) = plan(ledger)
    erp = FakeErp(consistent=False)
    erp.script = ["landed_then_timeout"]
    report = run(ledger, erp)
    (outcome,) = report.outcomes
    assert (outcome.outcome, outcome.sends, outcome.lookups) == (Outcome.POSTED, 1, 1)
    posted = ledger.get_posting(row.id)
    assert posted.state == PostingState.POSTED
    assert erp.documents(row.external_ref) == [posted.erp_doc_id]
    assert erp.posts == 1
    events = [e.event for e in ledger.audit(TENANT, entity="posting", entity_id=row.id)]
    assert events == ["planned", "claimed", "unknown", "posted"]


def test_a_timeout_that_did_not_land_is_replanned_on_a_consistent_erp(ledger: Ledger) -> None:
    (row,) = plan(ledger)
    erp = FakeErp(consistent=True)
    erp.script = ["timeout_before"]
    report = run(ledger, erp)
    assert [o.outcome for o in report.outcomes] == [Outcome.RELEASED]
    assert ledger.get_posting(row.id).state == PostingState.PLANNED
    assert erp.posts == 1  # not re-sent in the same run
    assert run(ledger, erp, owner="run-2").posted == 1
    assert len(erp.documents(row.external_ref)) == 1


def test_a_timeout_that_did_not_land_goes_to_review_when_search_may_lag(ledger: Ledger) -> None:
    (row,) = plan(ledger)
    erp = FakeErp(consistent=False)
    erp.script = ["timeout_before"]
    assert run(ledger, erp).needs_review == 1
    held = ledger.get_posting(row.id)
    assert held.state == PostingState.NEEDS_REVIEW
    assert held.reason is not None and "lag" in held.reason
    assert run(ledger, erp, owner="run-2").claimed == 0
    assert erp.posts == 1


def test_two_documents_with_our_reference_go_to_review(ledger: Ledger) -> None:
    (row,) = plan(ledger)
    ledger.claim_postings(TENANT, TARGET, owner="dead", ttl=TINY, limit=1)
    erp = FakeErp()
    erp.add_document(row.external_ref)
    erp.add_document(row.external_ref)
    time.sleep(0.2)
    report = run(ledger, erp)
    assert report.needs_review == 1
    held = ledger.get_posting(row.id)
    assert held.reason is not None and "DOC-1, DOC-2" in held.reason
    assert erp.posts == 0


@pytest.mark.parametrize("lookup", ["error", "incomplete"])
def test_a_recovery_lookup_that_cannot_settle_it_goes_to_review(ledger: Ledger, lookup) -> None:
    (row,) = plan(ledger)
    ledger.claim_postings(TENANT, TARGET, owner="dead", ttl=TINY, limit=1)
    time.sleep(0.2)
    erp = FakeErp(consistent=True)
    erp.lookup_script = [lookup]
    assert run(ledger, erp).needs_review == 1
    assert ledger.get_posting(row.id).state == PostingState.NEEDS_REVIEW
    assert erp.posts == 0


def test_a_worker_that_died_after_sending_is_recovered_by_lookup(ledger: Ledger) -> None:
    (row,) = plan(ledger)
    # The dead worker claimed, sent (the ERP committed), and was killed before its ledger write.
    (claimed,) = ledger.claim_postings(TENANT, TARGET, owner="dead", ttl=TINY, limit=1)
    erp = FakeErp(consistent=False)
    erp.post_invoice(build_invoice(ledger.get_record(claimed.record_id)))
    time.sleep(0.2)
    report = run(ledger, erp, owner="run-2")
    (outcome,) = report.outcomes
    assert (outcome.outcome, outcome.sends, outcome.lookups) == (Outcome.POSTED, 0, 1)
    posted = ledger.get_posting(row.id)
    assert (posted.state, posted.attempt) == (PostingState.POSTED, 2)
    assert erp.posts == 1
    assert erp.documents(row.external_ref) == [posted.erp_doc_id]
    with pytest.raises(LeaseLostError):
        ledger.mark_posted(row.id, "dead", "DOC-9")


@pytest.mark.parametrize(("consistent", "expected"), [(True, "posted"), (False, "needs_review")])
def test_a_worker_that_died_before_sending_is_sent_only_on_a_consistent_erp(
    ledger: Ledger, consistent: bool, expected: str
) -> None:
    (row,) = plan(ledger)
    ledger.claim_postings(TENANT, TARGET, owner="dead", ttl=TINY, limit=1)
    time.sleep(0.2)
    erp = FakeErp(consistent=consistent)
    run(ledger, erp)
    assert ledger.get_posting(row.id).state == PostingState(expected)
    assert len(erp.documents()) == (1 if consistent else 0)


def test_a_live_lease_keeps_a_second_worker_away(ledger: Ledger) -> None:
    plan(ledger)
    ledger.claim_postings(TENANT, TARGET, owner="busy", ttl=TTL, limit=1)
    erp = FakeErp()
    assert run(ledger, erp).claimed == 0
    assert erp.posts == erp.lookups == 0


def test_wrong_credentials_stop_the_run_with_everything_given_back(ledger: Ledger) -> None:
    plan(ledger, 3)
    erp = FakeErp()
    erp.script = ["config"]
    with pytest.raises(ConfigError):
        run(ledger, erp)
    assert erp.posts == 1  # no retry storm
    assert states(ledger) == [PostingState.PLANNED] * 3
    assert erp.documents() == []


def test_an_unexpected_error_after_sending_leaves_it_for_a_lookup(ledger: Ledger) -> None:
    first, _second = plan(ledger, 2)
    erp = FakeErp(consistent=False)
    erp.script = ["crash"]
    with pytest.raises(RuntimeError):
        run(ledger, erp)
    assert states(ledger) == [PostingState.UNKNOWN, PostingState.PLANNED]
    report = run(ledger, erp, owner="run-2")
    assert report.posted == 2
    assert erp.posts == 2  # the first was found, not sent again
    assert len(erp.documents(first.external_ref)) == 1


def test_a_document_the_mapping_cannot_build_is_held(ledger: Ledger) -> None:
    (row,) = plan(ledger)
    erp = FakeErp()

    def unmapped(record):
        raise BadInputError("GL account 6100 has no SYSPRO ledger code")

    report = post_pending(
        ledger, erp, TENANT, TARGET, unmapped, owner="r", ttl=TTL, limit=5, sleep=Sleeps()
    )
    assert report.needs_review == 1
    held = ledger.get_posting(row.id)
    assert held.reason is not None and "6100" in held.reason
    assert erp.posts == 0


def test_an_adapter_that_cannot_express_the_document_holds_it(ledger: Ledger) -> None:
    plan(ledger)
    erp = FakeErp()
    erp.script = ["too_long"]
    assert run(ledger, erp).needs_review == 1
    assert erp.documents() == []


def test_attempts_are_capped(ledger: Ledger) -> None:
    (row,) = plan(ledger)
    erp = FakeErp(consistent=True)
    policy = RetryPolicy(max_attempts=2)
    erp.script = ["timeout_before", "timeout_before"]
    run(ledger, erp, retry=policy)
    run(ledger, erp, retry=policy, owner="run-2")
    assert ledger.get_posting(row.id).state == PostingState.PLANNED
    report = run(ledger, erp, retry=policy, owner="run-3")
    assert report.needs_review == 1
    assert erp.posts == 2


def test_the_rate_limiter_paces_every_erp_call(ledger: Ledger) -> None:
    plan(ledger, 2)
    erp = FakeErp()
    erp.script = ["landed_then_timeout"]

    class Counter:
        calls = 0

        def acquire(self) -> None:
            Counter.calls += 1

    run(ledger, erp, rate_limiter=Counter())
    assert Counter.calls == erp.posts + erp.lookups == 3


def test_planning_mapped_invoices_is_idempotent_and_posts_once(ledger: Ledger) -> None:
    from bridge_pipelines.posting.plan import plan_invoices
    from bridge_pipelines_tests.support.fake_erp import seed_records

    invoices = [build_invoice(r) for r in seed_records(ledger, 2)]
    first = plan_invoices(ledger, TENANT, TARGET, invoices)
    assert plan_invoices(ledger, TENANT, TARGET, invoices) == first
    erp = FakeErp()
    assert run(ledger, erp).posted == 2
    plan_invoices(ledger, TENANT, TARGET, invoices)  # a replayed partition plans again...
    assert run(ledger, erp, owner="replay").claimed == 0  # ...and posts nothing twice
    assert len(erp.documents()) == 2
