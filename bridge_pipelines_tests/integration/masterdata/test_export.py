"""ERP → Stampli: the SYSPRO sandbox's master data lands as whole files under /inbound."""

import csv
import io
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import pytest

from bridge_pipelines.erps.base import ErpAdapter, ErpPurchaseOrderLine, VendorChange
from bridge_pipelines.errors import BridgeError, ConfigError
from bridge_pipelines.masterdata.sync import export_erp_master_data, export_open_purchase_orders
from bridge_pipelines.sandbox.syspro.seed import SYSPRO_SEED
from bridge_pipelines_tests.integration.masterdata.conftest import MasterWorld

NOW = datetime(2026, 11, 21, 20, 15, 0, tzinfo=UTC)  # 14:15:00 in Chicago


def read(world: MasterWorld, name: str) -> tuple[bytes, list[dict[str, str]]]:
    data = (world.inbound / name).read_bytes()
    return data, list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


def test_inbound_files_match_the_erp_seed(world: MasterWorld) -> None:
    world.map_vendors({"V-0001": "SUP00001"})
    with world.adapter() as adapter:
        report = export_erp_master_data(world.ctx, world.tenant, adapter, now=NOW)
    assert report.names == [
        "vendors_20261121_141500.csv",
        "gl_accounts_20261121_141500.csv",
        "dimensions_20261121_141500.csv",
    ]
    assert sorted(os.listdir(world.inbound)) == sorted(report.names), "no temporary file left"

    seed = world.sandbox.admin.seed()
    data, vendors = read(world, "vendors_20261121_141500.csv")
    assert data.split(b"\n", 1)[0] == (
        b"VendorId,VendorName,TaxId,Currency,PaymentTerms,Status,ErpVendorCode"
    )
    assert [v["ErpVendorCode"] for v in vendors] == sorted(seed["suppliers"])
    assert report.count("vendors") == len(seed["suppliers"])
    expected = {s.supplier: s for s in SYSPRO_SEED.suppliers}
    for row in vendors:
        supplier = expected[row["ErpVendorCode"]]
        assert row["VendorName"] == supplier.name and row["Currency"] == supplier.currency
        assert row["PaymentTerms"] == supplier.terms_code and row["Status"] == "Active"
        assert row["TaxId"] == supplier.tax_regn_num
    assert vendors[0]["VendorId"] == "V-0001"  # linked by the mapping file
    assert vendors[1]["VendorId"] == vendors[1]["ErpVendorCode"]  # not linked yet

    _, accounts = read(world, "gl_accounts_20261121_141500.csv")
    assert {a["AccountCode"] for a in accounts} == set(seed["ledger_codes"])
    on_hold = {a["AccountCode"] for a in accounts if a["Active"] == "false"}
    assert on_hold == set(seed["ledger_codes_on_hold"])
    by_code = {a["AccountCode"]: a for a in accounts}
    assert by_code["10-6100"]["AccountType"] == "Expense"
    assert by_code["10-6100"]["AccountName"] == "Raw Materials"

    _, dimensions = read(world, "dimensions_20261121_141500.csv")
    assert {(d["DimensionType"], d["Code"], d["Name"]) for d in dimensions} == {
        ("CostCenter", code, name) for code, name in seed["analysis_codes"].items()
    }


def test_formula_looking_supplier_name_is_neutralised(world: MasterWorld) -> None:
    evil = '=HYPERLINK("http://evil.example","Click")'
    with world.adapter() as adapter:
        adapter.upsert_vendor(VendorChange(tenant="acme", code="SUP00099", name=evil))
        report = export_erp_master_data(world.ctx, world.tenant, adapter, now=NOW)
    _, vendors = read(world, report.names[0])
    row = next(v for v in vendors if v["ErpVendorCode"] == "SUP00099")
    assert row["VendorName"] == "'" + evil


def test_re_export_writes_a_new_file_and_keeps_the_first(world: MasterWorld) -> None:
    with world.adapter() as adapter:
        first = export_erp_master_data(world.ctx, world.tenant, adapter, now=NOW)
        first_bytes = (world.inbound / first.names[0]).read_bytes()
        later = export_erp_master_data(
            world.ctx, world.tenant, adapter, now=NOW + timedelta(minutes=60)
        )
        same_second = export_erp_master_data(world.ctx, world.tenant, adapter, now=NOW)
    assert later.names[0] == "vendors_20261121_151500.csv"
    assert same_second.names[0] == "vendors_20261121_141500_1.csv", "never overwrites"
    assert (world.inbound / first.names[0]).read_bytes() == first_bytes
    assert (world.inbound / later.names[0]).read_bytes() == first_bytes  # nothing changed
    assert len(os.listdir(world.inbound)) == 9


def test_a_full_inbound_folder_leaves_no_half_file(world: MasterWorld) -> None:
    with world.adapter() as adapter:
        first = export_erp_master_data(world.ctx, world.tenant, adapter, now=NOW)
        before = {name: (world.inbound / name).read_bytes() for name in first.names}
        world.server.faults.inbound_full = True
        with pytest.raises(BridgeError):
            export_erp_master_data(world.ctx, world.tenant, adapter, now=NOW + timedelta(minutes=5))
    world.server.faults.clear()
    after = {name: (world.inbound / name).read_bytes() for name in os.listdir(world.inbound)}
    assert after == before, "only the earlier, whole files are there"


class WithOpenPos:
    """The SYSPRO adapter plus open PO lines, as an ERP that has them would answer."""

    def __init__(self, adapter: ErpAdapter, lines: list[ErpPurchaseOrderLine]) -> None:
        self._adapter, self._lines = adapter, lines

    def __getattr__(self, name: str) -> Any:
        return getattr(self._adapter, name)

    def read_open_pos(self) -> Iterator[ErpPurchaseOrderLine]:
        return iter(self._lines)


def test_open_purchase_orders_get_their_own_file_when_the_erp_has_them(world: MasterWorld) -> None:
    line = ErpPurchaseOrderLine(
        po_number="PO-7781",
        line=1,
        vendor_code="SUP00001",
        description="+/- 5% resistors, 1k",
        quantity=Decimal("100"),
        unit_price=Decimal("0.125"),
        amount=Decimal("12.50"),
        currency="USD",
        received_quantity=Decimal("20"),
    )
    world.map_vendors({"V-0001": "SUP00001"})
    with world.adapter() as adapter:
        report = export_open_purchase_orders(
            world.ctx, world.tenant, cast(ErpAdapter, WithOpenPos(adapter, [line])), now=NOW
        )
    assert report.file.name == "purchase_orders_20261121_141500.csv"
    assert (report.lines, report.purchase_orders) == (1, 1)
    assert report.open_amount == {"USD": Decimal("10.00")}
    _, (row,) = read(world, report.file.name)
    assert row == {
        "PONumber": "PO-7781",
        "VendorId": "V-0001",
        "OrderDate": "",
        "Currency": "USD",
        "LineNumber": "1",
        "ItemDescription": "'+/- 5% resistors, 1k",
        "Quantity": "100",
        "UnitCost": "0.125",
        "LineAmount": "12.50",
        "OpenAmount": "10.00",
        "Status": "PartiallyReceived",
    }


def test_an_erp_without_purchase_orders_fails_naming_the_setting(world: MasterWorld) -> None:
    with world.adapter() as adapter, pytest.raises(ConfigError) as raised:
        export_open_purchase_orders(world.ctx, world.tenant, adapter, now=NOW)
    assert "schedules.open_purchase_orders_cron" in str(raised.value)
    assert "does not read purchase orders" in str(raised.value)
    assert os.listdir(world.inbound) == [], "nothing uploaded"
