"""The `/inbound/` CSV files Stampli imports: ERP master data in the default templates.

Written as stampli-files.md fixes them: UTF-8 without BOM, LF, a header row, RFC 4180 quoting
by the `csv` module. A spreadsheet opened on one of these files must never run a cell as a
formula, so a text cell that starts with `=`, `+`, `-`, `@`, tab, carriage return or NUL is
prefixed with `'`. Numeric columns are left alone: a credit of `-5.00` stays a number. Money and
quantities are plain decimal text (`1234.50`, never `1.2345E+3`, never a float).
"""

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal
from zoneinfo import ZoneInfo

from bridge_pipelines.erps.base import (
    DimensionType,
    ErpDimension,
    ErpGlAccount,
    ErpPurchaseOrderLine,
    ErpVendor,
)

InboundKind = Literal["vendors", "gl_accounts", "dimensions", "purchase_orders"]
Cell = str | int | Decimal | bool | date | None

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\0")
"""A text cell starting with one of these is written with a leading `'`."""

CENT = Decimal("0.01")


@dataclass(frozen=True)
class InboundLayout:
    """One inbound file's columns, in order, and which of them are numeric."""

    kind: InboundKind
    columns: tuple[str, ...]
    numeric: frozenset[str] = frozenset()


VENDORS = InboundLayout(
    "vendors",
    ("VendorId", "VendorName", "TaxId", "Currency", "PaymentTerms", "Status", "ErpVendorCode"),
)
GL_ACCOUNTS = InboundLayout("gl_accounts", ("AccountCode", "AccountName", "AccountType", "Active"))
DIMENSIONS = InboundLayout("dimensions", ("DimensionType", "Code", "Name", "Active"))
PURCHASE_ORDERS = InboundLayout(
    "purchase_orders",
    (
        "PONumber",
        "VendorId",
        "OrderDate",
        "Currency",
        "LineNumber",
        "ItemDescription",
        "Quantity",
        "UnitCost",
        "LineAmount",
        "OpenAmount",
        "Status",
    ),
    numeric=frozenset({"LineNumber", "Quantity", "UnitCost", "LineAmount", "OpenAmount"}),
)
LAYOUTS: Mapping[InboundKind, InboundLayout] = {
    layout.kind: layout for layout in (VENDORS, GL_ACCOUNTS, DIMENSIONS, PURCHASE_ORDERS)
}

DIMENSION_TYPE_NAMES: Mapping[DimensionType, str] = {
    DimensionType.COST_CENTER: "CostCenter",
    DimensionType.SUBACCOUNT: "Subaccount",
    DimensionType.PROJECT: "Project",
    DimensionType.BRANCH: "Branch",
}
"""`DimensionType` column values, spelled like Stampli's other enumerations (`CreditMemo`)."""

_ACCOUNT_TYPES: Mapping[str, str] = {
    "expense": "Expense",
    "e": "Expense",
    "asset": "Asset",
    "a": "Asset",
    "liability": "Liability",
    "l": "Liability",
    "revenue": "Revenue",
    "income": "Revenue",
    "r": "Revenue",
    "equity": "Equity",
    "capital": "Equity",
    "c": "Equity",
}
"""ERP account types onto Stampli's five; one-letter codes are SYSPRO's `GenMaster` ones."""


def neutralise(text: str) -> str:
    """`text`, prefixed with `'` when a spreadsheet would take it for a formula."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def plain_decimal(value: object) -> str:
    """A number as plain decimal text: no exponent, no float rounding.

    Raises:
        TypeError: not an int or a finite Decimal (a float has no exact decimal text).
    """
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise TypeError(f"a numeric cell must be an int or Decimal, got {value!r}")
    if isinstance(value, Decimal) and not value.is_finite():
        raise TypeError(f"a numeric cell must be finite, got {value!r}")
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def _text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal | int):
        return plain_decimal(value)
    return neutralise(str(value))


def render_csv(layout: InboundLayout, rows: Iterable[Mapping[str, Cell]]) -> bytes:
    """The file's bytes: header row, then one line per row, in the layout's column order.

    Raises:
        ValueError: a row names a column the layout does not have.
        TypeError: a numeric column holds something other than an int or Decimal.
    """
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    # QUOTE_MINIMAL quotes only the characters of the line terminator ("\n"): a bare carriage
    # return would be written raw, and Stampli or a spreadsheet would read it as a line break,
    # splitting the record (and starting a new row with whatever text follows, `=cmd` included).
    # A row holding one is written with every field quoted, which reads back the same.
    quoted = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writerow(layout.columns)
    known = set(layout.columns)
    for row in rows:
        unknown = set(row) - known
        if unknown:
            raise ValueError(f"{layout.kind}: unknown columns {sorted(unknown)}")
        cells = []
        for column in layout.columns:
            value = row.get(column)
            if column in layout.numeric and value is not None:
                cells.append(plain_decimal(value))
            else:
                cells.append(_text(value))
        (quoted if any("\r" in cell for cell in cells) else writer).writerow(cells)
    return out.getvalue().encode("utf-8")


def inbound_name(kind: InboundKind, now: datetime, zone: ZoneInfo, seq: int = 0) -> str:
    """`<kind>_<YYYYMMDD>_<HHMMSS>[_<seq>].csv`, the time in the tenant's zone.

    Raises:
        ValueError: `now` is naive (whose clock would it be?).
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must be timezone-aware, got {now!r}")
    stamp = now.astimezone(zone).strftime("%Y%m%d_%H%M%S")
    return f"{kind}_{stamp}{f'_{seq}' if seq else ''}.csv"


def stampli_account_type(value: str | None) -> str:
    """One of Stampli's account types when the ERP's value is a known alias, else as given."""
    if value is None:
        return ""
    return _ACCOUNT_TYPES.get(value.strip().lower(), value.strip())


def vendor_rows(
    vendors: Iterable[ErpVendor], stampli_ids: Mapping[str, str] | None = None
) -> list[dict[str, Cell]]:
    """One row per ERP supplier, sorted by code.

    `VendorId` is the Stampli vendor already linked to the supplier (`stampli_ids`, ERP code ->
    Stampli id); a supplier Stampli does not know yet goes out under its ERP code.
    """
    ids = stampli_ids or {}
    return [
        {
            "VendorId": ids.get(v.code, v.code),
            "VendorName": v.name,
            "TaxId": v.tax_id,
            "Currency": v.currency,
            "PaymentTerms": v.terms_code,
            "Status": "Active" if v.active else "Inactive",
            "ErpVendorCode": v.code,
        }
        for v in sorted(vendors, key=lambda v: v.code)
    ]


def gl_account_rows(accounts: Iterable[ErpGlAccount]) -> list[dict[str, Cell]]:
    """One row per GL account, sorted by code."""
    return [
        {
            "AccountCode": a.code,
            "AccountName": a.name,
            "AccountType": stampli_account_type(a.account_type),
            "Active": a.active,
        }
        for a in sorted(accounts, key=lambda a: a.code)
    ]


def dimension_rows(dimensions: Iterable[ErpDimension]) -> list[dict[str, Cell]]:
    """One row per analysis code, sorted by type then code."""
    return [
        {
            "DimensionType": DIMENSION_TYPE_NAMES.get(d.type, str(d.type)),
            "Code": d.code,
            "Name": d.name,
            "Active": d.active,
        }
        for d in sorted(dimensions, key=lambda d: (str(d.type), d.code))
    ]


def at_least_cents(value: Decimal) -> Decimal:
    """`value` with two decimals at least: ERPs answer `4200.0` for 4,200.00; `0.125` stays."""
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -2:
        return value.quantize(CENT)
    return value


def open_amount(line: ErpPurchaseOrderLine) -> Decimal:
    """What is still to be received on a PO line, in money, to the cent (never below zero).

    A line without a quantity is a service line (SAP B1 service POs carry amounts only): the
    ERP listed it as open, so its whole amount is open.
    """
    if line.quantity == 0:
        return line.amount.quantize(CENT, rounding=ROUND_HALF_UP)
    left = max(line.quantity - line.received_quantity, Decimal(0))
    return (line.amount * left / line.quantity).quantize(CENT, rounding=ROUND_HALF_UP)


def purchase_order_rows(
    lines: Iterable[ErpPurchaseOrderLine], stampli_ids: Mapping[str, str] | None = None
) -> list[dict[str, Cell]]:
    """One row per open PO line, sorted by PO and line.

    `OrderDate` is empty when the ERP does not say. A service line (no quantity) leaves
    `Quantity` and `UnitCost` empty rather than claiming 0 units.
    """
    ids = stampli_ids or {}
    return [
        {
            "PONumber": p.po_number,
            "VendorId": ids.get(p.vendor_code, p.vendor_code),
            "OrderDate": p.order_date,
            "Currency": p.currency,
            "LineNumber": p.line,
            "ItemDescription": p.description,
            "Quantity": p.quantity if p.quantity else None,
            "UnitCost": at_least_cents(p.unit_price) if p.quantity else None,
            "LineAmount": at_least_cents(p.amount),
            "OpenAmount": open_amount(p),
            "Status": "PartiallyReceived" if p.received_quantity > 0 else "Open",
        }
        for p in sorted(lines, key=lambda p: (p.po_number, p.line))
    ]


def vendors_csv(
    vendors: Iterable[ErpVendor], stampli_ids: Mapping[str, str] | None = None
) -> bytes:
    """`vendors_<ts>.csv` content."""
    return render_csv(VENDORS, vendor_rows(vendors, stampli_ids))


def gl_accounts_csv(accounts: Iterable[ErpGlAccount]) -> bytes:
    """`gl_accounts_<ts>.csv` content."""
    return render_csv(GL_ACCOUNTS, gl_account_rows(accounts))


def dimensions_csv(dimensions: Iterable[ErpDimension]) -> bytes:
    """`dimensions_<ts>.csv` content."""
    return render_csv(DIMENSIONS, dimension_rows(dimensions))


def purchase_orders_csv(
    lines: Iterable[ErpPurchaseOrderLine], stampli_ids: Mapping[str, str] | None = None
) -> bytes:
    """`purchase_orders_<ts>.csv` content."""
    return render_csv(PURCHASE_ORDERS, purchase_order_rows(lines, stampli_ids))
