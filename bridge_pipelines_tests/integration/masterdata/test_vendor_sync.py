"""Stampli → SYSPRO: vendor changes become supplier maintenance, only under a chosen code."""

from datetime import UTC, datetime, timedelta

from bridge_pipelines.erps.base import ErpAdapter, ErpVendor
from bridge_pipelines.masterdata.sync import sync_stampli_vendors
from bridge_pipelines_tests.integration.erps.syspro.helpers import calls
from bridge_pipelines_tests.integration.masterdata.conftest import MasterWorld


def vendor(vendor_id: str, name: str, code: str = "", **extra: str) -> dict[str, str]:
    row = {
        "VendorId": vendor_id,
        "VendorName": name,
        "TaxId": "12-3456789",
        "Email": "ap@example.com",
        "AddressLine1": "1 Main St",
        "City": "Chicago",
        "Region": "IL",
        "PostalCode": "60601",
        "Country": "US",
        "Currency": "USD",
        "PaymentTerms": "Net 30",
        "Status": "Active",
        "ErpVendorCode": code,
        "ModifiedAt": "2026-11-21T14:00:00-06:00",
    }
    row.update(extra)
    return row


def suppliers(adapter: ErpAdapter) -> dict[str, ErpVendor]:
    return {v.code: v for v in adapter.read_vendors()}


def setups(world: MasterWorld) -> list[str]:
    return [r["path"].rsplit("/", 1)[1] for r in calls(world.sandbox, "") if "/Setup/" in r["path"]]


def test_vendors_with_a_code_are_created_or_updated_and_others_reported(world: MasterWorld) -> None:
    world.map_vendors({"V-0031": "SUP00031"})
    world.receive_vendors(
        "vendors_20261121_140000.csv",
        [
            vendor("V-0001", "Acme Components (old)", "SUP00001",
                   ModifiedAt="2026-11-20T09:00:00-06:00"),
            vendor("V-0001", "Acme Components International", "SUP00001"),
            vendor("V-0030", "Zeta Supplies GmbH", "SUP00030", Currency="EUR",
                   PaymentTerms="Net 45"),
            vendor("V-0031", "Mapped By File Ltd"),
            vendor("V-0032", "Dormant Parts Co", "SUP00032", Status="Inactive"),
            vendor("V-0012", "Hooli Cloud Services"),
        ],
    )  # fmt: skip
    with world.adapter() as adapter:
        report = sync_stampli_vendors(world.ctx, world.tenant, adapter)
        after = suppliers(adapter)

    outcomes = {o.vendor_id: (o.outcome, o.erp_code) for o in report.outcomes}
    assert outcomes == {
        "V-0001": ("updated", "SUP00001"),
        "V-0030": ("created", "SUP00030"),
        "V-0031": ("created", "SUP00031"),
        "V-0032": ("created", "SUP00032"),
        "V-0012": ("needs_erp_code", None),
    }
    (held,) = report.needs_erp_code
    assert "needs an ERP supplier code" in (held.detail or "")
    assert after["SUP00001"].name == "Acme Components International", "the newest change wins"
    assert after["SUP00030"].currency == "EUR" and after["SUP00030"].terms_code == "45"
    assert after["SUP00031"].name == "Mapped By File Ltd"
    assert not after["SUP00032"].active, "Inactive in Stampli is on hold in SYSPRO"
    assert all(v.name != "Hooli Cloud Services" for v in after.values()), "no code is invented"


def test_re_running_the_sync_changes_nothing(world: MasterWorld) -> None:
    world.receive_vendors(
        "vendors_20261121_141500.csv",
        [vendor("V-0030", "Zeta Supplies GmbH", "SUP00030"), vendor("V-0040", "No Code Inc")],
    )
    with world.adapter() as adapter:
        first = sync_stampli_vendors(world.ctx, world.tenant, adapter)
        snapshot = suppliers(adapter)
        second = sync_stampli_vendors(world.ctx, world.tenant, adapter)
        assert suppliers(adapter) == snapshot
    assert first.created == 1 and second.created == 0 and second.updated == 1
    assert setups(world) == ["Add", "Update"], "a re-run never adds a second supplier"
    assert len(second.needs_erp_code) == 1


def test_a_refused_vendor_is_reported_and_the_others_still_go(world: MasterWorld) -> None:
    world.receive_vendors(
        "vendors_20261121_142000.csv",
        [
            vendor("V-0050", "Bad Currency Ltd", "SUP00050", Currency="XXX"),
            vendor("V-0051", "Good Currency Ltd", "SUP00051"),
        ],
    )
    with world.adapter() as adapter:
        report = sync_stampli_vendors(world.ctx, world.tenant, adapter)
        after = suppliers(adapter)
    (failed,) = report.failed
    assert failed.vendor_id == "V-0050" and "Currency 'XXX' not found" in (failed.detail or "")
    assert "SUP00050" not in after and "SUP00051" in after


def test_since_leaves_out_vendors_recorded_before_it(world: MasterWorld) -> None:
    world.receive_vendors("vendors_20261121_143000.csv", [vendor("V-0060", "Old News", "SUP00060")])
    later = datetime.now(UTC) + timedelta(minutes=1)
    with world.adapter() as adapter:
        assert sync_stampli_vendors(world.ctx, world.tenant, adapter, since=later).outcomes == []
        assert "SUP00060" not in suppliers(adapter)
        earlier = later - timedelta(hours=1)
        assert sync_stampli_vendors(world.ctx, world.tenant, adapter, since=earlier).created == 1


def test_a_lost_answer_is_resolved_by_reading_the_supplier_back(world: MasterWorld) -> None:
    """Issue 16.14: the ERP applied the change, then its answer was lost (500 after commit)."""
    world.receive_vendors(
        "vendors_20261121_143000.csv",
        [vendor("V-0060", "Readback Supplies", "SUP00060")],
    )
    world.sandbox.admin.arm_fault("error_after_commit", path="*/Setup/*", status=500)
    with world.adapter() as adapter:
        report = sync_stampli_vendors(world.ctx, world.tenant, adapter)
        after = suppliers(adapter)
    ((outcome, code, detail),) = [(o.outcome, o.erp_code, o.detail) for o in report.outcomes]
    assert (outcome, code) == ("updated", "SUP00060") and report.failed == []
    assert "read back" in (detail or "")
    assert after["SUP00060"].name == "Readback Supplies"
    assert setups(world).count("Add") == 1, "read back, never sent again"


def test_a_lost_answer_the_read_back_contradicts_is_a_failure(world: MasterWorld) -> None:
    """A 500 before the ERP applied anything: the read-back finds no supplier."""
    world.receive_vendors(
        "vendors_20261121_143500.csv",
        [vendor("V-0061", "Never Landed Ltd", "SUP00061")],
    )
    world.sandbox.admin.arm_fault("error_before_commit", path="*/Setup/*", status=500)
    with world.adapter() as adapter:
        report = sync_stampli_vendors(world.ctx, world.tenant, adapter)
        after = suppliers(adapter)
    (failed,) = report.failed
    assert failed.vendor_id == "V-0061" and "no supplier SUP00061" in (failed.detail or "")
    assert "SUP00061" not in after
