"""A/P service invoices, journal entries and business partners: rules, codes and answers."""

import pytest

from bridge_pipelines_tests.contract.sap_b1 import payloads

pytestmark = pytest.mark.contract


@pytest.fixture
def session(sapb1_sandbox):
    return sapb1_sandbox.login()


def _error(response):
    error = response.json()["error"]
    return error["code"], error["message"]["value"]


def test_sapb1_service_invoice_201_with_location_and_erp_numbers(sapb1_sandbox, session):
    response = sapb1_sandbox.request(
        "POST", "PurchaseInvoices", session, json=payloads.service_invoice()
    )
    assert response.status_code == 201
    body = response.json()
    assert body["DocEntry"] == 1 and body["DocNum"] == 1 and body["DocTotal"] == 1025.5
    assert response.headers["Location"].endswith("/b1s/v1/PurchaseInvoices(1)")
    assert response.headers["ETag"]
    again = sapb1_sandbox.request("POST", "PurchaseInvoices", session,
                                  json=payloads.service_invoice("INV-1002"))  # fmt: skip
    assert again.json()["DocEntry"] == 2
    fetched = sapb1_sandbox.request("GET", "PurchaseInvoices(1)", session).json()
    assert fetched["NumAtCard"] == "INV-1001" and len(fetched["DocumentLines"]) == 2


def test_sapb1_service_invoice_without_doctype_is_refused(sapb1_sandbox, session):
    body = payloads.service_invoice()
    del body["DocType"]
    response = sapb1_sandbox.request("POST", "PurchaseInvoices", session, json=body)
    assert response.status_code == 400 and _error(response)[0] == -5002
    assert sapb1_sandbox.admin.documents() == []


@pytest.mark.parametrize(
    ("card_code", "account"),
    [("V10012", "_SYS00000006100"), ("V10001", "_SYS00000006950"), ("V10001", "_SYS00000006900")],
    ids=["unknown-supplier", "unknown-account", "inactive-account"],
)
def test_sapb1_invoice_with_unknown_master_data_is_refused(
    sapb1_sandbox, session, card_code, account
):
    body = payloads.service_invoice(card_code=card_code)
    body["DocumentLines"][0]["AccountCode"] = account
    response = sapb1_sandbox.request("POST", "PurchaseInvoices", session, json=body)
    assert response.status_code == 400
    assert card_code in _error(response)[1] or account in _error(response)[1]
    assert sapb1_sandbox.admin.documents() == []


def test_sapb1_unknown_property_is_refused(sapb1_sandbox, session):
    response = sapb1_sandbox.request("POST", "BusinessPartners", session,
                                     json=payloads.supplier(Colour="red"))  # fmt: skip
    assert response.status_code == 400
    assert _error(response) == (-1000, "Property 'Colour' of 'BusinessPartner' is invalid")
    body = payloads.service_invoice()
    body["DocumentLines"][0]["Shade"] = 1
    line = sapb1_sandbox.request("POST", "PurchaseInvoices", session, json=body)
    assert _error(line) == (-1000, "Property 'Shade' of 'DocumentLine' is invalid")


def test_sapb1_business_partner_create_missing_and_duplicate_cardcode(sapb1_sandbox, session):
    created = sapb1_sandbox.request("POST", "BusinessPartners", session, json=payloads.supplier())
    assert created.status_code == 201
    assert created.headers["Location"].endswith("/BusinessPartners('V19999')")
    duplicate = sapb1_sandbox.request("POST", "BusinessPartners", session, json=payloads.supplier())
    assert duplicate.status_code == 400 and _error(duplicate)[0] == -10
    assert "already assigned" in _error(duplicate)[1]
    body = payloads.supplier()
    del body["CardCode"]
    missing = sapb1_sandbox.request("POST", "BusinessPartners", session, json=body)
    assert missing.status_code == 400
    assert _error(missing) == (-5002, "Code undefined [OCRD.CardCode]")


def test_sapb1_patch_answers_204_and_changes_the_record(sapb1_sandbox, session):
    response = sapb1_sandbox.request("PATCH", "BusinessPartners('V10001')", session,
                                     json={"CardName": "Acme Renamed"})  # fmt: skip
    assert response.status_code == 204 and response.content == b""
    got = sapb1_sandbox.request("GET", "BusinessPartners('V10001')", session).json()
    assert got["CardName"] == "Acme Renamed"


def test_sapb1_get_missing_key_is_404_minus_2028(sapb1_sandbox, session):
    response = sapb1_sandbox.request("GET", "BusinessPartners('NOPE')", session)
    assert response.status_code == 404
    assert _error(response) == (-2028, "No matching records found (ODBC -2028)")
    v2 = sapb1_sandbox.request("GET", "PurchaseInvoices(999)", session, version="v2")
    assert v2.status_code == 404 and v2.json()["error"]["code"] == "-2028"


def test_sapb1_balanced_journal_entry_gets_jdtnum(sapb1_sandbox, session):
    response = sapb1_sandbox.request("POST", "JournalEntries", session, json=payloads.journal())
    assert response.status_code == 201
    assert response.json()["JdtNum"] == 1 and response.json()["Reference"] == "INV-1001"
    assert response.headers["Location"].endswith("/JournalEntries(1)")
    [document] = sapb1_sandbox.admin.documents()
    assert (
        document["kind"] == "JournalEntry" and document["debits"] == document["credits"] == "100.00"
    )


def test_sapb1_unbalanced_journal_entry_is_refused(sapb1_sandbox, session):
    response = sapb1_sandbox.request("POST", "JournalEntries", session,
                                     json=payloads.journal(debit=100.0, credit=99.99))  # fmt: skip
    assert response.status_code == 400 and _error(response)[0] == -5002
    assert sapb1_sandbox.admin.documents() == []


def test_sapb1_documents_admin_lists_invoices_with_balanced_totals(sapb1_sandbox, session):
    for ref in ("INV-1", "INV-1"):  # B1 does not block duplicate vendor refs by default
        sapb1_sandbox.request(
            "POST", "PurchaseInvoices", session, json=payloads.service_invoice(ref)
        )
    documents = sapb1_sandbox.admin.documents()
    assert [d["NumAtCard"] for d in documents] == ["INV-1", "INV-1"]
    assert all(d["debits"] == d["credits"] == "1025.50" for d in documents)


def test_sapb1_duplicate_vendor_ref_refused_when_blocking_is_on(sapb1_sandbox, session):
    sapb1_sandbox.admin.configure(block_duplicate_vendor_ref=True)
    first = sapb1_sandbox.request(
        "POST", "PurchaseInvoices", session, json=payloads.service_invoice()
    )
    second = sapb1_sandbox.request(
        "POST", "PurchaseInvoices", session, json=payloads.service_invoice()
    )
    assert first.status_code == 201 and second.status_code == 400
    assert len(sapb1_sandbox.admin.documents()) == 1


def test_sapb1_seed_exposes_master_data_and_mapping_tables(sapb1_sandbox, session):
    seed = sapb1_sandbox.admin.seed()
    assert seed["supplier_map"]["V-0001"] == "V10001" and "V-0012" not in seed["supplier_map"]
    assert seed["account_map"]["6100"] == "_SYS00000006100" and "6950" not in seed["account_map"]
    assert seed["profit_center_map"]["CC-EAST"] == "EAST"
    for entity_set, key in (("ChartOfAccounts", "'_SYS00000006100'"), ("ProfitCenters", "'EAST'"),
                            ("Projects", "'P001'"), ("PurchaseOrders", "1")):  # fmt: skip
        assert sapb1_sandbox.request("GET", f"{entity_set}({key})", session).status_code == 200
    open_pos = sapb1_sandbox.request(
        "GET", "PurchaseOrders", session, params={"$filter": "DocumentStatus eq 'bost_Open'"}
    ).json()["value"]
    assert [po["DocNum"] for po in open_pos] == seed["open_purchase_orders"] == [1, 2, 3]


def test_sapb1_journal_memo_holds_50_characters_and_is_filterable(sapb1_sandbox, session):
    ours = "BP0123456789ABCDEFGH"
    body = payloads.service_invoice("INV-77", JournalMemo=ours)
    assert sapb1_sandbox.request("POST", "PurchaseInvoices", session, json=body).status_code == 201
    found = sapb1_sandbox.request("GET", "PurchaseInvoices", session, params={
        "$filter": f"CardCode eq 'V10001' and (JournalMemo eq '{ours}' or NumAtCard eq '{ours}')"
                   " and Cancelled eq 'tNO'",
        "$select": "DocEntry,NumAtCard,JournalMemo"})  # fmt: skip
    assert found.json()["value"] == [{"DocEntry": 1, "NumAtCard": "INV-77", "JournalMemo": ours}]
    too_long = payloads.service_invoice("INV-78", JournalMemo="x" * 51)
    refused = sapb1_sandbox.request("POST", "PurchaseInvoices", session, json=too_long)
    assert refused.status_code == 400 and _error(refused)[0] == -10
