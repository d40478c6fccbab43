"""Sample exports for the parser tests: the fixture files, and CSV text built from rows."""

import csv
import io
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "stampli"
INVOICES_CSV = "approved_invoices_20261121_141500.csv"
INVOICES_XML = "approved_invoices_20261121_141500.xml"
PAYMENTS_CSV = "payments_20261121_141500.csv"
VENDORS_CSV = "vendors_20261121_141500.csv"
GL_CSV = "gl_accounts_20261121_141500.csv"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def rows_of(name: str) -> list[dict[str, str]]:
    """The records of a fixture CSV, as dicts keyed by column."""
    text = fixture(name).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def to_csv(
    rows: list[dict[str, str]],
    header: list[str] | None = None,
    *,
    bom: bool = False,
    crlf: bool = False,
) -> bytes:
    """Write rows as a Stampli CSV (RFC 4180 quoting, only where needed)."""
    header = header or list(rows[0])
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n" if crlf else "\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(column, "") for column in header])
    return (b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode("utf-8")


def invoice_rows() -> list[dict[str, str]]:
    return rows_of(INVOICES_CSV)


def with_changes(rows: list[dict[str, str]], index: int, **changes: str) -> list[dict[str, str]]:
    """A copy of `rows` where row `index` (0-based) has `changes` applied."""
    copy = [dict(r) for r in rows]
    copy[index].update(changes)
    return copy
