"""A/P credit memos (`PurchaseCreditNotes`): the A/P invoice's document, rules and answers.

erp-facts.md documents the invoice; the credit memo is B1's same `Document` on its own object
(ORPC/RPC1, own DocEntry/DocNum), which the adapter posts credit memos to [I].
"""

import pytest

from bridge_pipelines_tests.contract.sap_b1 import payloads

pytestmark = pytest.mark.contract

CREDIT_NOTES = "PurchaseCreditNotes"


@pytest.fixture
def session(sapb1_sandbox):
    return sapb1_sandbox.login()


def _error(response):
    error = response.json()["error"]
    return error["code"], error["message"]["value"]


def _credit_notes(sandbox):
    return [d for d in sandbox.admin.documents() if d["kind"] == "PurchaseCreditNote"]


def test_sapb1_credit_note_201_with_location_own_numbers_and_get_by_key(sapb1_sandbox, session):
    invoice = sapb1_sandbox.request(
        "POST", "PurchaseInvoices", session, json=payloads.service_invoice("INV-1")
    )
    assert invoice.status_code == 201
    response = sapb1_sandbox.request(
        "POST", CREDIT_NOTES, session, json=payloads.service_invoice("CM-1")
    )
    assert response.status_code == 201, response.text
    body = response.json()
    # Its own object: numbering starts at 1 beside the invoice's.
    assert body["DocEntry"] == 1 and body["DocNum"] == 1 and body["DocTotal"] == 1025.5
    assert body["odata.metadata"].endswith("$metadata#PurchaseCreditNotes/@Element")
    assert response.headers["Location"].endswith("/b1s/v1/PurchaseCreditNotes(1)")
    assert response.headers["ETag"]
    fetched = sapb1_sandbox.request("GET", f"{CREDIT_NOTES}(1)", session)
    assert fetched.status_code == 200
    assert fetched.json()["NumAtCard"] == "CM-1" and len(fetched.json()["DocumentLines"]) == 2
    missing = sapb1_sandbox.request("GET", f"{CREDIT_NOTES}(2)", session)
    assert missing.status_code == 404 and _error(missing)[0] == -2028
    # The journal B1 derives is the invoice's reversed: the supplier debited.
    [note] = _credit_notes(sapb1_sandbox)
    assert note["CardCode"] == "V10001" and note["debits"] == note["credits"] == "1025.50"


def test_sapb1_credit_note_without_doctype_is_refused(sapb1_sandbox, session):
    body = payloads.service_invoice("CM-1")
    del body["DocType"]
    response = sapb1_sandbox.request("POST", CREDIT_NOTES, session, json=body)
    assert response.status_code == 400
    assert _error(response) == (-5002, "Item code is missing [RPC1.ItemCode][line: 1]")
    assert sapb1_sandbox.admin.documents() == []


@pytest.mark.parametrize(
    ("card_code", "account", "located"),
    [
        ("V10012", "_SYS00000006100", "[ORPC.CardCode]"),
        ("", "_SYS00000006100", "Code undefined [ORPC.CardCode]"),
        ("V10001", "_SYS00000006950", "[RPC1.AcctCode][line: 1]"),
    ],
    ids=["unknown-supplier", "no-supplier", "unknown-account"],
)
def test_sapb1_credit_note_needs_an_existing_supplier_and_account(
    sapb1_sandbox, session, card_code, account, located
):
    body = payloads.service_invoice("CM-1", card_code=card_code)
    body["DocumentLines"][0]["AccountCode"] = account
    response = sapb1_sandbox.request("POST", CREDIT_NOTES, session, json=body)
    assert response.status_code == 400 and located in _error(response)[1]
    assert sapb1_sandbox.admin.documents() == []


def test_sapb1_credit_note_unknown_property_is_refused(sapb1_sandbox, session):
    body = payloads.service_invoice("CM-1")
    body["DocumentLines"][0]["Shade"] = 1
    response = sapb1_sandbox.request("POST", CREDIT_NOTES, session, json=body)
    assert _error(response) == (-1000, "Property 'Shade' of 'DocumentLine' is invalid")


def test_sapb1_credit_note_found_by_cardcode_and_numatcard(sapb1_sandbox, session):
    for entity_set, ref, card in (
        ("PurchaseInvoices", "REF-1", "V10001"),  # same reference, other object
        (CREDIT_NOTES, "REF-1", "V10002"),  # same reference, other supplier
        (CREDIT_NOTES, "REF-1", "V10001"),
    ):
        body = payloads.service_invoice(ref, card_code=card)
        assert sapb1_sandbox.request("POST", entity_set, session, json=body).status_code == 201
    query = {
        "$filter": "CardCode eq 'V10001' and NumAtCard eq 'REF-1' and Cancelled eq 'tNO'",
        "$select": "DocEntry,DocNum,NumAtCard",
    }
    found = sapb1_sandbox.request("GET", CREDIT_NOTES, session, params=query)
    assert found.status_code == 200
    assert found.json()["value"] == [{"DocEntry": 2, "DocNum": 2, "NumAtCard": "REF-1"}]
    count = sapb1_sandbox.request(
        "GET", f"{CREDIT_NOTES}/$count", session, params={"$filter": "NumAtCard eq 'REF-1'"}
    )
    assert count.text == "2"


def test_sapb1_credit_notes_page_with_relative_nextlink(sapb1_sandbox, session):
    for n in range(3):
        body = payloads.service_invoice(f"CM-{n}")
        assert sapb1_sandbox.request("POST", CREDIT_NOTES, session, json=body).status_code == 201
    prefer = {"Prefer": "odata.maxpagesize=2"}
    first = sapb1_sandbox.request(
        "GET", CREDIT_NOTES, session, params={"$select": "DocEntry"}, headers=prefer
    )
    assert first.headers["Preference-Applied"] == "odata.maxpagesize=2"
    assert first.json()["value"] == [{"DocEntry": 1}, {"DocEntry": 2}]
    link = first.json()["odata.nextLink"]
    assert link == "PurchaseCreditNotes?$select=DocEntry&$skip=2"
    second = sapb1_sandbox.request("GET", link, session, headers=prefer, version="v1")
    assert second.json()["value"] == [{"DocEntry": 3}] and "odata.nextLink" not in second.json()


def test_sapb1_credit_note_patch_answers_204_and_keeps_amounts(sapb1_sandbox, session):
    sapb1_sandbox.request("POST", CREDIT_NOTES, session, json=payloads.service_invoice("CM-1"))
    patched = sapb1_sandbox.request(
        "PATCH", f"{CREDIT_NOTES}(1)", session, json={"Comments": "returned goods"}
    )
    assert patched.status_code == 204
    refused = sapb1_sandbox.request("PATCH", f"{CREDIT_NOTES}(1)", session, json={"DocTotal": 1})
    assert refused.status_code == 400 and _error(refused)[0] == -1000
    got = sapb1_sandbox.request("GET", f"{CREDIT_NOTES}(1)", session).json()
    assert got["Comments"] == "returned goods" and got["DocTotal"] == 1025.5
