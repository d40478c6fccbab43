"""ANSI X12 004010: 810 (invoice) from AP invoices, 830 (planning schedule) from purchase orders.

Written here, segment by segment: the Python X12 libraries on PyPI parse and validate (pyx12,
which the tests run on every file) but none is a maintained writer. Facts from erp-facts.md
section 6 [C]: separators `~ * >`; ISA fixed width (106 characters with its terminator),
ISA11 `U`, ISA12 `00401`; GS01 `IN` for 810 and `PS` for 830, GS08 `004010`; SE01 counts the
segments from ST to SE; GE01 the sets, IEA01 the groups; TDS01 is N2 (cents, no point); CTT01
the number of IT1 (810) or LIN (830) segments.

Determinism: the ISA/GS date and time come from the data (the newest `ChangedAt` the file
holds), never the clock, and the control number is the export's, kept in the ledger; so a
re-send of the same window gives the same bytes. One interchange per file, one group, one
transaction set per invoice (810) or per supplier (830). The group control number is the
interchange's; set control numbers count from 0001 within it.
"""

import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from itertools import groupby

from bridge_pipelines.errors import BadInputError
from bridge_pipelines.partners.models import X12Identity
from bridge_pipelines.partners.periods import Period
from bridge_pipelines.partners.records import InvoiceLine, PoLine
from bridge_pipelines.partners.writers.base import BuiltFile
from bridge_pipelines.partners.writers.totals import Totals

SEGMENT, ELEMENT, COMPONENT = "~", "*", ">"
_RESERVED = str.maketrans({SEGMENT: " ", ELEMENT: " ", COMPONENT: " ", "\r": " ", "\n": " "})
# X12 unit-of-measure codes (data element 355) for SYSPRO's units; others must be mapped.
UNITS = {"EA": "EA", "KG": "KG", "BX": "BX", "HR": "HR", "LB": "LB", "CS": "CA", "M": "MR"}


@dataclass(frozen=True)
class Envelope:
    """What the ISA and GS segments carry for one file."""

    identity: X12Identity
    control_number: int
    stamp: datetime  # the data's newest change: the interchange's date and time


def _text(value: str, limit: int) -> str:
    """Free text in X12's characters, cut to `limit` (names, descriptions).

    Accents are dropped (`Müller` -> `Muller`); other non-ASCII characters and the separators
    are removed.
    """
    ascii_text = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode("ascii")
    return " ".join(ascii_text.translate(_RESERVED).split())[:limit]


def _ident(value: str, limit: int, what: str, where: str) -> str:
    """An identifier: refused when it holds a separator or is too long, never cut."""
    if (
        not value
        or value != value.translate(_RESERVED)
        or len(value) > limit
        or not value.isascii()
    ):
        raise BadInputError(
            f"{where}: {what} {value!r} cannot be written in X12 (1 to {limit} ASCII "
            "characters, no ~ * > or line breaks)"
        )
    return value


def _decimal(value: Decimal) -> str:
    """An X12 `R` value: plain decimal, no exponent, no trailing zeros after the point."""
    text = format(value.normalize(), "f")
    return text if text != "-0" else "0"


def _unit(uom: str, where: str) -> str:
    code = UNITS.get(uom.strip().upper())
    if code is None:
        raise BadInputError(f"{where}: unit of measure {uom!r} has no X12 code")
    return code


class _Set:
    """One transaction set's segments; `close` appends SE with the count."""

    def __init__(self, kind: str, control: int) -> None:
        self.control = f"{control:04d}"
        self.segments = [f"ST*{kind}*{self.control}"]

    def add(self, *elements: str) -> None:
        while len(elements) > 1 and elements[-1] == "":
            elements = elements[:-1]
        self.segments.append(ELEMENT.join(elements))

    def close(self) -> list[str]:
        self.segments.append(f"SE*{len(self.segments) + 1}*{self.control}")
        return self.segments


def _interchange(
    envelope: Envelope, functional_id: str, sets: Iterator[list[str]], line_ending: str
) -> bytes:
    ident = envelope.identity
    number = envelope.control_number
    stamp = envelope.stamp
    isa = ELEMENT.join(
        (
            "ISA",
            "00",
            " " * 10,
            "00",
            " " * 10,
            ident.sender_qualifier,
            ident.sender_id.ljust(15),
            ident.receiver_qualifier,
            ident.receiver_id.ljust(15),
            stamp.strftime("%y%m%d"),
            stamp.strftime("%H%M"),
            "U",
            "00401",
            f"{number:09d}",
            "0",
            ident.usage,
            COMPONENT,
        )
    )
    assert len(isa) + 1 == 106, "ISA must be 106 characters with its terminator"
    segments = [
        isa,
        ELEMENT.join(
            (
                "GS",
                functional_id,
                ident.sender_id.strip(),
                ident.receiver_id.strip(),
                stamp.strftime("%Y%m%d"),
                stamp.strftime("%H%M"),
                str(number),
                "X",
                "004010",
            )
        ),
    ]
    count = 0
    for transaction in sets:
        segments.extend(transaction)
        count += 1
    segments.append(f"GE*{count}*{number}")
    segments.append(f"IEA*1*{number:09d}")
    terminator = SEGMENT + line_ending
    return (terminator.join(segments) + terminator).encode("ascii", errors="strict")


def write_810(
    lines: Iterable[InvoiceLine],
    envelope: Envelope,
    suppliers: Mapping[str, str],
    buyer_name: str,
    file: str,
    line_ending: str = "",
) -> BuiltFile:
    """One 810 per AP invoice (lines arrive ordered by supplier, invoice, line)."""
    totals = Totals("ap_invoices")

    def sets() -> Iterator[list[str]]:
        keyed = groupby(lines, key=lambda x: (x.supplier, x.invoice))
        for number, ((supplier, invoice), group) in enumerate(keyed, start=1):
            items = list(group)
            first = items[0]
            where = f"{file}: invoice {supplier}/{invoice}"
            st = _Set("810", number)
            st.add(
                "BIG",
                first.invoice_date.strftime("%Y%m%d"),
                _ident(invoice, 22, "invoice number", where),
                "",
                _ident(first.purchase_order, 22, "purchase order", where)
                if first.purchase_order
                else "",
            )
            st.add("CUR", "SE", _ident(first.currency, 3, "currency", where))
            name = _text(suppliers.get(supplier, supplier), 60) or supplier
            st.add("N1", "SE", name, "92", _ident(supplier, 80, "supplier", where))
            st.add("N1", "BT", _text(buyer_name, 60))
            st.add("DTM", "011", first.invoice_date.strftime("%Y%m%d"))
            total = Decimal("0.00")
            for item in items:
                line_where = f"{where} line {item.line}"
                totals.add(item, {})
                total += item.amount
                st.add(
                    "IT1",
                    str(item.line),
                    _decimal(item.quantity),
                    _unit(item.uom, line_where),
                    _decimal(item.unit_price),
                    "",
                    "VP",
                    _ident(item.stock_code, 48, "stock code", line_where),
                )
                st.add("PID", "F", "", "", "", _text(item.description, 80))
            cents = (total * 100).quantize(Decimal(1))
            st.add("TDS", str(int(cents)))
            st.add("CTT", str(len(items)))
            yield st.close()

    data = _interchange(envelope, "IN", sets(), line_ending)
    return BuiltFile(data, totals.rows, totals.as_dict())


def write_830(
    lines: Iterable[PoLine],
    envelope: Envelope,
    suppliers: Mapping[str, str],
    period: Period,
    file: str,
    line_ending: str = "",
) -> BuiltFile:
    """One 830 per supplier: each stock code's ordered quantities by due date (planning).

    BFR01 `05` (replace: each period's schedule replaces the last), BFR04 `DL`, BFR05 `A`,
    horizon = the period's first day to the latest due date; FST02 `D` planning, FST03 `D`
    discrete; SHP `02` cumulative quantity since `051` the horizon start, as the pyx12 830
    guide requires a SHP loop per item.
    """
    totals = Totals("purchase_orders")
    ordered = sorted(lines, key=lambda x: (x.supplier, x.stock_code, x.due_date, x.purchase_order))

    def sets() -> Iterator[list[str]]:
        for number, (supplier, group) in enumerate(groupby(ordered, key=lambda x: x.supplier), 1):
            items = list(group)
            where = f"{file}: supplier {supplier}"
            st = _Set("830", number)
            start = period.first_day.strftime("%Y%m%d")
            end = max(i.due_date for i in items).strftime("%Y%m%d")
            st.add(
                "BFR",
                "05",
                f"{period.compact}-{_ident(supplier, 20, 'supplier', where)}",
                period.compact,
                "DL",
                "A",
                start,
                end,
                envelope.stamp.strftime("%Y%m%d"),
            )
            name = _text(suppliers.get(supplier, supplier), 60) or supplier
            st.add("N1", "SU", name, "92", _ident(supplier, 80, "supplier", where))
            lin_count = 0
            for code, item_lines in groupby(items, key=lambda x: x.stock_code):
                entries = list(item_lines)
                lin_count += 1
                line_where = f"{where} item {code}"
                st.add("LIN", "", "BP", _ident(code, 48, "stock code", line_where))
                st.add("UIT", _unit(entries[0].uom, line_where))
                cumulative = Decimal(0)
                for entry in entries:
                    totals.add(entry, {})
                    cumulative += entry.quantity
                    st.add(
                        "FST",
                        _decimal(entry.quantity),
                        "D",
                        "D",
                        entry.due_date.strftime("%Y%m%d"),
                    )
                st.add("SHP", "02", _decimal(cumulative), "051", start)
            st.add("CTT", str(lin_count))
            yield st.close()

    data = _interchange(envelope, "PS", sets(), line_ending)
    return BuiltFile(data, totals.rows, totals.as_dict())
