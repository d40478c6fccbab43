"""Post approved invoices into the Infor M3 sandbox under the ION API Gateway's quota.

    python -m bench.infor_posting [--invoices 2000] [--quota 300] [--latency-ms 50]
                                  [--token-lifetime 600] [--batch 200]

The sandbox (its own process) allows `--quota` M3 API calls a minute per client (the
gateway's Quota policy: 429 without Retry-After above it) and adds `--latency-ms` to every
answer. The invoices are a Stampli export of the demo company mapped with the sandbox's
tables, recorded and planned in a fresh SQLite ledger, then posted by the real engine through
the real `InforM3Adapter`, one adapter (one OAuth2 grant) per `--batch` invoices, paced at the
quota. Tokens live `--token-lifetime` seconds, so a long run refreshes them; refreshes and
grants are counted, requests and 429s read from the sandbox's request log, duplicates from
its documents.

An invoice takes four M3 calls (LstInvBySupInv, AddHead, one bulk AddLine+ApproveInvoice,
ValidByBatchNo), so the quota allows quota/4 invoices a minute. Goal: >= 95 % of that, zero
duplicates, every invoice posted.
"""

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench.posting_throughput import (
    SeedMaps,
    all_requests,
    build_invoice_with,
    record_export,
    stampli_csv,
)
from bridge_pipelines.erps.base import PostableInvoice
from bridge_pipelines.erps.infor_m3.adapter import InforM3Adapter
from bridge_pipelines.erps.infor_m3.client import InforM3Settings, IonApiFile
from bridge_pipelines.ledger.models import RecordRow
from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.ledger.states import PostingState, RecordState
from bridge_pipelines.posting.engine import post_pending
from bridge_pipelines.posting.plan import plan_invoices
from bridge_pipelines.sandbox.demo_company import DEMO_COMPANY
from bridge_pipelines.sandbox.erp_base.runner import RunningSandbox, start_sandbox
from bridge_pipelines.sandbox.infor_m3.app import APP_FACTORY
from bridge_pipelines.sandbox.infor_m3.seed import INFOR_M3_SEED

TENANT = "bench"
TARGET = f"infor_m3:{INFOR_M3_SEED.company}"
EXPORT_NAME = "approved_invoices_bench.csv"
CALLS_PER_INVOICE = 4
MAPS = SeedMaps(
    INFOR_M3_SEED.supplier_map, INFOR_M3_SEED.account_map, INFOR_M3_SEED.cost_center_map
)


def _codes() -> tuple[list[Any], list[str], list[str]]:
    vendors = [v for v in DEMO_COMPANY.vendors if v.id in INFOR_M3_SEED.supplier_map]
    accounts = [a.code for a in DEMO_COMPANY.expense_accounts if a.code in MAPS.ledger_codes]
    return vendors, accounts, sorted(INFOR_M3_SEED.cost_center_map)


def build_invoice(record: RecordRow) -> PostableInvoice:
    """The M3 batch of one recorded invoice, mapped with the sandbox's tables."""
    return build_invoice_with(MAPS, record, EXPORT_NAME)


def _settings(sandbox: RunningSandbox, rpm: float) -> InforM3Settings:
    ionapi = json.dumps(INFOR_M3_SEED.ionapi(sandbox.base_url))
    return InforM3Settings(
        ionapi=IonApiFile.parse(ionapi, "bench"),
        company=INFOR_M3_SEED.company,
        division=INFOR_M3_SEED.division,
        max_requests_per_minute=rpm,
    )


def run(
    invoices: int, *, quota: int, latency_ms: int, lifetime: int, batch: int, client_rpm: float
) -> dict[str, Any]:
    """Post `invoices` through a quota-limited sandbox; the figures."""
    home = Path(tempfile.mkdtemp(prefix="bench-infor-"))
    try:
        with start_sandbox(APP_FACTORY, home / "infor_m3") as sandbox:
            sandbox.admin.configure(
                quota_per_minute=quota, latency_ms=latency_ms, token_lifetime_seconds=lifetime
            )
            ledger = Ledger(f"sqlite:///{home / 'ledger.db'}")
            ledger.migrate()
            record_export(ledger, stampli_csv(invoices, seed=12, codes=_codes()), EXPORT_NAME)
            records = ledger.records(TENANT, kind="invoices", states=[RecordState.ACCEPTED])
            planned = [build_invoice(r) for r in records]
            plan_invoices(ledger, TENANT, TARGET, planned)
            print(f"{len(planned)} invoices planned; posting...", flush=True)
            grants = refreshes = 0
            started = time.perf_counter()
            while True:
                with InforM3Adapter(_settings(sandbox, client_rpm)) as adapter:
                    report = post_pending(
                        ledger, adapter, TENANT, TARGET, build_invoice,
                        owner="bench", ttl=timedelta(minutes=30), limit=batch,
                    )  # fmt: skip
                    grants += adapter.client.token_grants
                    refreshes += adapter.client.token_refreshes
                done = len(ledger.postings(TENANT, states=[PostingState.POSTED]))
                minutes = (time.perf_counter() - started) / 60
                print(f"  {done} posted, {done / minutes:.1f}/min so far", flush=True)
                if report.aborted or report.claimed < batch:
                    break
            wall = time.perf_counter() - started
            requests = all_requests(sandbox.admin, 0)
            documents = [d for d in sandbox.admin.documents() if d["type"] == "invoice_batch"]
            posted = len(ledger.postings(TENANT, states=[PostingState.POSTED]))
            ledger.dispose()
    finally:
        shutil.rmtree(home, ignore_errors=True)
    api = [r for r in requests if "/m3api-rest/" in r["path"]]
    by_call = Counter(r["path"].split(";")[0].rsplit("/", 2)[-1] for r in api)
    references = Counter((d["SUNO"], d["CORI"]) for d in documents)
    allowed = quota / CALLS_PER_INVOICE
    rate = posted / (wall / 60)
    return {
        "invoices": len(planned),
        "posted": posted,
        "batches_in_m3": len(documents),
        "duplicates": sum(c - 1 for c in references.values() if c > 1),
        "wall_s": round(wall, 1),
        "api_requests": len(api),
        "api_requests_per_invoice": round(len(api) / max(posted, 1), 2),
        "calls": dict(by_call),
        "throttled_429": sum(1 for r in requests if r["status"] == 429),
        "token_requests": sum(1 for r in requests if r["path"].endswith("/token.oauth2")),
        "password_grants": grants,
        "token_refreshes": refreshes,
        "invoices_per_minute": round(rate, 1),
        "limit_allows_per_minute": round(allowed, 1),
        "share_of_limit": round(rate / allowed, 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--invoices", type=int, default=2000)
    parser.add_argument("--quota", type=int, default=300, help="M3 calls a minute per client")
    parser.add_argument("--latency-ms", type=int, default=50, help="added to every answer")
    parser.add_argument("--token-lifetime", type=int, default=600, help="seconds")
    parser.add_argument("--batch", type=int, default=200, help="invoices per adapter (grant)")
    parser.add_argument(
        "--client-share", type=float, default=0.99, help="the client paces at this share"
    )
    args = parser.parse_args(argv)
    figures = run(
        args.invoices,
        quota=args.quota,
        latency_ms=args.latency_ms,
        lifetime=args.token_lifetime,
        batch=args.batch,
        client_rpm=args.quota * args.client_share,
    )
    for key, value in figures.items():
        print(f"{key:>26}: {value}")
    ok = (
        figures["posted"] == figures["invoices"] == figures["batches_in_m3"]
        and figures["duplicates"] == 0
        and figures["share_of_limit"] >= 0.95
    )
    print("goal (>= 95 % of the limit, all posted once):", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
