"""The SAP B1 benches at a tiny size, so their code keeps working between full runs
(`python -m bench.sapb1_posting`, `python -m bench.sapb1_sessions`)."""

from bench import sapb1_posting, sapb1_sessions
from bench.sapb1_common import duplicates


def test_posting_bench_posts_each_invoice_once_in_one_session() -> None:
    result, refs = sapb1_posting.run(12, rpm=6000, latency_ms=0, quiet=True)
    assert len(refs) == 12 and result.posted == 12 and result.posted_in_ledger == 12
    assert duplicates(result.documents, refs) == (0, 0)
    assert result.logins == result.client_logins == 1
    assert result.by_call["POST Logout"] == 1 and result.throttled == 0


def test_sessions_bench_compares_one_login_with_a_login_per_post() -> None:
    (reuse, per_call), refs = sapb1_sessions.run(8, latency_ms=0, login_latency_ms=100, quiet=True)
    assert (reuse.posted, per_call.posted) == (8, 8)
    assert (reuse.logins, per_call.logins) == (1, 8)
    for run in (reuse, per_call):
        assert duplicates(run.documents, refs) == (0, 0)
    # 7 more logins of 100 ms each: a margin no scheduling hiccup on a busy machine erases.
    assert per_call.wall > reuse.wall, "8 slow logins cost more than one"
