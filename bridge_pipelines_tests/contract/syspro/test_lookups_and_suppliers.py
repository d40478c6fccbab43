"""COMFND lookups (how a client finds its own invoice again) and APSSSP supplier maintenance."""

import pytest

from bridge_pipelines_tests.contract.syspro import payloads
from bridge_pipelines_tests.contract.syspro.xml import errors, first, parse

pytestmark = pytest.mark.contract


def _rows(content: bytes) -> list[dict[str, str]]:
    root = parse(content)
    return [{c.tag: c.text or "" for c in row} for row in root.findall("Row")]


def test_syspro_comfnd_finds_invoice_by_supplier_and_invoice(syspro_sandbox):
    user_id = syspro_sandbox.logon()
    syspro_sandbox.post(user_id, payloads.ap_invoice(invoice="INV-9"))
    query = payloads.comfnd(
        "ApInvoice", [("Supplier", "EQ", "SUP00001"), ("Invoice", "EQ", "INV-9")],
        ("Invoice", "Journal", "OrigInvValue"),
    )  # fmt: skip
    response = syspro_sandbox.query(user_id, query)
    root = parse(response.content)
    assert root.tag == "ApInvoice"
    assert root.findtext("HeaderDetails/TableName") == "ApInvoice"
    assert _rows(response.content) == [
        {"Invoice": "INV-9", "Journal": "1", "OrigInvValue": "1150.00"}
    ]
    missing = payloads.comfnd(
        "ApInvoice", [("Supplier", "EQ", "SUP00001"), ("Invoice", "EQ", "INV-10")], ("Invoice",)
    )
    assert _rows(syspro_sandbox.query(user_id, missing).content) == []


def test_syspro_comfnd_finds_invoice_by_reference(syspro_sandbox):
    user_id = syspro_sandbox.logon()
    syspro_sandbox.post(user_id, payloads.ap_invoice(reference="BRG-7f3a9c"))
    query = payloads.comfnd(
        "ApInvoice", [("Reference", "EQ", "BRG-7f3a9c")], ("Supplier", "Invoice")
    )
    assert _rows(syspro_sandbox.query(user_id, query).content) == [
        {"Supplier": "SUP00001", "Invoice": "INV-1001"}
    ]


def test_syspro_apstin_reference_longer_than_30_is_refused(syspro_sandbox):
    user_id = syspro_sandbox.logon()
    response = syspro_sandbox.post(user_id, payloads.ap_invoice(reference="R" * 31))
    assert errors(response.content) == ["Transaction reference exceeds 30 characters"]


def test_syspro_comfnd_reads_suppliers_and_ledger_codes(syspro_sandbox):
    user_id = syspro_sandbox.logon()
    query = payloads.comfnd(
        "ApSupplier", [("Supplier", "EQ", "SUP00004")], ("SupplierName", "Currency")
    )
    assert _rows(syspro_sandbox.query(user_id, query).content) == [
        {"SupplierName": "Northwind Traders", "Currency": "USD"}
    ]
    ledger = payloads.comfnd("GenMaster", [("GlCode", "LIKE", "10-6%")], ("GlCode",))
    codes = [r["GlCode"] for r in _rows(syspro_sandbox.query(user_id, ledger).content)]
    assert "10-6100" in codes and "10-6950" not in codes


def test_syspro_comfnd_unknown_table_or_column_is_an_error(syspro_sandbox):
    user_id = syspro_sandbox.logon()
    table = syspro_sandbox.query(user_id, payloads.comfnd("Secrets", [("A", "EQ", "1")]))
    assert table.text.startswith("ERROR")
    column = syspro_sandbox.query(user_id, payloads.comfnd("ApSupplier", [("Password", "EQ", "x")]))
    assert column.text.startswith("ERROR") and "Password" in column.text


def test_syspro_apsssp_add_creates_supplier(syspro_sandbox):
    user_id = syspro_sandbox.logon()
    xml_in = payloads.supplier(
        "SUP00012", SupplierName="Hooli Cloud Services", Currency="USD", TermsCode="30",
        Email="ap@hooli.example", SupAddr1="1 Hacker Way",
    )  # fmt: skip
    response = syspro_sandbox.setup("Add", user_id, xml_in)
    assert response.status_code == 200
    assert errors(response.content) == [] and first(response.content, "ItemsProcessed") == "000001"
    query = payloads.comfnd(
        "ApSupplier", [("Supplier", "EQ", "SUP00012")], ("SupplierName", "OnHold")
    )
    assert _rows(syspro_sandbox.query(user_id, query).content) == [
        {"SupplierName": "Hooli Cloud Services", "OnHold": "N"}
    ]
    posted = syspro_sandbox.post(user_id, payloads.ap_invoice(supplier="SUP00012"))
    assert first(posted.content, "ItemsProcessed") == "000001"


def test_syspro_apsssp_add_of_existing_supplier_is_refused(syspro_sandbox):
    user_id = syspro_sandbox.logon()
    response = syspro_sandbox.setup("Add", user_id, payloads.supplier("SUP00001", SupplierName="X"))
    assert errors(response.content) == ["Supplier 'SUP00001' already exists"]


def test_syspro_apsssp_update_changes_only_given_fields(syspro_sandbox):
    user_id = syspro_sandbox.logon()
    response = syspro_sandbox.setup(
        "Update", user_id, payloads.supplier("SUP00001", Email="new@acme.example")
    )
    assert errors(response.content) == []
    query = payloads.comfnd(
        "ApSupplier", [("Supplier", "EQ", "SUP00001")], ("SupplierName", "Email")
    )
    assert _rows(syspro_sandbox.query(user_id, query).content) == [
        {"SupplierName": "Acme Components", "Email": "new@acme.example"}
    ]


def test_syspro_apsssp_update_of_missing_supplier_is_refused(syspro_sandbox):
    user_id = syspro_sandbox.logon()
    response = syspro_sandbox.setup("Update", user_id, payloads.supplier("SUP09999", Email="a@b.c"))
    assert errors(response.content) == ["Supplier 'SUP09999' not found"]


def test_syspro_apsssp_refuses_unknown_currency_and_terms(syspro_sandbox):
    user_id = syspro_sandbox.logon()
    xml_in = payloads.supplier("NEW1", SupplierName="New", Currency="XXX", TermsCode="99")
    assert errors(syspro_sandbox.setup("Add", user_id, xml_in).content) == [
        "Currency 'XXX' not found",
        "Terms code '99' not found",
    ]
