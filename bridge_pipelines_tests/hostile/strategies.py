"""Hypothesis strategies for hostile input: valid Stampli invoices, hostile cell values, mutations.

A generated export mixes `GOOD-*` invoices (valid by stampli-files.md, with awkward but legal
text: quotes, commas, line breaks, any Unicode, 16-digit amounts) and `BAD-*` invoices (a valid
invoice with one to three cells replaced by hostile values), so a test can assert both that
nothing crashes and that the good invoices flow whatever their neighbours look like.
"""

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from hypothesis import strategies as st

from bridge_pipelines.stampli.invoices import FIELDS

NAME = "approved_invoices_20261121_141500.csv"
HEADER = [f.column for f in FIELDS]
HEADER_FIELDS = {
    "InvoiceId",
    "InvoiceNumber",
    "VendorId",
    "VendorName",
    "InvoiceDate",
    "DueDate",
    "PostingDate",
    "Currency",
    "InvoiceTotal",
    "TaxAmount",
    "PONumber",
    "ApprovedBy",
    "ApprovedAt",
    "DocumentType",
}
OPTIONAL_COLUMNS = [f.column for f in FIELDS if f.optional_column]
TYPE_OF = {f.column: f.type for f in FIELDS}
MAX_CENTS = 10**18 - 1  # 16 digits before the decimal point, the documented limit

# Text a field may legally hold: anything but NUL (a NUL makes the whole file binary) and lone
# surrogates (not encodable). Line breaks, quotes, commas, bidi and formula starters included.
legal_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=40,
)
awkward_text = st.one_of(
    legal_text,
    st.sampled_from(
        [
            'Cable "Cat6", 2m\nsecond line',
            "=cmd|' /C calc'!A0",
            "+SUM(1,2)",
            "@A1",
            "-2+3",
            "\u202eevil\u202c.csv",
            "line\r\nbreak",
            "lone\rcarriage",
            "東京精密 — Förderband",
            "\ufeffbom inside",
            " padded ",
            "x" * 5000,
        ]
    ),
)

MONEY_HOSTILE = [
    "NaN",
    "nan",
    "Inf",
    "-Infinity",
    "inf",
    "1e308",
    "1E3",
    "1e-2",
    "-0",
    "+1.00",
    "\u22121.00",  # minus sign
    "１２３.００",  # full-width digits
    "١٢٣٫٤٥",  # Arabic-Indic digits and decimal separator
    "१२३",  # Devanagari digits
    "1,000.00",
    "1.000,00",
    "1 000.00",
    "1_000.00",
    "0x1F",
    "12.345",
    "99999999999999999",
    "9999999999999999.99",
    "-9999999999999999.99",
    "10000000000000000.00",
    "99999999999999999999999999999999999999999",
    ".5",
    "5.",
    "--1",
    "1-",
    "$1.00",
    "1.00 ",
    "  1.00",
    "(1.00)",
    "1.00\n",
    "",
    "   ",
]
DATE_HOSTILE = [
    "2026-02-30",
    "2026-13-01",
    "2026-00-10",
    "0000-01-01",
    "9999-12-31",
    "10000-01-01",
    "2026-1-1",
    "2026-11-20T00:00:00",
    "20261120",
    "2026/11/20",
    "２０２６-１１-２０",
    "٢٠٢٦-١١-٢٠",
    "-2026-11-20",
    "2026-11-20 ",
    "+2026-11-20",
    "",
]
TIMESTAMP_HOSTILE = [
    "2026-11-21T13:02:11",
    "2026-11-21T25:00:00Z",
    "2026-11-21T13:02:11+24:00",
    "2026-11-21T13:02:11-99:99",
    "2026-11-21T13:02:60Z",
    "2026-11-21T13:02:11.1234567891Z",
    "2026-11-21 13:02:11Z",
    "9999-12-31T23:59:59-14:00",
    "0000-01-01T00:00:00Z",
    "2026-11-21T13:02:11+05:30:00",
    "2026-02-29T00:00:00Z",
    "２０２６-11-21T13:02:11Z",
    "",
]
INT_HOSTILE = ["0", "-1", "2147483648", "99999999999", "1.0", "1e2", "１", "٣", " 1", "+1", "0x1"]
ENUM_HOSTILE = ["invoice", "INVOICE", "Credit Memo", "Invoice ", "CreditMemo\n", "Invoıce", ""]
CURRENCY_HOSTILE = ["usd", "US", "USDD", "ÜSD", "ＵＳＤ", "US D", "", "EUR\n"]
HOSTILE_BY_TYPE = {
    "money": MONEY_HOSTILE,
    "date": DATE_HOSTILE,
    "timestamp": TIMESTAMP_HOSTILE,
    "int": INT_HOSTILE,
    "enum": ENUM_HOSTILE,
    "pattern": CURRENCY_HOSTILE,
}


def money_text(cents: int, style: str) -> str:
    """Exact decimal text of `cents`; "short" drops trailing zeros ("100", "100.5")."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    if style == "short":
        if frac == 0:
            return f"{sign}{whole}"
        if frac % 10 == 0:
            return f"{sign}{whole}.{frac // 10}"
    return f"{sign}{whole}.{frac:02d}"


@dataclass
class Invoice:
    """One generated invoice: its header and line cells as written, and whether it is valid."""

    invoice_id: str
    header: dict[str, str]
    lines: list[dict[str, str]]
    good: bool
    total_cents: int = 0
    line_cents: list[int] = field(default_factory=list)
    tax_cents: int = 0

    def rows(self) -> list[dict[str, str]]:
        return [{**self.header, **line} for line in self.lines]


_OFFSETS = ["Z", "+00:00", "-05:00", "+05:30", "+0100", "-1200", "+14:00"]


@st.composite
def valid_invoice(draw: st.DrawFn, invoice_id: str, number: str) -> Invoice:
    """An invoice every rule of stampli-files.md accepts, with exact amounts up to 16 digits."""
    credit = draw(st.booleans())
    total = draw(st.one_of(st.integers(1, MAX_CENTS), st.sampled_from([1, 100, MAX_CENTS])))
    tax = draw(st.integers(0, total))
    count = draw(st.integers(1, 3))
    cuts = sorted(
        draw(st.lists(st.integers(0, total - tax), min_size=count - 1, max_size=count - 1))
    )
    bounds = [0, *cuts, total - tax]
    lines = [bounds[i + 1] - bounds[i] for i in range(count)]
    sign = -1 if credit else 1
    style = draw(st.sampled_from(["2dp", "short"]))
    invoice_day = draw(st.dates(min_value=date(1000, 1, 1), max_value=date(9998, 12, 31)))
    due_day = invoice_day + timedelta(days=draw(st.integers(0, 365)))
    posting = draw(st.one_of(st.just(""), st.dates(date(1000, 1, 1), date(9999, 12, 31))))
    approved = draw(
        st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2999, 12, 30))
    ).replace(microsecond=0)
    header = {
        "InvoiceId": invoice_id,
        "InvoiceNumber": number,
        "VendorId": draw(st.sampled_from(["V-0042", "V-0107", "V-0300"])),
        "VendorName": draw(awkward_text),
        "InvoiceDate": invoice_day.isoformat(),
        "DueDate": due_day.isoformat(),
        "PostingDate": posting if isinstance(posting, str) else posting.isoformat(),
        "Currency": draw(st.sampled_from(["USD", "EUR", "JPY", "GBP"])),
        "InvoiceTotal": money_text(sign * total, style),
        "TaxAmount": money_text(sign * tax, style),
        "PONumber": draw(st.sampled_from(["", "PO-7781", "=PO"])),
        "ApprovedBy": draw(st.sampled_from(["j.doe", "m.müller", "=evil()", "\u202eadmin"])),
        "ApprovedAt": approved.isoformat() + draw(st.sampled_from(_OFFSETS)),
        "DocumentType": "CreditMemo" if credit else "Invoice",
    }
    numbers = draw(st.permutations(range(1, count + 1)))
    rows = [
        {
            "LineNumber": str(numbers[i]),
            "LineDescription": draw(awkward_text),
            "GLAccount": draw(st.sampled_from(["6100", "6200", "@6300"])),
            "CostCenter": draw(st.sampled_from(["", "CC-EAST", "+CC"])),
            "LineAmount": money_text(sign * lines[i], style),
        }
        for i in range(count)
    ]
    return Invoice(
        invoice_id=invoice_id,
        header=header,
        lines=rows,
        good=True,
        total_cents=sign * total,
        line_cents=[sign * c for c in lines],
        tax_cents=sign * tax,
    )


def _not_good(value: str) -> str:
    """Keep a hostile id or number from colliding with a good invoice's (which would refuse it)."""
    return "x" + value if value.startswith(("GOOD-", "N-")) else value


@st.composite
def hostile_cell(draw: st.DrawFn, column: str) -> str:
    pool = HOSTILE_BY_TYPE.get(TYPE_OF[column], [])
    choices = [legal_text, st.sampled_from(["", "   ", "\n", '"', '""', ",", "\ufeff"])]
    if pool:
        choices.insert(0, st.sampled_from(pool))
    value = draw(st.one_of(*choices))
    return _not_good(value) if column in ("InvoiceId", "InvoiceNumber") else value


@st.composite
def mutated_invoice(draw: st.DrawFn, invoice_id: str, number: str) -> Invoice:
    """A valid invoice with one to three cells replaced by hostile values."""
    invoice = draw(valid_invoice(invoice_id, number))
    invoice.good = False
    for _ in range(draw(st.integers(1, 3))):
        column = draw(st.sampled_from(HEADER))
        value = draw(hostile_cell(column))
        line = draw(st.integers(0, len(invoice.lines) - 1))
        if column in HEADER_FIELDS:
            # Header fields change on one line only (inconsistent) or on all (a wrong value).
            if draw(st.booleans()):
                invoice.header = {**invoice.header, column: value}
                continue
            invoice.lines[line] = {**invoice.lines[line], column: value}
        else:
            invoice.lines[line] = {**invoice.lines[line], column: value}
    return invoice


@dataclass
class Export:
    """A generated file: its invoices in file order and how it was written."""

    invoices: list[Invoice]
    columns: list[str]
    quoting: int
    newline: str
    bom: bool
    encoding: str
    data: bytes
    rows: list[tuple[str, dict[str, str]]]  # (invoice id, cells) per record, in file order

    @property
    def utf8_text(self) -> bool:
        """True when the bytes are UTF-8 without NUL: the file itself must not be refused."""
        if "\x00" in "".join(v for _, cells in self.rows for v in cells.values()):
            return False
        try:
            self.data.removeprefix(b"\xef\xbb\xbf").decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True


def render(rows: list[dict[str, str]], columns: list[str], *, quoting: int, newline: str) -> str:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator=newline, quoting=quoting)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(c, "") for c in columns])
    return out.getvalue()


@st.composite
def exports(draw: st.DrawFn, max_good: int = 4, max_bad: int = 3) -> Export:
    """A Stampli invoices CSV mixing good and mutated invoices, written in a drawn dialect."""
    goods = [
        draw(valid_invoice(f"GOOD-{i}", f"N-{i}")) for i in range(draw(st.integers(0, max_good)))
    ]
    bads = [
        draw(mutated_invoice(f"BAD-{i}", f"B-{i}")) for i in range(draw(st.integers(0, max_bad)))
    ]
    invoices = draw(st.permutations([*goods, *bads]))
    columns = list(HEADER)
    for optional in OPTIONAL_COLUMNS:
        if draw(st.booleans()) and all(
            row.get(optional, "") == "" for inv in invoices for row in inv.rows()
        ):
            columns.remove(optional)
    columns = draw(st.permutations(columns)) if draw(st.booleans()) else columns
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    bom = draw(st.booleans())
    encoding = draw(st.sampled_from(["utf-8"] * 6 + ["utf-16", "latin-1", "cp1252"]))
    rows = [(inv.invoice_id, row) for inv in invoices for row in inv.rows()]
    text = render([r for _, r in rows], columns, quoting=quoting, newline=newline)
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        encoding, data = "utf-8", text.encode("utf-8")
    if bom and encoding == "utf-8":
        data = b"\xef\xbb\xbf" + data
    return Export(
        invoices=list(invoices),
        columns=list(columns),
        quoting=quoting,
        newline=newline,
        bom=bom,
        encoding=encoding,
        data=data,
        rows=rows,
    )


@st.composite
def byte_mutations(draw: st.DrawFn, data: bytes) -> bytes:
    """`data` with a few byte-level edits: insert, delete, overwrite, duplicate, truncate."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["insert", "delete", "overwrite", "duplicate", "truncate"]))
        at = draw(st.integers(0, len(out)))
        if op == "insert":
            out[at:at] = draw(
                st.one_of(
                    st.binary(min_size=1, max_size=8),
                    st.sampled_from(
                        [b'"', b",", b"\n", b"\r", b"\r\n", b"\xef\xbb\xbf", b"\x00", b"\xff"]
                    ),
                )
            )
        elif op == "delete":
            del out[at : at + draw(st.integers(1, 16))]
        elif op == "overwrite" and at < len(out):
            out[at] = draw(st.integers(0, 255))
        elif op == "duplicate":
            span = bytes(out[at : at + draw(st.integers(1, 64))])
            out[at:at] = span
        elif op == "truncate":
            del out[at:]
    return bytes(out)
