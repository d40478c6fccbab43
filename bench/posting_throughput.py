"""Post 2,000 approved invoices to the SYSPRO sandbox at its rate limit, each exactly once.

    python -m bench.posting_throughput [--invoices 2000] [--rpm 600] [--latency-ms 50]

The sandbox (its own process) is limited to `--rpm` requests a minute with `--latency-ms` added
to every answer. The invoices are a Stampli CSV export of the demo company (only vendors, ledger
codes and cost centers the sandbox knows), parsed by the real parser and recorded in a fresh
SQLite ledger, mapped with the sandbox's mapping tables, planned, then posted by the real engine
(`post_pending`, called again while it claims a full batch) through the real SYSPRO adapter,
which paces itself at the limit (`max_requests_per_minute`). The request count comes from the
sandbox's own request log; duplicates from `/_sandbox/documents`.
Goal: requests/minute >= 95 % of the limit, zero duplicates, every invoice posted.
"""

import argparse
import csv
import io
import os
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import SecretStr

from bridge_pipelines.erps.base import (
    DimensionType,
    DocumentType,
    PostableInvoice,
    PostableInvoiceLine,
    SourceLineage,
)
from bridge_pipelines.erps.external_ref import external_ref
from bridge_pipelines.erps.syspro.adapter import SysproAdapter
from bridge_pipelines.erps.syspro.client import SysproSettings
from bridge_pipelines.ledger.models import DocumentIn, RecordRow
from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.ledger.states import PostingState, RecordState
from bridge_pipelines.posting.engine import PostingReport, post_pending
from bridge_pipelines.posting.plan import plan_invoices
from bridge_pipelines.sandbox.demo_company import DEMO_COMPANY
from bridge_pipelines.sandbox.erp_base.admin_client import SandboxAdmin
from bridge_pipelines.sandbox.erp_base.runner import start_sandbox
from bridge_pipelines.sandbox.stampli_sim import INVOICE_COLUMNS
from bridge_pipelines.sandbox.syspro.seed import SYSPRO_SEED
from bridge_pipelines.stampli.parse import parse_export

APP = "bridge_pipelines.sandbox.syspro.app:create_app"
TENANT = "bench"
TARGET = "syspro:DEMO"
CLAIM_LIMIT = 100
LEASE_TTL = timedelta(minutes=5)
ZONE = ZoneInfo(DEMO_COMPANY.timezone)
CENT = Decimal("0.01")


@dataclass(frozen=True)
class _Entry:
    name: str
    size: int
    mtime: int


def _known_codes() -> tuple[list[Any], list[str], list[str]]:
    """Vendors, Stampli GL codes and cost centers that map onto codes SYSPRO will accept."""
    on_hold = {c.gl_code for c in SYSPRO_SEED.ledger_codes if c.on_hold}
    vendors = [v for v in DEMO_COMPANY.vendors if v.id in SYSPRO_SEED.supplier_map]
    accounts = [
        a.code
        for a in DEMO_COMPANY.expense_accounts
        if a.code in SYSPRO_SEED.ledger_map and SYSPRO_SEED.ledger_map[a.code] not in on_hold
    ]
    return vendors, accounts, sorted(SYSPRO_SEED.analysis_map)


def stampli_csv(
    count: int,
    *,
    seed: int = 7,
    first: int = 1,
    run: str | None = None,
    codes: tuple[list[Any], list[str], list[str]] | None = None,
) -> bytes:
    """A Stampli approved-invoices export (default template) of `count` postable invoices.

    Invoice numbers stay within SYSPRO's 20 characters (the simulator's longer numbers do not
    once its serial passes 999), so every invoice is one the sandbox accepts. `codes` (demo
    vendors, Stampli GL codes, cost centers) default to those SYSPRO's seed maps.
    """
    rng = random.Random(seed)
    vendors, accounts, cost_centers = codes or _known_codes()
    today = datetime.now(ZONE).date()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(INVOICE_COLUMNS)
    run = run or f"{rng.randrange(16**3):03X}"
    for n in range(first, first + count):
        vendor = rng.choice(vendors)
        credit = rng.random() < 0.1
        sign = Decimal(-1) if credit else Decimal(1)
        lines = [
            (
                i,
                f"Bench item {n}.{i}",
                rng.choice(accounts),
                rng.choice(cost_centers) if rng.random() < 0.8 else "",
                sign * Decimal(rng.randint(500, 250_000)) / 100,
            )
            for i in range(1, rng.randint(1, 3) + 1)
        ]
        net = sum((line[4] for line in lines), Decimal(0))
        tax = (net * rng.choice((Decimal(0), Decimal("0.0825")))).quantize(CENT)
        invoice_date = today - timedelta(days=rng.randint(0, 10))
        approved = datetime.now(ZONE).replace(microsecond=0) - timedelta(minutes=n % 600)
        for number, description, gl, cc, amount in lines:
            writer.writerow(
                [
                    f"STI-BENCH-{n:06d}",
                    f"{'CM' if credit else 'INV'}-B{run}-{n:06d}",
                    vendor.id,
                    vendor.name,
                    invoice_date.isoformat(),
                    (invoice_date + timedelta(days=30)).isoformat(),
                    invoice_date.isoformat(),
                    vendor.currency,
                    str((net + tax).quantize(CENT)),
                    str(tax),
                    "",
                    str(number),
                    description,
                    gl,
                    cc,
                    str(amount.quantize(CENT)),
                    "j.doe",
                    approved.isoformat(),
                    "CreditMemo" if credit else "Invoice",
                ]
            )
    return out.getvalue().encode("utf-8")


def record_export(ledger: Ledger, data: bytes, name: str) -> int:
    """Take the export through the ledger as intake does: seen, stable, downloaded, parsed."""
    parsed = parse_export("invoices", data, source=name)
    if parsed.errors:
        raise SystemExit(f"the generated export has errors: {parsed.errors[:3]}")
    entries = [_Entry(name, len(data), int(time.time()))]
    now = datetime.now(UTC)
    settle = timedelta(seconds=30)
    ledger.observe_listing(TENANT, "invoices", "/out", entries, settle=settle, zone=ZONE, now=now)
    (row,) = ledger.observe_listing(
        TENANT, "invoices", "/out", entries, settle=settle, zone=ZONE, now=now + settle
    )
    ledger.mark_downloaded(row.id, sha256="0" * 64, size=len(data), archive_path="/bench/" + name)
    outcome = ledger.complete_parse(
        row.id,
        documents=[
            DocumentIn(
                kind=d.kind,
                identity=d.identity,
                content_hash=d.content_hash,
                rows=d.rows,
                payload=d.payload,
                document_day=d.document_day,
                amount=d.amount,
                currency=d.currency,
            )
            for d in parsed.documents
        ],
        rows_total=parsed.rows_total,
    )
    return outcome.accepted


@dataclass(frozen=True)
class SeedMaps:
    """Stampli code -> ERP code, from a sandbox's seed: what the benches map invoices with."""

    vendors: Mapping[str, str]
    ledger_codes: Mapping[str, str]
    cost_centers: Mapping[str, str]


SYSPRO_MAPS = SeedMaps(SYSPRO_SEED.supplier_map, SYSPRO_SEED.ledger_map, SYSPRO_SEED.analysis_map)


def build_invoice_with(
    maps: SeedMaps, record: RecordRow, export_name: str = "approved_invoices_bench.csv"
) -> PostableInvoice:
    """The ERP document of one recorded invoice, mapped with a sandbox's seed tables."""
    p = record.payload
    invoice_date = date.fromisoformat(str(p["invoice_date"]))
    total = Decimal(str(p["invoice_total"]))
    return PostableInvoice(
        tenant=record.tenant,
        external_ref=external_ref(
            record.tenant,
            str(p["vendor_id"]),
            str(p["invoice_number"]),
            str(p["document_type"]),
            invoice_date,
            str(p["currency"]),
            total,
        ),
        record_id=record.id,
        vendor_code=maps.vendors[str(p["vendor_id"])],
        invoice_number=str(p["invoice_number"]),
        document_type=DocumentType(str(p["document_type"])),
        invoice_date=invoice_date,
        due_date=date.fromisoformat(str(p["due_date"])),
        posting_date=invoice_date,
        currency=str(p["currency"]),
        total=total,
        tax=Decimal(str(p["tax_amount"])),
        lines=tuple(
            PostableInvoiceLine(
                ledger_code=maps.ledger_codes[str(line["gl_account"])],
                amount=Decimal(str(line["line_amount"])),
                description=str(line.get("line_description") or ""),
                dimensions=(
                    {DimensionType.COST_CENTER: maps.cost_centers[str(line["cost_center"])]}
                    if line.get("cost_center")
                    else {}
                ),
            )
            for line in p["lines"]
        ),
        lineage=SourceLineage(file_name=export_name, rows=record.rows),
    )


def build_invoice(record: RecordRow) -> PostableInvoice:
    """The SYSPRO document of one recorded invoice, mapped with the sandbox's tables."""
    return build_invoice_with(SYSPRO_MAPS, record)


def all_requests(admin: SandboxAdmin, since: int) -> list[dict[str, Any]]:
    """The sandbox's request log after id `since`, every page."""
    out: list[dict[str, Any]] = []
    while True:
        page = admin.requests(since=since, limit=5000)
        if not page:
            return out
        out.extend(page)
        since = int(page[-1]["id"])


def duplicates(documents: list[dict[str, Any]], expected_refs: set[str]) -> tuple[int, int, int]:
    """(supplier+invoice keys seen more than once, references seen more than once, missing)."""
    keys = Counter((d["Supplier"], d["Invoice"]) for d in documents)
    refs = Counter(d["Reference"] for d in documents)
    return (
        sum(c - 1 for c in keys.values() if c > 1),
        sum(c - 1 for c in refs.values() if c > 1),
        len(expected_refs - set(refs)),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=2000)
    parser.add_argument("--rpm", type=int, default=600, help="sandbox limit, requests/minute")
    parser.add_argument("--latency-ms", type=int, default=50, help="added to every answer")
    parser.add_argument(
        "--client-rpm",
        type=float,
        default=None,
        help="the adapter's pacing (default: the sandbox limit, as a tenant file would say)",
    )
    args = parser.parse_args()
    client_rpm = args.client_rpm or float(args.rpm)

    home = Path(tempfile.mkdtemp(prefix="bench-posting-"))
    try:
        with start_sandbox(APP, home / "syspro") as sandbox:
            admin = sandbox.admin
            admin.configure(requests_per_minute=args.rpm, latency_ms=args.latency_ms)
            ledger = Ledger(f"sqlite:///{home / 'ledger.db'}")
            ledger.migrate()

            started = time.perf_counter()
            data = stampli_csv(args.invoices)
            accepted = record_export(ledger, data, "approved_invoices_bench.csv")
            records = ledger.records(TENANT, kind="invoices", states=[RecordState.ACCEPTED])
            invoices = [build_invoice(r) for r in records]
            plan_invoices(ledger, TENANT, TARGET, invoices)
            prepared = time.perf_counter() - started
            print(
                f"{accepted} invoices parsed, recorded and planned in {prepared:.1f} s "
                f"({len(data) / 1e6:.1f} MB CSV)",
                flush=True,
            )

            log_before = admin.requests(since=0, limit=100_000)
            since = int(log_before[-1]["id"]) if log_before else 0
            settings = SysproSettings(
                rest_url=sandbox.base_url,
                operator="BRIDGE",
                password=SecretStr("Bridge#Demo1"),
                company="DEMO",
                max_requests_per_minute=client_rpm,
            )
            reports: list[PostingReport] = []
            cpu0 = time.process_time()
            t0 = time.perf_counter()
            with SysproAdapter(settings) as adapter:
                while True:
                    report = post_pending(
                        ledger,
                        adapter,
                        TENANT,
                        TARGET,
                        build_invoice,
                        owner="bench",
                        ttl=LEASE_TTL,
                        limit=CLAIM_LIMIT,
                    )
                    reports.append(report)
                    done = sum(r.posted for r in reports)
                    if len(reports) % 5 == 0:
                        rate = done / (time.perf_counter() - t0) * 60
                        print(f"  {done} posted, {rate:.0f}/min so far", flush=True)
                    if report.aborted or report.claimed < CLAIM_LIMIT:
                        break
            wall = time.perf_counter() - t0
            cpu = time.process_time() - cpu0

            log = all_requests(admin, since)
            documents = admin.documents()
            posted_rows = ledger.postings(TENANT, states=[PostingState.POSTED])
            open_rows = ledger.postings(
                TENANT,
                states=[s for s in PostingState if s != PostingState.POSTED],
            )
            ledger.dispose()
    finally:
        shutil.rmtree(home, ignore_errors=True)

    by_call = Counter(r["path"].rsplit("/Rest/", 1)[-1] for r in log)
    throttled = sum(1 for r in log if r["status"] == 429)
    posts = by_call.get("Transaction/Post", 0)
    expected = {i.external_ref for i in invoices}
    dup_keys, dup_refs, missing = duplicates(documents, expected)
    req_per_min = len(log) / wall * 60
    share = req_per_min / args.rpm * 100
    sends = sum(r.sends for r in reports)
    lookups = sum(r.lookups for r in reports)
    posted = sum(r.posted for r in reports)
    aborted = next((r.aborted for r in reports if r.aborted), None)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())

    rows = [
        ("invoices", f"{len(invoices)}"),
        ("sandbox limit", f"{args.rpm} req/min, +{args.latency_ms} ms per answer"),
        ("adapter pacing", f"{client_rpm:g} req/min"),
        ("wall time (posting)", f"{wall:.1f} s"),
        ("invoices posted", f"{posted} (ledger: {len(posted_rows)} posted, {len(open_rows)} not)"),
        ("invoices/minute", f"{posted / wall * 60:.1f}"),
        ("ERP requests", f"{len(log)}: " + ", ".join(f"{k} {v}" for k, v in by_call.items())),
        ("ERP requests/minute", f"{req_per_min:.1f} = {share:.1f} % of the limit"),
        ("APSTIN posts/minute", f"{posts / wall * 60:.1f}"),
        ("requests per invoice", f"{len(log) / max(1, posted):.3f}"),
        ("engine sends / lookups", f"{sends} / {lookups}"),
        ("429s seen", f"{throttled}"),
        ("sandbox documents", f"{len(documents)}"),
        ("duplicates", f"{dup_keys} by supplier+invoice, {dup_refs} by reference"),
        ("missing in SYSPRO", f"{missing}"),
        ("client CPU", f"{cpu:.1f} s ({cpu / wall * 100:.0f} % of one core)"),
        ("machine", f"{os.cpu_count()} cores, load average {load}"),
    ]
    width = max(len(k) for k, _ in rows)
    print()
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    if aborted:
        print(f"run aborted: {aborted}")
    ok = (
        share >= 95
        and dup_keys == 0
        and dup_refs == 0
        and missing == 0
        and posted == len(invoices) == len(documents)
    )
    print(f"goal >= 95 % of the limit, 0 duplicates, all posted: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
