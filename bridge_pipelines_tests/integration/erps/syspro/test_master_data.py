"""Master data over OData (paged), and supplier maintenance over APSSSP."""

import pytest

from bridge_pipelines.erps.base import DimensionType, VendorChange
from bridge_pipelines.errors import BadInputError, ConfigError, RejectedByErpError
from bridge_pipelines_tests.integration.erps.syspro.helpers import adapter_for, calls


def test_odata_paging_reads_every_supplier(syspro_sandbox):
    syspro_sandbox.admin.configure(odata_page_size=3)
    seeded = syspro_sandbox.admin.seed()["suppliers"]
    assert len(seeded) > 3
    with adapter_for(syspro_sandbox) as adapter:
        vendors = list(adapter.read_vendors())
    assert sorted(v.code for v in vendors) == sorted(seeded)
    pages = calls(syspro_sandbox, "/ApSupplier")
    assert len(pages) == -(-len(seeded) // 3)  # one GET per page, nothing read twice
    acme = next(v for v in vendors if v.code == "SUP00001")
    assert acme.name == "Acme Components" and acme.currency == "USD" and acme.active


def test_gl_accounts_and_cost_centers(syspro_sandbox):
    seed = syspro_sandbox.admin.seed()
    with adapter_for(syspro_sandbox) as adapter:
        accounts = {a.code: a for a in adapter.read_gl_accounts()}
        dimensions = list(adapter.read_dimensions())
    assert set(accounts) == set(seed["ledger_codes"])
    for code in seed["ledger_codes_on_hold"]:
        assert not accounts[code].active
    assert {d.code for d in dimensions} == set(seed["analysis_codes"])
    assert {d.type for d in dimensions} == {DimensionType.COST_CENTER}


def test_odata_wrong_password_is_config_error(syspro_sandbox):
    from pydantic import SecretStr

    adapter = adapter_for(syspro_sandbox, password=SecretStr("wrong-one"))
    with adapter, pytest.raises(ConfigError):
        list(adapter.read_vendors())
    assert len(calls(syspro_sandbox, "/ApSupplier")) == 1


def test_odata_server_error_is_retried(syspro_sandbox):
    syspro_sandbox.admin.arm_fault("error_before_commit", path="*/ApSupplier", status=503)
    with adapter_for(syspro_sandbox) as adapter:
        assert list(adapter.read_vendors())
    assert [r["status"] for r in calls(syspro_sandbox, "/ApSupplier")] == [503, 200]


def test_upsert_vendor_adds_then_updates(syspro_sandbox):
    change = VendorChange(
        tenant="demo",
        code="SUP00077",
        name="Café Zürich € Supplies",
        currency="EUR",
        terms_code="30",
        email="ap@cafe.example",
        address_lines=("1 Bahnhofstrasse", "Zürich"),
    )
    with adapter_for(syspro_sandbox) as adapter:
        created = adapter.upsert_vendor(change)
        updated = adapter.upsert_vendor(
            VendorChange(tenant="demo", code="SUP00077", name=change.name, on_hold=True)
        )
        vendors = {v.code: v for v in adapter.read_vendors()}
    assert created.created and not updated.created
    assert vendors["SUP00077"].name == "Café Zürich € Supplies"
    assert vendors["SUP00077"].currency == "EUR" and not vendors["SUP00077"].active
    assert [r["path"].rsplit("/", 1)[1] for r in calls(syspro_sandbox, "")
            if "/Setup/" in r["path"]] == ["Add", "Update"]  # fmt: skip


def test_upsert_vendor_refusal_keeps_syspros_message(syspro_sandbox):
    change = VendorChange(tenant="demo", code="SUP00078", name="X", currency="XXX")
    with adapter_for(syspro_sandbox) as adapter, pytest.raises(RejectedByErpError) as caught:
        adapter.upsert_vendor(change)
    assert "Currency 'XXX' not found" in str(caught.value)


def test_upsert_vendor_without_code_is_bad_input(syspro_sandbox):
    with adapter_for(syspro_sandbox) as adapter, pytest.raises(BadInputError):
        adapter.upsert_vendor(VendorChange(tenant="demo", name="No code"))
