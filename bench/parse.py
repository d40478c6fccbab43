"""Parse benchmark: our invoice parser against raw polars and a pandas + pandera baseline.

`python -m bench.parse [--lines 1000000] [--runs 3]` generates a messy invoice CSV (BOM, CRLF,
quoted commas/quotes/newlines, Unicode, credit memos) under bench/out/, then times, best of
`--runs`:

- raw `polars.read_csv(path, infer_schema=False)` (every column a string): the floor;
- `parse_export` (read, validate every field and invoice rule, pandera on the accepted frame,
  identity and content hash per invoice): the product path into canonical rows;
- `result.documents` (building the per-invoice Python objects the ledger stores), reported on its
  own line because it is lazy;
- pandas `read_csv(dtype=str)` + Decimal via `apply` + a pandera pandas schema: the baseline.

Peak memory of `parse_export` is measured in a fresh subprocess (its VmHWM after parsing minus
its RSS before reading the file, so the file's bytes count), median of three, so the other runs
cannot inflate it.
"""

import argparse
import csv
import gc
import json
import os
import random
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from bridge_pipelines.sandbox.stampli_sim import INVOICE_COLUMNS

OUT = Path(__file__).resolve().parent / "out"

HEADER = list(INVOICE_COLUMNS)

VENDORS = [
    ("Acme Components", "USD"),
    ('Müller & Söhne, "GmbH"', "EUR"),
    ("Société Générale d'Équipement", "EUR"),
    ("東京精密株式会社", "JPY"),
    ("Nordic Fjäll AB", "SEK"),
    ("O'Brien, Walsh & Co", "GBP"),
]
DESCRIPTIONS = [
    "Capacitors, 10uF",
    'Cable "Cat6", 2m',
    "Service fee\nNovember",
    "Ersatzteile für Förderband",
    "Café crème – réunion",
    "ネジ M4",
    "Freight",
    "Consulting, phase 2 — on-site",
]


def _money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def generate_invoice_csv(path: Path, lines: int, seed: int = 7) -> None:
    """Write a valid, messy approved-invoices CSV with exactly `lines` invoice lines."""
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(HEADER)
        written = 0
        n = 0
        base = date(2026, 1, 1)
        while written < lines:
            n += 1
            count = min(rng.randint(1, 9), lines - written)
            vendor_no = rng.randrange(5000)
            vendor_name, currency = VENDORS[vendor_no % len(VENDORS)]
            credit = rng.random() < 0.05
            sign = -1 if credit else 1
            amounts = [sign * rng.randint(100, 500_000) for _ in range(count)]
            tax = sign * (sum(abs(a) for a in amounts) // 10)
            total = sum(amounts) + tax
            invoice_day = base + timedelta(days=rng.randrange(330))
            due = invoice_day + timedelta(days=30)
            posting = "" if rng.random() < 0.3 else (invoice_day + timedelta(days=1)).isoformat()
            hour = rng.randrange(24)
            header = [
                f"STI-{n:08d}",
                f"{'CM' if credit else 'A'}-{n}",
                f"V-{vendor_no:04d}",
                vendor_name,
                invoice_day.isoformat(),
                due.isoformat(),
                posting,
                currency,
                _money(total),
                _money(tax),
                f"PO-{rng.randrange(10**6)}" if rng.random() < 0.6 else "",
            ]
            approved = [
                rng.choice(["j.doe", "m.müller", "a.kowalska"]),
                f"{(invoice_day + timedelta(days=1)).isoformat()}T{hour:02d}:02:11-05:00",
                "CreditMemo" if credit else "Invoice",
            ]
            for i, amount in enumerate(amounts, start=1):
                writer.writerow(
                    [
                        *header,
                        str(i),
                        rng.choice(DESCRIPTIONS),
                        str(6000 + rng.randrange(200)),
                        rng.choice(["CC-EAST", "CC-WEST", ""]),
                        _money(amount),
                        *approved,
                    ]
                )
            written += count


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _best(fn: Callable[[], Any], runs: int) -> tuple[float, float, Any]:
    """Best wall time and best CPU time (all threads) over `runs`, and the last result.

    CPU time is reported too because this machine is shared: under load, wall time mostly
    measures the neighbours, while CPU seconds still compare the work done.
    """
    best = best_cpu = float("inf")
    result: Any = None
    for _ in range(runs):
        result = None
        gc.collect()
        start, cpu = time.perf_counter(), _cpu()
        result = fn()
        best = min(best, time.perf_counter() - start)
        best_cpu = min(best_cpu, _cpu() - cpu)
    return best, best_cpu, result


def _raw_polars(path: Path) -> Any:
    import polars as pl

    return pl.read_csv(path, infer_schema=False)


def _ours(path: Path) -> Any:
    from bridge_pipelines.stampli.parse import parse_export

    return parse_export("invoices", path.read_bytes(), source=path.name)


def _pandas_baseline(path: Path) -> Any:
    import pandas as pd
    import pandera.pandas as ppa

    money = r"^-?\d{1,16}(\.\d{1,2})?$"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    schema = ppa.DataFrameSchema(
        {
            "InvoiceId": ppa.Column(str, nullable=False),
            "InvoiceNumber": ppa.Column(str, ppa.Check.str_length(1, 30)),
            "VendorId": ppa.Column(str),
            "Currency": ppa.Column(str, ppa.Check.str_matches(r"^[A-Z]{3}$")),
            "InvoiceTotal": ppa.Column(str, ppa.Check.str_matches(money)),
            "TaxAmount": ppa.Column(str, ppa.Check.str_matches(money)),
            "LineAmount": ppa.Column(str, ppa.Check.str_matches(money)),
            "LineNumber": ppa.Column(str, ppa.Check.str_matches(r"^[1-9]\d*$")),
            "InvoiceDate": ppa.Column(str, ppa.Check.str_matches(r"^\d{4}-\d{2}-\d{2}$")),
            "DueDate": ppa.Column(str, ppa.Check.str_matches(r"^\d{4}-\d{2}-\d{2}$")),
            "DocumentType": ppa.Column(str, ppa.Check.isin(["Invoice", "CreditMemo"])),
        },
        strict=False,
    )
    schema.validate(frame, lazy=True)
    for column in ("InvoiceTotal", "TaxAmount", "LineAmount"):
        frame[column] = frame[column].apply(Decimal)
    for column in ("InvoiceDate", "DueDate"):
        frame[column] = pd.to_datetime(frame[column], format="%Y-%m-%d")
    frame["ApprovedAt"] = pd.to_datetime(frame["ApprovedAt"], utc=True, format="ISO8601")
    sums = frame.groupby("InvoiceId")["LineAmount"].sum()
    heads = frame.groupby("InvoiceId")[["InvoiceTotal", "TaxAmount"]].first()
    bad = heads.index[(sums + heads["TaxAmount"]) != heads["InvoiceTotal"]]
    return frame, len(bad)


def _memory_probe(path: Path) -> dict[str, Any]:
    """Run parse_export in a fresh interpreter and report its peak RSS (VmHWM) growth."""
    code = (
        "import json, sys, psutil\n"
        "import polars, pandera.polars, lxml.etree\n"
        "from bridge_pipelines.stampli.parse import parse_export\n"
        "from pathlib import Path\n"
        "p = Path(sys.argv[1])\n"
        "before = psutil.Process().memory_info().rss\n"
        "r = parse_export('invoices', p.read_bytes(), source=p.name)\n"
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the (big) parent at exec.
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0]\n"
        "peak = int(hwm.split()[1]) * 1024\n"
        "print(json.dumps({'before': before, 'peak': peak, 'rows': r.rows_accepted}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)], check=True, capture_output=True, text=True
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def export_of(lines: int) -> Path:
    """The generated export of `lines` invoice lines, made once and kept under `OUT`."""
    path = OUT / f"approved_invoices_{lines}.csv"
    if not path.exists():
        print(f"generating {path} ...", flush=True)
        generate_invoice_csv(path, lines)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-pandas", action="store_true", help="skip the pandas baseline")
    args = parser.parse_args(argv)

    path = export_of(args.lines)
    size = path.stat().st_size
    print(f"file: {path.name}, {size / 1e6:.1f} MB, {args.lines:,} invoice lines")

    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    raw_s, raw_cpu, raw = _best(lambda: _raw_polars(path), args.runs)
    assert raw.height == args.lines, raw.height
    del raw
    ours_s, ours_cpu, result = _best(lambda: _ours(path), args.runs)
    assert result.rows_accepted == args.lines and not result.errors, result.errors[:3]
    docs_start, docs_cpu_start = time.perf_counter(), _cpu()
    documents = result.documents
    docs_s, docs_cpu = time.perf_counter() - docs_start, _cpu() - docs_cpu_start
    n_docs = len(documents)
    del result, documents
    gc.collect()
    pandas_s = pandas_cpu = float("nan")
    if not args.no_pandas:
        pandas_s, pandas_cpu, baseline = _best(
            lambda: _pandas_baseline(path), max(1, args.runs - 1)
        )
        assert baseline[1] == 0
        del baseline
    deltas = sorted((m["peak"] - m["before"]) for m in (_memory_probe(path) for _ in range(3)))
    peak_delta = deltas[1]

    rows = [
        ("polars.read_csv (all strings)", raw_s, raw_cpu),
        ("parse_export (canonical rows)", ours_s, ours_cpu),
        ("  + result.documents (lazy)", ours_s + docs_s, ours_cpu + docs_cpu),
        ("pandas + pandera baseline", pandas_s, pandas_cpu),
    ]
    print(f"\n{'step':34} {'seconds':>8} {'x raw':>7} {'rows/s':>12} {'cpu s':>7} {'x raw':>7}")
    for name, seconds, cpu in rows:
        rate = args.lines / seconds if seconds == seconds else float("nan")
        print(
            f"{name:34} {seconds:8.2f} {seconds / raw_s:7.2f} {rate:12,.0f} "
            f"{cpu:7.2f} {cpu / raw_cpu:7.2f}"
        )
    print(f"\ndocuments built: {n_docs:,} invoices ({docs_s:.2f} s)")
    print(
        f"parse_export vs raw polars: {ours_s / raw_s:.2f}x wall, {ours_cpu / raw_cpu:.2f}x CPU "
        "(goal <= 2.0x)"
    )
    if pandas_s == pandas_s:
        print(
            f"pandas baseline vs parse_export: {pandas_s / ours_s:.2f}x slower wall, "
            f"{pandas_cpu / ours_cpu:.2f}x CPU (goal >= 3x)"
        )
    print(
        f"peak RSS growth of parse_export (fresh process, file bytes included, median of 3): "
        f"{peak_delta / 1e6:.0f} MB = {peak_delta / size:.1f}x file size (goal <= 8x; "
        f"range {deltas[0] / size:.1f}x-{deltas[-1] / size:.1f}x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
