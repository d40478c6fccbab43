"""Writes beyond POST/PATCH: DELETE, Cancel/Close, ETags with If-Match, $batch, wider properties."""

import json

import pytest

from bridge_pipelines_tests.contract.sap_b1 import payloads

pytestmark = pytest.mark.contract


@pytest.fixture
def cookies(sapb1_sandbox):
    return sapb1_sandbox.login()


def _partner(code: str, **extra) -> dict:
    return {"CardCode": code, "CardName": f"Partner {code}", "CardType": "cCustomer", **extra}


# --- DELETE ----------------------------------------------------------------------------------


def test_sapb1_delete_business_partner_answers_204(sapb1_sandbox, cookies):
    assert (
        sapb1_sandbox.request("POST", "BusinessPartners", cookies, json=_partner("C1")).status_code
        == 201
    )
    response = sapb1_sandbox.request("DELETE", "BusinessPartners('C1')", cookies)
    assert response.status_code == 204 and response.content == b""
    again = sapb1_sandbox.request("GET", "BusinessPartners('C1')", cookies)
    assert again.status_code == 404 and again.json()["error"]["code"] == -2028


def test_sapb1_delete_partner_with_documents_is_refused(sapb1_sandbox, cookies):
    assert sapb1_sandbox.request("POST", "PurchaseInvoices", cookies,
                                 json=payloads.service_invoice()).status_code == 201  # fmt: skip
    response = sapb1_sandbox.request("DELETE", "BusinessPartners('V10001')", cookies)
    assert response.status_code == 400 and response.json()["error"]["code"] == -10


def test_sapb1_delete_document_is_not_allowed(sapb1_sandbox, cookies):
    sapb1_sandbox.request("POST", "PurchaseInvoices", cookies, json=payloads.service_invoice())
    response = sapb1_sandbox.request("DELETE", "PurchaseInvoices(1)", cookies)
    assert response.status_code == 405
    assert sapb1_sandbox.request("GET", "PurchaseInvoices(1)", cookies).status_code == 200


# --- Cancel / Close --------------------------------------------------------------------------


def test_sapb1_cancel_document_answers_204_and_marks_it_cancelled(sapb1_sandbox, cookies):
    sapb1_sandbox.request("POST", "PurchaseInvoices", cookies, json=payloads.service_invoice())
    response = sapb1_sandbox.request("POST", "PurchaseInvoices(1)/Cancel", cookies)
    assert response.status_code == 204
    doc = sapb1_sandbox.request("GET", "PurchaseInvoices(1)", cookies).json()
    assert (doc["Cancelled"], doc["DocumentStatus"]) == ("tYES", "bost_Close")
    # The usual lookup (Cancelled eq 'tNO') no longer finds it.
    found = sapb1_sandbox.request("GET", "PurchaseInvoices", cookies, params={
        "$filter": "NumAtCard eq 'INV-1001' and Cancelled eq 'tNO'"}).json()  # fmt: skip
    assert found["value"] == []
    twice = sapb1_sandbox.request("POST", "PurchaseInvoices(1)/Cancel", cookies)
    assert twice.status_code == 400


def test_sapb1_close_purchase_order(sapb1_sandbox, cookies):
    response = sapb1_sandbox.request("POST", "PurchaseOrders(1)/Close", cookies)
    assert response.status_code == 204
    order = sapb1_sandbox.request("GET", "PurchaseOrders(1)", cookies).json()
    assert order["DocumentStatus"] == "bost_Close" and order["Cancelled"] == "tNO"
    assert {line["LineStatus"] for line in order["DocumentLines"]} == {"bost_Close"}


def test_sapb1_action_on_missing_document_is_404(sapb1_sandbox, cookies):
    response = sapb1_sandbox.request("POST", "PurchaseInvoices(99)/Cancel", cookies)
    assert response.status_code == 404 and response.json()["error"]["code"] == -2028


# --- ETags -----------------------------------------------------------------------------------


def test_sapb1_single_get_carries_etag_header_and_annotation(sapb1_sandbox):
    for version, annotation in (("v1", "odata.etag"), ("v2", "@odata.etag")):
        cookies = sapb1_sandbox.login(version)
        response = sapb1_sandbox.request(
            "GET", "BusinessPartners('V10001')", cookies, version=version
        )
        etag = response.headers["ETag"]
        assert etag.startswith('W/"') and response.json()[annotation] == etag


def test_sapb1_etag_changes_with_each_write(sapb1_sandbox, cookies):
    first = sapb1_sandbox.request("GET", "BusinessPartners('V10001')", cookies).headers["ETag"]
    sapb1_sandbox.request("PATCH", "BusinessPartners('V10001')", cookies, json={"Notes": "x"})
    second = sapb1_sandbox.request("GET", "BusinessPartners('V10001')", cookies).headers["ETag"]
    assert first != second


def test_sapb1_stale_if_match_is_412_and_writes_nothing(sapb1_sandbox, cookies):
    stale = sapb1_sandbox.request("GET", "BusinessPartners('V10001')", cookies).headers["ETag"]
    sapb1_sandbox.request("PATCH", "BusinessPartners('V10001')", cookies, json={"Notes": "first"})
    response = sapb1_sandbox.request(
        "PATCH",
        "BusinessPartners('V10001')",
        cookies,
        json={"Notes": "second"},
        headers={"If-Match": stale},
    )
    assert response.status_code == 412
    assert (
        sapb1_sandbox.request("GET", "BusinessPartners('V10001')", cookies).json()["Notes"]
        == "first"
    )


def test_sapb1_current_if_match_or_star_writes(sapb1_sandbox, cookies):
    current = sapb1_sandbox.request("GET", "BusinessPartners('V10001')", cookies).headers["ETag"]
    ok = sapb1_sandbox.request("PATCH", "BusinessPartners('V10001')", cookies,
                               json={"Notes": "a"}, headers={"If-Match": current})  # fmt: skip
    assert ok.status_code == 204
    star = sapb1_sandbox.request("PATCH", "BusinessPartners('V10001')", cookies,
                                 json={"Notes": "b"}, headers={"If-Match": "*"})  # fmt: skip
    assert star.status_code == 204


def test_sapb1_stale_if_match_blocks_delete_and_cancel(sapb1_sandbox, cookies):
    sapb1_sandbox.request("POST", "BusinessPartners", cookies, json=_partner("C2"))
    sapb1_sandbox.request("POST", "PurchaseInvoices", cookies, json=payloads.service_invoice())
    stale = {"If-Match": 'W/"0000000000000000"'}
    assert (
        sapb1_sandbox.request(
            "DELETE", "BusinessPartners('C2')", cookies, headers=stale
        ).status_code
        == 412
    )
    assert (
        sapb1_sandbox.request(
            "POST", "PurchaseInvoices(1)/Cancel", cookies, headers=stale
        ).status_code
        == 412
    )
    assert sapb1_sandbox.request("GET", "PurchaseInvoices(1)", cookies).json()["Cancelled"] == "tNO"


def test_sapb1_if_none_match_on_get_still_answers_200_with_the_body(sapb1_sandbox, cookies):
    # [C] the Service Layer never answers 304: If-None-Match on a GET gets the full body.
    current = sapb1_sandbox.request("GET", "BusinessPartners('V10001')", cookies).headers["ETag"]
    again = sapb1_sandbox.request(
        "GET", "BusinessPartners('V10001')", cookies, headers={"If-None-Match": current}
    )
    assert again.status_code == 200 and again.json()["CardCode"] == "V10001"


def test_sapb1_only_weak_if_match_values_are_checked(sapb1_sandbox, cookies):
    # [C] the Service Layer validates only If-Match values starting W/; others are ignored.
    response = sapb1_sandbox.request(
        "PATCH",
        "BusinessPartners('V10001')",
        cookies,
        json={"Notes": "x"},
        headers={"If-Match": '"strong"'},
    )
    assert response.status_code == 204


# --- $batch ----------------------------------------------------------------------------------


def _part(method: str, url: str, body: dict | None = None, content_id: str | None = None) -> str:
    head = "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
    if content_id:
        head += f"Content-ID: {content_id}\r\n"
    request = f"{method} {url} HTTP/1.1\r\n"
    if body is not None:
        request += "Content-Type: application/json\r\n\r\n" + json.dumps(body) + "\r\n"
    else:
        request += "\r\n"
    return head + "\r\n" + request


def _batch(*items: str | list[str]) -> str:
    out = ""
    for item in items:
        out += "--batch_1\r\n"
        if isinstance(item, list):
            out += "Content-Type: multipart/mixed; boundary=changeset_1\r\n\r\n"
            out += "".join(f"--changeset_1\r\n{p}" for p in item) + "--changeset_1--\r\n"
        else:
            out += item
    return out + "--batch_1--\r\n"


def _send_batch(sandbox, cookies, body: str, version: str = "v1"):
    return sandbox.request(
        "POST",
        "$batch",
        cookies,
        version=version,
        content=body.encode(),
        headers={"Content-Type": "multipart/mixed; boundary=batch_1"},
    )


def test_sapb1_batch_changeset_commits_all(sapb1_sandbox, cookies):
    body = _batch(
        [_part("POST", "/b1s/v1/BusinessPartners", _partner("C10"), "1"),
         _part("POST", "BusinessPartners", _partner("C11"), "2")],
        _part("GET", "/b1s/v1/BusinessPartners('C10')"),
    )  # fmt: skip
    response = _send_batch(sapb1_sandbox, cookies, body)
    assert response.status_code == 202
    assert response.headers["content-type"].startswith("multipart/mixed; boundary=batchresponse_")
    text = response.text
    assert text.count("HTTP/1.1 201 Created") == 2 and "HTTP/1.1 200 OK" in text
    assert '"CardName": "Partner C10"' in text
    for code in ("C10", "C11"):
        assert (
            sapb1_sandbox.request("GET", f"BusinessPartners('{code}')", cookies).status_code == 200
        )


def test_sapb1_batch_changeset_is_all_or_nothing(sapb1_sandbox, cookies):
    body = _batch([
        _part("POST", "BusinessPartners", _partner("C20"), "1"),
        _part("POST", "BusinessPartners", {"CardCode": "C21", "Colour": "red"}, "2"),
    ])  # fmt: skip
    response = _send_batch(sapb1_sandbox, cookies, body)
    assert response.status_code == 202
    assert "HTTP/1.1 400 Bad Request" in response.text and "201 Created" not in response.text
    assert "Property 'Colour' of 'BusinessPartner' is invalid" in response.text
    assert sapb1_sandbox.request("GET", "BusinessPartners('C20')", cookies).status_code == 404


def test_sapb1_batch_parts_outside_a_changeset_stand_alone(sapb1_sandbox, cookies):
    body = _batch(
        _part("POST", "BusinessPartners", {"CardCode": "C30", "Colour": "red"}),
        _part("POST", "BusinessPartners", _partner("C31")),
    )
    response = _send_batch(sapb1_sandbox, cookies, body, version="v2")
    assert response.status_code == 200
    assert "400 Bad Request" in response.text and "201 Created" in response.text
    assert sapb1_sandbox.request("GET", "BusinessPartners('C31')", cookies).status_code == 200


def test_sapb1_batch_ignores_if_match_inside_the_batch(sapb1_sandbox, cookies):
    # [C] If-Match on a request inside a $batch is ignored by the Service Layer.
    part = _part("PATCH", "BusinessPartners('V10001')", {"Notes": "batched"})
    part = part.replace("HTTP/1.1\r\n", 'HTTP/1.1\r\nIf-Match: W/"0000000000000000"\r\n', 1)
    response = _send_batch(sapb1_sandbox, cookies, _batch([part]))
    assert "HTTP/1.1 204 No Content" in response.text
    notes = sapb1_sandbox.request("GET", "BusinessPartners('V10001')", cookies).json()["Notes"]
    assert notes == "batched"


def test_sapb1_batch_runs_under_the_batch_session(sapb1_sandbox):
    body = _batch(_part("GET", "BusinessPartners('V10001')"))
    response = sapb1_sandbox.http.post(
        sapb1_sandbox.url("$batch"),
        content=body.encode(),
        headers={"Content-Type": "multipart/mixed; boundary=batch_1"},
    )
    assert response.status_code == 401


def test_sapb1_batch_that_is_not_multipart_is_400(sapb1_sandbox, cookies):
    response = sapb1_sandbox.request("POST", "$batch", cookies, json={"x": 1})
    assert response.status_code == 400


# --- wider property sets ---------------------------------------------------------------------


def test_sapb1_business_partner_takes_common_real_fields(sapb1_sandbox, cookies):
    body = _partner("C40", Website="https://c40.test", Cellular="+1 555 0100", Phone2="555-0101",
                    BPAddresses=[{"AddressName": "HQ", "Street": "1 Main St", "City": "Austin",
                                  "AddressType": "bo_BillTo"}],
                    ContactEmployees=[{"Name": "Ana Ruiz", "E_Mail": "ana@c40.test"}])  # fmt: skip
    response = sapb1_sandbox.request("POST", "BusinessPartners", cookies, json=body)
    assert response.status_code == 201, response.text
    got = sapb1_sandbox.request("GET", "BusinessPartners('C40')", cookies).json()
    assert (got["Website"], got["Cellular"]) == ("https://c40.test", "+1 555 0100")
    assert got["BPAddresses"][0] | {"BPCode": "C40", "RowNum": 0} == got["BPAddresses"][0]
    assert got["ContactEmployees"][0]["E_Mail"] == "ana@c40.test"


def test_sapb1_unknown_address_property_is_refused(sapb1_sandbox, cookies):
    body = _partner("C41", BPAddresses=[{"AddressName": "HQ", "Planet": "Mars"}])
    response = sapb1_sandbox.request("POST", "BusinessPartners", cookies, json=body)
    assert response.status_code == 400
    assert (
        response.json()["error"]["message"]["value"]
        == "Property 'Planet' of 'BPAddress' is invalid"
    )


def test_sapb1_balances_are_read_only_and_follow_postings(sapb1_sandbox, cookies):
    refused = sapb1_sandbox.request("POST", "BusinessPartners", cookies,
                                    json=_partner("C42", CurrentAccountBalance=5))  # fmt: skip
    assert refused.status_code == 400 and "read-only" in refused.json()["error"]["message"]["value"]
    sapb1_sandbox.request("POST", "PurchaseInvoices", cookies, json=payloads.service_invoice())
    partner = sapb1_sandbox.request("GET", "BusinessPartners('V10001')", cookies).json()
    assert partner["CurrentAccountBalance"] == 1025.5
