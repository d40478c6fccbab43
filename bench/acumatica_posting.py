"""Post 2,000 approved invoices as Acumatica AP bills against the licence throttle, each once.

    python -m bench.acumatica_posting [--invoices 2000] [--rpm 600] [--latency-ms 50] [--release]

The Acumatica sandbox (its own process) runs its licence throttle at `--rpm` requests a minute
(past half of it, requests are spaced over the rest of the minute; more than 20 waiting are
declined with 429 and no Retry-After) with `--latency-ms` added to every answer. The invoices
are a Stampli CSV export of the demo company mapped with the sandbox's tables, parsed,
recorded in a fresh SQLite ledger and planned, then posted by the real engine through the real
`AcumaticaAdapter` (cookie session, paced at the limit as the tenant's
`max_requests_per_minute` says). Each bill costs two requests (the seed's lookup by vendor +
VendorRef, then the create-only PUT), three more with `--release` (ReleaseBill and its
polls): what the limit allows is `rpm / requests per bill` bills a minute.
Goal: bills/minute >= 95 % of what the limit allows, zero duplicates, every invoice posted.
"""

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bench.posting_throughput import (
    SeedMaps,
    all_requests,
    build_invoice_with,
    record_export,
    stampli_csv,
)
from bridge_pipelines.erps.acumatica.adapter import AcumaticaAdapter
from bridge_pipelines.erps.acumatica.client import AcumaticaSettings
from bridge_pipelines.erps.base import PostableInvoice
from bridge_pipelines.ledger.models import RecordRow
from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.ledger.states import PostingState, RecordState
from bridge_pipelines.posting.engine import PostingReport, post_pending
from bridge_pipelines.posting.plan import plan_invoices
from bridge_pipelines.sandbox.acumatica.app import APP_FACTORY
from bridge_pipelines.sandbox.acumatica.seed import (
    ACUMATICA_SEED,
    API_PASSWORD,
    API_USER,
    CENTER_SUBACCOUNTS,
    TENANT,
)
from bridge_pipelines.sandbox.demo_company import DEMO_COMPANY
from bridge_pipelines.sandbox.erp_base.runner import start_sandbox

TENANT_ID = "bench"
TARGET = f"acumatica:{TENANT}"
EXPORT_NAME = "approved_invoices_bench.csv"
CLAIM_LIMIT = 100
MAPS = SeedMaps(ACUMATICA_SEED.vendor_map, ACUMATICA_SEED.account_map, CENTER_SUBACCOUNTS)


def known_codes() -> tuple[list[Any], list[str], list[str]]:
    """Demo vendors, Stampli GL codes and cost centers that map onto active Acumatica codes."""
    active = {a["AccountCD"] for a in ACUMATICA_SEED.accounts if a["Active"]}
    vendors = [v for v in DEMO_COMPANY.vendors if v.id in ACUMATICA_SEED.vendor_map]
    accounts = [
        a.code for a in DEMO_COMPANY.expense_accounts if MAPS.ledger_codes.get(a.code) in active
    ]
    return vendors, accounts, sorted(CENTER_SUBACCOUNTS)


def build_invoice(record: RecordRow) -> PostableInvoice:
    return build_invoice_with(MAPS, record, EXPORT_NAME)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--invoices", type=int, default=2000)
    parser.add_argument("--rpm", type=int, default=600, help="licence limit, requests/minute")
    parser.add_argument("--latency-ms", type=int, default=50, help="added to every answer")
    parser.add_argument("--release", action="store_true", help="release every bill too")
    args = parser.parse_args(argv)
    home = Path(tempfile.mkdtemp(prefix="bench-acumatica-"))
    try:
        with start_sandbox(APP_FACTORY, home / "acumatica") as sandbox:
            sandbox.admin.configure(
                licence_requests_per_minute=args.rpm, latency_ms=args.latency_ms
            )
            ledger = Ledger(f"sqlite:///{home / 'ledger.db'}")
            ledger.migrate()
            record_export(ledger, stampli_csv(args.invoices, seed=13, codes=known_codes()),
                          EXPORT_NAME)  # fmt: skip
            records = ledger.records(TENANT_ID, kind="invoices", states=[RecordState.ACCEPTED])
            planned = [build_invoice(r) for r in records]
            plan_invoices(ledger, TENANT_ID, TARGET, planned)
            print(f"{len(planned)} invoices parsed, recorded and planned", flush=True)
            adapter = AcumaticaAdapter(
                AcumaticaSettings(
                    base_url=sandbox.base_url, tenant=TENANT, version="25.200.001",
                    branch="HQ", username=API_USER, password=SecretStr(API_PASSWORD),
                    max_requests_per_minute=float(args.rpm),
                ),
                release=args.release,
            )  # fmt: skip
            since = all_requests(sandbox.admin, 0)
            mark = int(since[-1]["id"]) if since else 0
            reports: list[PostingReport] = []
            started = time.perf_counter()
            with adapter:
                while True:
                    report = post_pending(
                        ledger, adapter, TENANT_ID, TARGET, build_invoice, owner="bench",
                        ttl=timedelta(minutes=5), limit=CLAIM_LIMIT,
                    )  # fmt: skip
                    reports.append(report)
                    done = sum(r.posted for r in reports)
                    if len(reports) % 5 == 0:
                        rate = done / (time.perf_counter() - started) * 60
                        print(f"  {done} posted, {rate:.0f} bills/min so far", flush=True)
                    if report.aborted or report.claimed < CLAIM_LIMIT:
                        break
            wall = time.perf_counter() - started
            requests = all_requests(sandbox.admin, mark)
            documents = sandbox.admin.documents()
            posted_ledger = len(ledger.postings(TENANT_ID, states=[PostingState.POSTED]))
            ledger.dispose()
    finally:
        shutil.rmtree(home, ignore_errors=True)
    posted = sum(r.posted for r in reports)
    refs = {i.external_ref for i in planned}
    keys = Counter(
        (d["Vendor"], str(d.get("Description") or "").split(" ", 1)[0]) for d in documents
    )
    dups = sum(c - 1 for c in keys.values() if c > 1)
    missing = len(refs - {ref for _, ref in keys})
    per_bill = 5 if args.release else 2
    allowed = args.rpm / per_bill
    bills_min = posted / wall * 60
    share = bills_min / allowed * 100
    by_call = Counter(f"{r['method']} {r['path'].rsplit('/', 1)[-1]}" for r in requests)
    throttled = sum(1 for r in requests if r.get("status") == 429)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    rows = [
        ("invoices", str(len(planned))),
        ("licence limit", f"{args.rpm} req/min, +{args.latency_ms} ms per answer"),
        ("wall time (posting)", f"{wall:.1f} s"),
        ("bills posted", f"{posted} (ledger: {posted_ledger} posted)"),
        ("bills/minute", f"{bills_min:.1f} of {allowed:.0f} the limit allows "
                         f"({per_bill} requests a bill) = {share:.1f} %"),
        ("ERP requests", f"{len(requests)}: "
                         + ", ".join(f"{k} {v}" for k, v in by_call.most_common())),
        ("ERP requests/minute", f"{len(requests) / wall * 60:.1f} = "
                                f"{len(requests) / wall * 60 / args.rpm * 100:.1f} % of the limit"),
        ("429s seen", str(throttled)),
        ("duplicates", f"{dups} by vendor + our reference"),
        ("missing in Acumatica", str(missing)),
        ("machine", f"{os.cpu_count()} cores, load average {load}"),
    ]  # fmt: skip
    width = max(len(k) for k, _ in rows)
    print()
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    ok = share >= 95 and dups == 0 and missing == 0 and posted == len(planned)
    print("goal >= 95 % of the bills the limit allows, 0 duplicates, all posted: "
          + ("met" if ok else "NOT met"))  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
