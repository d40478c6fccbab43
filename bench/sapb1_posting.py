"""Post 2,000 approved invoices to the SAP B1 sandbox at its rate limit, each exactly once.

    python -m bench.sapb1_posting [--invoices 2000] [--rpm 600] [--latency-ms 50]

The SAP B1 sibling of `bench.posting_throughput` (SYSPRO). The sandbox (its own process) is
limited to `--rpm` requests a minute with `--latency-ms` added to every answer; over the limit
it answers as a B1 load balancer does (503 without Retry-After, `--throttle-status` to change).
The invoices are a Stampli export of the demo company mapped with the sandbox's tables, planned
in a fresh SQLite ledger, then posted by the real engine through the real `SapB1Adapter`
(service invoices, one session for the run), which paces itself at the limit. Requests and
logins come from the sandbox's request log; duplicates from its documents.
Goal: requests/minute >= 95 % of the limit, zero duplicates, every invoice posted, one login.
"""

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench.sapb1_common import (
    APP,
    Run,
    duplicates,
    post_all,
    prepare,
    print_rows,
    settings_for,
)
from bridge_pipelines.erps.sap_b1.adapter import SapB1Adapter
from bridge_pipelines.sandbox.erp_base.runner import start_sandbox


def run(
    invoices: int,
    *,
    rpm: int,
    latency_ms: int,
    client_rpm: float | None = None,
    throttle_status: int = 503,
    quiet: bool = False,
) -> tuple[Run, set[str]]:
    """Post `invoices` through a rate-limited sandbox; the run and the planned references."""
    home = Path(tempfile.mkdtemp(prefix="bench-sapb1-"))
    try:
        with start_sandbox(APP, home / "sap_b1") as sandbox:
            sandbox.admin.configure(
                requests_per_minute=rpm,
                latency_ms=latency_ms,
                rate_limit_status=throttle_status,
            )
            started = time.perf_counter()
            ledger, planned = prepare(home, invoices)
            if not quiet:
                print(
                    f"{len(planned)} invoices parsed, recorded and planned in "
                    f"{time.perf_counter() - started:.1f} s",
                    flush=True,
                )
            adapter = SapB1Adapter(settings_for(sandbox, rpm=client_rpm or float(rpm)))
            result = post_all(
                "service invoices",
                sandbox,
                ledger,
                adapter,
                progress=None if quiet else lambda line: print(line, flush=True),
            )
            ledger.dispose()
            return result, {i.external_ref for i in planned}
    finally:
        shutil.rmtree(home, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--invoices", type=int, default=2000)
    parser.add_argument("--rpm", type=int, default=600, help="sandbox limit, requests/minute")
    parser.add_argument("--latency-ms", type=int, default=50, help="added to every answer")
    parser.add_argument(
        "--client-rpm",
        type=float,
        default=None,
        help="the adapter's pacing (default: the sandbox limit, as a tenant file would say)",
    )
    parser.add_argument(
        "--throttle-status", type=int, default=503, help="the sandbox's over-limit answer"
    )
    args = parser.parse_args(argv)
    client_rpm = args.client_rpm or float(args.rpm)
    result, refs = run(
        args.invoices,
        rpm=args.rpm,
        latency_ms=args.latency_ms,
        client_rpm=client_rpm,
        throttle_status=args.throttle_status,
    )
    posts = sum(v for k, v in result.by_call.items() if k.startswith("POST Purchase"))
    planned = len(refs)
    dups, missing = duplicates(result.documents, refs)
    req_per_min = len(result.requests) / result.wall * 60
    share = req_per_min / args.rpm * 100
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    statuses = ", ".join(str(s) for s in sorted(result.throttle_statuses)) or "-"
    rows = [
        ("invoices", f"{planned}"),
        ("sandbox limit", f"{args.rpm} req/min, +{args.latency_ms} ms per answer"),
        ("adapter pacing", f"{client_rpm:g} req/min"),
        ("wall time (posting)", f"{result.wall:.1f} s"),
        (
            "invoices posted",
            f"{result.posted} (ledger: {result.posted_in_ledger} posted, "
            f"{result.not_posted_in_ledger} not)",
        ),
        ("invoices/minute", f"{result.posted / result.wall * 60:.1f}"),
        (
            "ERP requests",
            f"{len(result.requests)}: "
            + ", ".join(f"{k} {v}" for k, v in result.by_call.most_common()),
        ),
        ("ERP requests/minute", f"{req_per_min:.1f} = {share:.1f} % of the limit"),
        ("document posts/minute", f"{posts / result.wall * 60:.1f}"),
        ("requests per invoice", f"{len(result.requests) / max(1, result.posted):.3f}"),
        ("logins", f"{result.logins} (client count {result.client_logins})"),
        ("throttled answers", f"{result.throttled} (status {statuses})"),
        ("sandbox documents", f"{len(result.documents)}"),
        ("duplicates", f"{dups} by CardCode + our reference"),
        ("missing in SAP B1", f"{missing}"),
        ("machine", f"{os.cpu_count()} cores, load average {load}"),
    ]
    print_rows(rows)
    if result.aborted:
        print(f"run aborted: {result.aborted}")
    ok = (
        share >= 95
        and dups == 0
        and missing == 0
        and result.posted == planned == len(result.documents)
        and result.logins == 1
    )
    print(
        "goal >= 95 % of the limit, 0 duplicates, all posted, one login: "
        + ("met" if ok else "NOT met")
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
