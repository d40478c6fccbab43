"""Bounded parsing: hostile exports cost at most a stated budget of memory and time.

Each parse runs in a fresh interpreter (`bounded.py`) whose address space is limited to what it
already uses plus the budget `limits.py` states, `MEMORY_BASE + MEMORY_MULTIPLE x file size +
MEMORY_PER_RECORD x records`, plus `VIRTUAL_SLACK` for address space reserved but not used.
Past it the child dies and prints nothing; within it, the file is refused (naming the file and
why), or parsed with its errors capped and summarised, and the good invoices still flow. Time
bounds are generous for a loaded 2-core machine.
"""

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bridge_pipelines.stampli.invoices import FIELDS
from bridge_pipelines.stampli.limits import (
    MAX_CELL_BYTES,
    MAX_ROW_ERRORS,
    MEMORY_BASE,
    MEMORY_MULTIPLE,
    MEMORY_PER_RECORD,
)
from bridge_pipelines_tests.support.stampli_builders import INVOICES_CSV, fixture, rows_of, to_csv

# The limit is on address space, not RSS: allocators reserve more than they touch (a new malloc
# arena is a 64 MB reservation), so the child gets this much on top of the stated budget.
VIRTUAL_SLACK = 64 * 1024 * 1024
SECONDS = 60.0  # per parse, child start-up included; a refusal takes milliseconds
HEADER = [f.column for f in FIELDS]
XML_HEAD = b'<?xml version="1.0" encoding="UTF-8"?>\n<StampliExport kind="ApprovedInvoices">'


def budget(size: int, records: int = 0) -> int:
    return MEMORY_BASE + MEMORY_MULTIPLE * size + MEMORY_PER_RECORD * records


def run_bounded(tmp_path: Path, name: str, data: bytes, records: int = 0) -> dict[str, Any]:
    """Parse `data` as invoices in a child limited to its budget; its JSON report."""
    path = tmp_path / name
    path.write_bytes(data)
    command = [
        sys.executable,
        "-m",
        "bridge_pipelines_tests.hostile.bounded",
        "invoices",
        str(path),
        name,
        str(budget(len(data), records) + VIRTUAL_SLACK),
    ]
    env = dict(os.environ, POLARS_MAX_THREADS="2", RUST_BACKTRACE="0", MALLOC_ARENA_MAX="2")
    # BOUNDED_CHILD_CHECKOUT=<another checkout> runs that checkout's parser (before/after).
    cwd = os.environ.get("BOUNDED_CHILD_CHECKOUT") or None
    if cwd:
        env["PYTHONPATH"] = cwd
    done = subprocess.run(
        command, check=False, capture_output=True, text=True, timeout=SECONDS, env=env, cwd=cwd
    )
    assert done.returncode == 0 and done.stdout.strip(), (
        f"the parse of {name} ({len(data):,} bytes) did not finish within "
        f"{budget(len(data), records) / 2**20:.0f} MB: exit {done.returncode}\n"
        f"{done.stderr[-2000:]}"
    )
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def test_a_header_of_400_kb_of_commas_is_refused_naming_the_column_count(tmp_path: Path) -> None:
    # Before: polars sized itself on the first record and took 710 MB for these 400 KB.
    data = b"InvoiceId" + b"," * 400_000 + b"\n" + b"1" + b"," * 400_000 + b"\n"
    report = run_bounded(tmp_path, "approved_invoices_20261121_141500.csv", data)
    assert report["outcome"] == "refused"
    assert report["message"] == (
        "approved_invoices_20261121_141500.csv: the header has 400,001 columns; at most 200 "
        "are read (this export has 19)"
    )


def test_100k_empty_xml_invoices_are_summarised_not_listed(tmp_path: Path) -> None:
    # Before: 500,000 of them (5 MB) took 2.4 GB and 33-54 s, and 7 million row errors;
    # 100,000 need about 500 MB.
    count = 100_000
    data = XML_HEAD + b"<Invoice/>" * count + b"</StampliExport>\n"
    report = run_bounded(tmp_path, "approved_invoices_20261121_141500.xml", data, count)
    assert report["outcome"] == "parsed"
    assert report["rows_total"] == report["rows_rejected"] == count
    errors = report["errors"]
    assert len(errors) == MAX_ROW_ERRORS + 1
    assert errors[0] == [1, "Invoice/@id", "is required but empty"]
    row, field, summary = errors[-1]
    assert row is None and field is None
    assert summary.startswith("and 1,399,000 more row errors of these kinds: field ")
    assert "field Invoice/@id (99,928)" in summary
    assert summary.endswith(f"only the first {MAX_ROW_ERRORS:,} of a file are kept")


def test_a_huge_cell_refuses_its_row_and_the_other_invoices_flow(tmp_path: Path) -> None:
    rows = rows_of(INVOICES_CSV)
    bad = dict(rows[0], LineDescription="x" * (8 * 1024 * 1024))
    data = to_csv([bad, *rows[1:]], HEADER)
    report = run_bounded(tmp_path, INVOICES_CSV, data)
    assert report["outcome"] == "parsed"
    assert report["documents"] >= 1
    assert [
        1,
        "LineDescription",
        f"is 8,388,608 bytes long; a cell may hold at most {MAX_CELL_BYTES:,} bytes",
    ] in report["errors"]
    assert all(len(message) < 500 for _, _, message in report["errors"])


def test_many_bad_csv_rows_keep_the_first_errors_and_one_summary(tmp_path: Path) -> None:
    good = rows_of(INVOICES_CSV)
    bad = [
        dict(good[0], InvoiceId=f"BAD-{n}", InvoiceNumber=f"B-{n}", InvoiceDate="not a date")
        for n in range(5_000)
    ]
    data = to_csv([*good, *bad], HEADER)
    report = run_bounded(tmp_path, INVOICES_CSV, data, len(good) + len(bad))
    assert report["outcome"] == "parsed"
    assert report["rows_total"] == len(good) + len(bad)
    assert report["rows_accepted"] == report["rows_total"] - report["rows_rejected"] > 0
    errors = report["errors"]
    assert len(errors) == MAX_ROW_ERRORS + 1
    assert errors[0][0] == len(good) + 1 and errors[0][1] == "InvoiceDate"
    assert errors[-1][2].startswith("and 4,000 more row errors of these kinds: field InvoiceDate")


def test_one_invoice_number_under_20k_invoice_ids_is_not_quadratic(tmp_path: Path) -> None:
    row = rows_of(INVOICES_CSV)[0]
    row["InvoiceTotal"] = str(Decimal(row["LineAmount"]) + Decimal(row["TaxAmount"]))
    twins = [dict(row, InvoiceId=f"STI-{n}") for n in range(20_000)]
    data = to_csv(twins, HEADER)
    report = run_bounded(tmp_path, INVOICES_CSV, data, len(twins))
    assert report["outcome"] == "parsed" and report["rows_rejected"] == len(twins)
    first = report["errors"][0][2]
    assert "appears under more than one InvoiceId" in first
    assert first.endswith("and 19,994 more"), first
    assert report["seconds"] < SECONDS / 2


@pytest.mark.parametrize("name", [INVOICES_CSV])
def test_the_fixture_parses_within_a_small_budget(tmp_path: Path, name: str) -> None:
    report = run_bounded(tmp_path, name, fixture(name))
    assert report["outcome"] == "parsed" and report["errors"] == []
