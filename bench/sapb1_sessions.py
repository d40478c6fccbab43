"""What session reuse saves on SAP B1: one login per batch against a login around every post.

    python -m bench.sapb1_sessions [--invoices 2000] [--latency-ms 50] [--login-latency-ms 300]

The same 2,000 invoices are posted twice into the SAP B1 sandbox (reset in between), each time
from a fresh ledger through the real engine:

1. `SapB1Adapter` as shipped: one Service Layer session for the batch (logged in at the first
   post, out at the end).
2. A client that logs in and out around each post (`LoginPerCallAdapter`, defined here only for
   the comparison): what a naive integration does.

Every answer carries `--latency-ms`; Login also `--login-latency-ms` (real Service Layer logins
take hundreds of milliseconds: the sandbox's `login_latency_ms`). No rate limit unless `--rpm`
(the cost measured is the session's, not the limiter's). Reported per client: wall time,
invoices/minute, logins (from the sandbox's request log), posts per login, duplicates.
"""

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench.sapb1_common import APP, Run, duplicates, post_all, prepare, print_rows, settings_for
from bridge_pipelines.erps.base import ErpDocumentRef, PostableInvoice
from bridge_pipelines.erps.sap_b1.adapter import SapB1Adapter
from bridge_pipelines.sandbox.erp_base.runner import start_sandbox


class LoginPerCallAdapter(SapB1Adapter):
    """The comparison client: logs in before and out after every post (never shipped)."""

    def post_invoice(self, invoice: PostableInvoice) -> ErpDocumentRef:
        self.client.login()
        try:
            return super().post_invoice(invoice)
        finally:
            self.client.logout()


def run(
    invoices: int,
    *,
    latency_ms: int,
    login_latency_ms: int,
    rpm: int = 0,
    quiet: bool = False,
) -> tuple[list[Run], set[str]]:
    """Both clients over the same invoices; their runs and the planned references."""
    home = Path(tempfile.mkdtemp(prefix="bench-sapb1-sessions-"))

    def say(line: str) -> None:
        if not quiet:
            print(line, flush=True)

    runs: list[Run] = []
    refs: set[str] = set()
    try:
        with start_sandbox(APP, home / "sap_b1") as sandbox:
            for label, adapter_class in (
                ("one session per batch", SapB1Adapter),
                ("login per post", LoginPerCallAdapter),
            ):
                sandbox.admin.reset()
                sandbox.admin.configure(
                    requests_per_minute=rpm,
                    latency_ms=latency_ms,
                    login_latency_ms=login_latency_ms,
                )
                folder = home / label.replace(" ", "_")
                folder.mkdir()
                started = time.perf_counter()
                ledger, planned = prepare(folder, invoices)
                refs = {i.external_ref for i in planned}
                took = time.perf_counter() - started
                say(f"{label}: {len(planned)} invoices planned in {took:.1f} s")
                adapter = adapter_class(settings_for(sandbox, rpm=float(rpm) if rpm else None))
                runs.append(post_all(label, sandbox, ledger, adapter, progress=say))
                ledger.dispose()
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return runs, refs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--invoices", type=int, default=2000)
    parser.add_argument("--latency-ms", type=int, default=50, help="added to every answer")
    parser.add_argument(
        "--login-latency-ms", type=int, default=300, help="added to Login on top of that"
    )
    parser.add_argument("--rpm", type=int, default=0, help="sandbox limit (0 = none)")
    args = parser.parse_args(argv)
    runs, refs = run(
        args.invoices,
        latency_ms=args.latency_ms,
        login_latency_ms=args.login_latency_ms,
        rpm=args.rpm,
    )
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    rows = [
        ("invoices", f"{len(refs)}"),
        (
            "sandbox",
            f"+{args.latency_ms} ms per answer, Login +{args.login_latency_ms} ms more, "
            + (f"{args.rpm} req/min" if args.rpm else "no rate limit"),
        ),
    ]
    ok = True
    for result in runs:
        dups, missing = duplicates(result.documents, refs)
        ok = ok and dups == 0 and missing == 0 and result.posted == len(refs)
        rows += [
            (f"[{result.label}]", ""),
            (
                "  wall time",
                f"{result.wall:.1f} s "
                f"({result.wall / max(1, result.posted) * 1000:.0f} ms per invoice)",
            ),
            ("  invoices/minute", f"{result.posted / result.wall * 60:.1f}"),
            ("  logins", f"{result.logins} (client count {result.client_logins})"),
            ("  posts per login", f"{result.posted / max(1, result.logins):.1f}"),
            (
                "  ERP requests",
                f"{len(result.requests)}: "
                + ", ".join(f"{k} {v}" for k, v in result.by_call.most_common()),
            ),
            ("  posted / duplicates / missing", f"{result.posted} / {dups} / {missing}"),
        ]
    reuse, per_call = runs
    rows += [
        (
            "session reuse saves",
            f"{per_call.wall - reuse.wall:.1f} s = "
            f"{(per_call.wall - reuse.wall) / max(1, reuse.posted) * 1000:.0f} ms per invoice; "
            f"{per_call.wall / reuse.wall:.2f}x the wall time, "
            f"{per_call.logins - reuse.logins} fewer logins",
        ),
        ("machine", f"{os.cpu_count()} cores, load average {load}"),
    ]
    print_rows(rows)
    ok = ok and reuse.logins == 1 and per_call.logins == per_call.posted
    print("goal one login for the batch, no duplicates either way: " + ("met" if ok else "NOT met"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
