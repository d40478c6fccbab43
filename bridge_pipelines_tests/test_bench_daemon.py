"""`python -m bench daemon` at a tiny size, so the production-path harness keeps working.

The smoke test is the whole path: two tenants (SYSPRO and SAP B1), a real dagster-daemon on a
PostgreSQL instance and ledger, one file each; it takes minutes on a busy machine.
"""

import argparse
from typing import Any

import pytest

from bench import daemon


class _FakeB1Admin:
    def __init__(self, requests: list[dict[str, Any]], documents: list[dict[str, Any]]) -> None:
        self._requests = requests
        self._documents = documents

    def requests(self, since: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        return [r for r in self._requests if r["id"] > since][:limit]

    def documents(self) -> list[dict[str, Any]]:
        return self._documents


def _post(n: int, path: str, at: str, status: int = 201) -> dict[str, Any]:
    return {"id": n, "method": "POST", "path": path, "status": status, "at": at}


def test_sap_b1_documents_get_the_instant_of_the_post_that_created_them() -> None:
    """B1 documents carry no time: each takes its creating POST's instant, per kind, in order."""
    root = "/b1s/v1"
    admin = _FakeB1Admin(
        [
            _post(1, f"{root}/Login", "2026-12-06T09:00:00+00:00", 200),
            _post(2, f"{root}/PurchaseInvoices", "2026-12-06T09:00:01+00:00"),
            _post(3, f"{root}/PurchaseInvoices", "2026-12-06T09:00:02+00:00", 400),
            _post(4, f"{root}/PurchaseCreditNotes", "2026-12-06T09:00:03+00:00"),
            _post(5, f"{root}/PurchaseInvoices", "2026-12-06T09:00:04+00:00"),
        ],
        [
            {"kind": "PurchaseInvoice", "DocEntry": 2, "NumAtCard": "INV-2"},
            {"kind": "PurchaseInvoice", "DocEntry": 1, "NumAtCard": "INV-1"},
            {"kind": "PurchaseCreditNote", "DocEntry": 1, "NumAtCard": "CM-1"},
        ],
    )
    reader = daemon.PostedReader({})
    posted = reader._sap_b1(admin)  # type: ignore[arg-type]
    base = posted["INV-1"]
    assert posted["INV-2"] - base == 3  # the refused POST (400) created nothing
    assert posted["CM-1"] - base == 2


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.e2e
@pytest.mark.timeout(900)
def test_the_production_path_bench_posts_every_dropped_file(pg_url: str) -> None:
    # pg_url: skips (or fails in CI) without PostgreSQL; the bench makes its own databases.
    args = argparse.Namespace(
        files_per_tenant=1,
        duration=None,
        every=5.0,
        instance="postgres",
        workspace="grpc",
        bytecode="env",
        idle=5.0,
        timeout=400.0,
        max_runs=None,
        launcher="default",
        workers=2,
        sensors="shared",
        quiet_wait=0.0,
        settle=None,
        interval=None,
        tenants_per_sftp=25,
        keep=False,
        processes=False,
    )
    result = daemon.run_bench(args, 2)
    assert len(result.drops) == 2
    assert len(result.latencies) == 2, "every dropped invoice is posted in its sandbox"
    assert result.workers_started >= 1 and result.code_server_loads == 1
    assert result.active_cpu["run workers"] > 0
    assert all(r["status"] == "SUCCESS" for r in result.runs), [r["error"] for r in result.runs]
