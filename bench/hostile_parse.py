"""Hostile-parse benchmark: what the two files of issue 16 cost the parser.

`python -m bench.hostile_parse [--invoices 500000] [--commas 400000]` writes under bench/out/

- a CSV whose header is `InvoiceId` and `--commas` commas (400 KB), and
- an XML export of `--invoices` empty `<Invoice/>` elements (5 MB for 500,000), and
- a CSV of one invoice line whose `LineDescription` is 8 MB,

then parses each as approved invoices in a fresh interpreter and prints: file size, outcome
(refused, or the row errors kept), seconds, peak RSS growth (VmHWM minus the RSS of the warmed-up
interpreter before reading the file, so the file's bytes count) and that growth as a multiple of
the file size. Before the bounds of `stampli/limits.py`: 710 MB for the CSV; 2.5 GB, 41 s and
7 million row errors for the XML (docs/design-notes.md, "Bounded parsing").
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from bridge_pipelines.sandbox.stampli_sim import INVOICE_COLUMNS

OUT = Path(__file__).resolve().parent / "out"

_CHILD = """
import json, sys, time
from pathlib import Path
from bridge_pipelines.errors import FileRejectedError
from bridge_pipelines.stampli.parse import parse_export

def status(field):
    line = [l for l in open('/proc/self/status') if l.startswith(field + ':')][0]
    return int(line.split()[1]) * 1024

warm = b'InvoiceId\\nSTI-1\\n'
try:
    parse_export('invoices', warm, source='warm.csv')
except FileRejectedError:
    pass
path = Path(sys.argv[1])
before = status('VmRSS')
data = path.read_bytes()
started = time.perf_counter()
try:
    result = parse_export('invoices', data, source=path.name)
    outcome = f'{len(result.errors):,} row errors kept, {result.rows_rejected:,} rows refused'
except FileRejectedError as exc:
    outcome = 'refused: ' + str(exc)[:120]
seconds = time.perf_counter() - started
print(json.dumps({'outcome': outcome, 'seconds': seconds, 'growth': status('VmHWM') - before}))
"""


def _probe(path: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path)], check=True, capture_output=True, text=True
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=500_000)
    parser.add_argument("--commas", type=int, default=400_000)
    args = parser.parse_args(argv)
    OUT.mkdir(exist_ok=True)
    csv_path = OUT / "hostile_header.csv"
    csv_path.write_bytes(b"InvoiceId" + b"," * args.commas + b"\n")
    xml_path = OUT / "hostile_empty_invoices.xml"
    xml_path.write_bytes(
        b'<?xml version="1.0" encoding="UTF-8"?>\n<StampliExport kind="ApprovedInvoices">'
        + b"<Invoice/>" * args.invoices
        + b"</StampliExport>\n"
    )
    cell_path = OUT / "hostile_cell.csv"
    header = ",".join(INVOICE_COLUMNS)
    cells = [
        b'"' + b"x" * (8 * 1024 * 1024) + b'"' if column == "LineDescription" else b"1"
        for column in INVOICE_COLUMNS
    ]
    cell_path.write_bytes(f"{header}\n".encode() + b",".join(cells) + b"\n")
    for path in (csv_path, xml_path, cell_path):
        size = path.stat().st_size
        got = _probe(path)
        print(
            f"{path.name}: {size / 1e6:.1f} MB, {got['outcome']}; {got['seconds']:.1f} s, "
            f"peak RSS growth {got['growth'] / 2**20:.0f} MB ({got['growth'] / size:.0f}x the file)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
