"""`kill -9` at every fault point of the engine: a later run finishes the work, 0 duplicates."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest

from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.ledger.states import PostingState
from bridge_pipelines.posting.engine import post_pending
from bridge_pipelines_tests.support.fake_erp import (
    TARGET,
    TENANT,
    FakeErp,
    build_invoice,
    plan,
)

LEASE_S = 0.5


def run_worker(url: str, erp_file, fault_at: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "FAULT_AT"}
    if fault_at is not None:
        env["FAULT_AT"] = fault_at
    module = "bridge_pipelines_tests.integration.posting.crash_worker"
    return subprocess.run(
        [sys.executable, "-m", module, url, str(erp_file), str(LEASE_S)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


POINTS = ["after_claim", "after_erp_response", "before_ledger_commit"]
# Every point on SQLite; on PostgreSQL the one that matters most (a process start costs ~1 s).
CASES = [("sqlite", p) for p in POINTS] + [
    pytest.param("postgres", "after_erp_response", marks=pytest.mark.postgres)
]


@pytest.mark.parametrize(("ledger_url", "point"), CASES, indirect=["ledger_url"])
def test_a_worker_killed_at_a_fault_point_loses_nothing_and_posts_nothing_twice(
    ledger_url: str, tmp_path, point: str
) -> None:
    ledger = Ledger(ledger_url)
    try:
        ledger.migrate()
        rows = plan(ledger, 2)
        erp_file = tmp_path / "erp.json"
        killed = run_worker(ledger_url, erp_file, point)
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        assert {p.state for p in ledger.postings(TENANT)} == {PostingState.SENDING}
        sent_before = len(FakeErp(path=erp_file).documents())
        assert sent_before == (0 if point == "after_claim" else 1)

        time.sleep(LEASE_S + 0.2)  # the dead worker's lease expires on the database clock
        erp = FakeErp(path=erp_file, consistent=True)
        report = post_pending(
            ledger,
            erp,
            TENANT,
            TARGET,
            build_invoice,
            owner="rescuer",
            ttl=timedelta(minutes=1),
            limit=10,
        )
        assert report.posted == 2
        assert report.lookups == 2  # both rows were claimed from `sending`: looked up first
        for row in rows:
            posting = ledger.get_posting(row.id)
            assert posting.state == PostingState.POSTED
            assert erp.documents(row.external_ref) == [posting.erp_doc_id]
        assert erp.posts == 2 - sent_before
    finally:
        ledger.dispose()


def test_an_unset_fault_point_kills_nothing(tmp_path) -> None:
    ledger_url = f"sqlite:///{tmp_path / 'ledger.db'}"
    ledger = Ledger(ledger_url)
    try:
        ledger.migrate()
        plan(ledger, 2)
        done = run_worker(ledger_url, tmp_path / "erp.json", None)
        assert done.returncode == 0, done.stderr
        assert "posted=2" in done.stdout
    finally:
        ledger.dispose()
