"""The inbound CSV files as Stampli (and a spreadsheet) would read them back."""

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bridge_pipelines.erps.base import (
    DimensionType,
    ErpDimension,
    ErpGlAccount,
    ErpPurchaseOrderLine,
    ErpVendor,
)
from bridge_pipelines.masterdata import inbound


def read_back(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


def po_line(**overrides: Any) -> ErpPurchaseOrderLine:
    values: dict[str, Any] = {
        "po_number": "PO-7781",
        "line": 1,
        "vendor_code": "SUP00001",
        "description": "Capacitors, 10uF",
        "quantity": Decimal("10"),
        "unit_price": Decimal("12.50"),
        "amount": Decimal("125.00"),
        "currency": "USD",
    }
    values.update(overrides)
    return ErpPurchaseOrderLine(**values)


def test_vendor_file_has_the_documented_header_and_lf_only() -> None:
    data = inbound.vendors_csv([ErpVendor("SUP00001", "Acme Components", currency="USD")])
    assert data.splitlines()[0] == (
        b"VendorId,VendorName,TaxId,Currency,PaymentTerms,Status,ErpVendorCode"
    )
    assert b"\r" not in data and data.endswith(b"\n")
    assert not data.startswith(b"\xef\xbb\xbf"), "no BOM"


def test_commas_quotes_newlines_and_unicode_survive_a_round_trip() -> None:
    names = ['Café "Le Gourmet", SARL', "東京精密株式会社", "Line one\nline two", "Müller & Söhne"]
    vendors = [ErpVendor(f"SUP{i:05d}", name) for i, name in enumerate(names)]
    rows = read_back(inbound.vendors_csv(vendors))
    assert [r["VendorName"] for r in rows] == names
    assert "東京精密株式会社".encode() in inbound.vendors_csv(vendors)


@pytest.mark.parametrize("lead", ["=", "+", "-", "@", "\t", "\r", "\0"])
def test_a_formula_looking_text_cell_is_neutralised(lead: str) -> None:
    name = f'{lead}HYPERLINK("http://evil.example")'
    rows = read_back(inbound.vendors_csv([ErpVendor("SUP00001", name)]))
    assert rows[0]["VendorName"] == "'" + name


def test_a_formula_in_a_later_cell_or_mid_text_is_left_alone() -> None:
    rows = read_back(inbound.vendors_csv([ErpVendor("SUP00001", "A=B+C", tax_id="12-345")]))
    assert rows[0]["VendorName"] == "A=B+C" and rows[0]["TaxId"] == "12-345"


def test_every_text_column_is_neutralised_not_only_names() -> None:
    rows = read_back(inbound.gl_accounts_csv([ErpGlAccount("=1+1", "@SUM(A1)", "Expense")]))
    assert rows[0]["AccountCode"] == "'=1+1" and rows[0]["AccountName"] == "'@SUM(A1)"


def test_numeric_columns_keep_their_sign_and_digits() -> None:
    line = po_line(
        quantity=Decimal("-2"),
        unit_price=Decimal("12.50"),
        amount=Decimal("-25.00"),
        description="-return of damaged goods",
    )
    (row,) = read_back(inbound.purchase_orders_csv([line]))
    assert row["Quantity"] == "-2" and row["LineAmount"] == "-25.00"
    assert row["UnitCost"] == "12.50" and row["LineNumber"] == "1"
    assert row["ItemDescription"] == "'-return of damaged goods"


def test_money_is_plain_decimal_text_never_an_exponent() -> None:
    line = po_line(amount=Decimal("1E+3"), unit_price=Decimal("100.000"), quantity=Decimal("1E+1"))
    (row,) = read_back(inbound.purchase_orders_csv([line]))
    assert row["LineAmount"] == "1000.00" and row["Quantity"] == "10"
    assert row["UnitCost"] == "100.000"


def test_money_an_erp_sent_as_4200_point_0_is_written_to_the_cent() -> None:
    line = po_line(amount=Decimal("4200.0"), unit_price=Decimal("0.125"))
    (row,) = read_back(inbound.purchase_orders_csv([line]))
    assert (row["LineAmount"], row["UnitCost"]) == ("4200.00", "0.125")


def test_a_float_in_a_numeric_column_is_refused() -> None:
    with pytest.raises(TypeError):
        inbound.render_csv(inbound.PURCHASE_ORDERS, [{"Quantity": 1.5}])  # type: ignore[dict-item]


def test_open_amount_counts_what_is_not_received_yet() -> None:
    lines = [
        po_line(line=1),
        po_line(line=2, received_quantity=Decimal("4")),
        po_line(line=3, received_quantity=Decimal("12")),
    ]
    rows = read_back(inbound.purchase_orders_csv(lines, {"SUP00001": "V-0001"}))
    assert [r["OpenAmount"] for r in rows] == ["125.00", "75.00", "0.00"]
    assert [r["Status"] for r in rows] == ["Open", "PartiallyReceived", "PartiallyReceived"]
    assert {r["VendorId"] for r in rows} == {"V-0001"}


def test_order_date_is_iso_and_empty_when_the_erp_does_not_say() -> None:
    rows = read_back(
        inbound.purchase_orders_csv([po_line(order_date=date(2026, 4, 2)), po_line(line=2)])
    )
    assert [r["OrderDate"] for r in rows] == ["2026-04-02", ""]


def test_a_service_line_without_quantities_is_open_for_its_whole_amount() -> None:
    line = po_line(quantity=Decimal(0), unit_price=Decimal(0), amount=Decimal("4200.00"))
    (row,) = read_back(inbound.purchase_orders_csv([line]))
    assert (row["OpenAmount"], row["Status"]) == ("4200.00", "Open")
    assert (row["Quantity"], row["UnitCost"]) == ("", ""), "no quantity, not 0 units"


def test_vendor_id_is_the_linked_stampli_id_else_the_erp_code() -> None:
    vendors = [ErpVendor("SUP00002", "B", active=False), ErpVendor("SUP00001", "A")]
    rows = read_back(inbound.vendors_csv(vendors, {"SUP00001": "V-0001"}))
    assert [(r["VendorId"], r["ErpVendorCode"], r["Status"]) for r in rows] == [
        ("V-0001", "SUP00001", "Active"),
        ("SUP00002", "SUP00002", "Inactive"),
    ]


def test_gl_account_types_and_active_flags_use_stampli_words() -> None:
    accounts = [
        ErpGlAccount("10-6100", "Raw Materials", "E"),
        ErpGlAccount("10-2000", "Accounts Payable", "L", active=False),
        ErpGlAccount("10-3000", "Retained earnings", "C"),
        ErpGlAccount("10-9999", "Statistics", "S"),
    ]
    rows = {r["AccountCode"]: r for r in read_back(inbound.gl_accounts_csv(accounts))}
    assert rows["10-6100"]["AccountType"] == "Expense" and rows["10-6100"]["Active"] == "true"
    assert rows["10-2000"]["AccountType"] == "Liability" and rows["10-2000"]["Active"] == "false"
    assert rows["10-3000"]["AccountType"] == "Equity"
    assert rows["10-9999"]["AccountType"] == "S", "an unknown type is written as the ERP has it"


def test_dimension_types_are_named_for_stampli() -> None:
    dims = [
        ErpDimension(DimensionType.COST_CENTER, "CC-EAST", "Cost center East"),
        ErpDimension(DimensionType.PROJECT, "P-1", "Project one", active=False),
    ]
    rows = read_back(inbound.dimensions_csv(dims))
    assert [(r["DimensionType"], r["Code"], r["Active"]) for r in rows] == [
        ("CostCenter", "CC-EAST", "true"),
        ("Project", "P-1", "false"),
    ]


def test_an_empty_table_is_a_header_only_file() -> None:
    assert inbound.dimensions_csv([]) == b"DimensionType,Code,Name,Active\n"


def test_names_carry_the_tenant_zone_time_and_a_sequence() -> None:
    now = datetime(2026, 11, 21, 20, 15, 0, tzinfo=UTC)
    chicago = ZoneInfo("America/Chicago")
    assert inbound.inbound_name("vendors", now, chicago) == "vendors_20261121_141500.csv"
    assert (
        inbound.inbound_name("gl_accounts", now, chicago, 2) == "gl_accounts_20261121_141500_2.csv"
    )
    with pytest.raises(ValueError):
        inbound.inbound_name("vendors", datetime(2026, 11, 21), chicago)
