"""The contract-based REST dialect as the sandbox answers it (erp-facts §4)."""

import pytest

from bridge_pipelines.errors import ConfigError
from bridge_pipelines_tests.contract.acumatica.conftest import VERSION, Acumatica

pytestmark = pytest.mark.contract

BILL = {
    "Vendor": {"value": "VEND0001"},
    "VendorRef": {"value": "RM-2207"},
    "Date": {"value": "2026-12-01"},
    "Description": {"value": "Rebar"},
    "Details": [
        {"Branch": {"value": "HQ"}, "Account": {"value": "52000"},
         "Subaccount": {"value": "100-000"}, "Project": {"value": "RIVERSIDE"},
         "ExtendedCost": {"value": 1000.0}},
    ],
}  # fmt: skip


def test_get_entity_lists_the_endpoint_and_its_versions(acumatica: Acumatica) -> None:
    body = acumatica.http.get("/entity").json()
    versions = [e["version"] for e in body["endpoints"] if e["name"] == "Default"]
    assert versions == ["23.200.001", "24.200.001", "25.200.001"]
    assert body["endpoints"][0]["href"] == "/entity/Default/23.200.001/"


def test_a_wrong_endpoint_or_version_answers_404(acumatica: Acumatica) -> None:
    acumatica.login()
    assert acumatica.http.get("/entity/Default/26.200.001/Vendor").status_code == 404
    assert acumatica.http.get(f"/entity/Nope/{VERSION}/Vendor").status_code == 404
    assert acumatica.http.get(acumatica.entity("Vendor")).status_code == 200


def test_a_pinned_version_the_instance_lacks_names_the_ones_it_offers(
    acumatica: Acumatica,
) -> None:
    adapter = acumatica.adapter(acumatica_endpoint_version="26.200.001")
    with adapter, pytest.raises(ConfigError) as raised:
        list(adapter.read_vendors())
    message = str(raised.value)
    assert "26.200.001" in message and "23.200.001, 24.200.001, 25.200.001" in message
    assert "erp.acumatica_endpoint_version" in message


def test_swagger_json_describes_the_version_from_the_entity_definitions(
    acumatica: Acumatica,
) -> None:
    doc = acumatica.http.get(
        acumatica.entity("swagger.json"), params={"company": "SummitRidge"}
    ).json()
    assert doc["openapi"].startswith("3.0") and doc["servers"] == [
        {"url": f"/entity/Default/{VERSION}"}
    ]
    assert {"/Bill", "/Vendor", "/PurchaseOrder", "/Check", "/Bill/ReleaseBill"} <= set(
        doc["paths"]
    )
    schemas = doc["components"]["schemas"]
    line = schemas["BillDetails"]["allOf"][1]["properties"]
    assert {"Branch", "Account", "Subaccount", "Project", "ExtendedCost"} <= set(line)
    assert line["ExtendedCost"] == {"$ref": "#/components/schemas/DecimalValue"}
    assert "412" in doc["paths"]["/Bill"]["put"]["responses"]
    instance = acumatica.http.get("/entity/swagger.json").json()
    assert {"/entity/auth/login", "/entity/auth/logout"} <= set(instance["paths"])


def test_every_field_must_be_wrapped_an_unwrapped_one_answers_400(acumatica: Acumatica) -> None:
    acumatica.login()
    response = acumatica.http.put(acumatica.entity("Bill"), json={**BILL, "VendorRef": "RM-1"})
    assert response.status_code == 400
    assert "'VendorRef' must be an object with a 'value' property" in response.json()["message"]
    row = {**BILL["Details"][0], "Account": "52000"}  # type: ignore[index]
    nested = acumatica.http.put(acumatica.entity("Bill"), json={**BILL, "Details": [row]})
    assert nested.status_code == 400 and "Details.Account" in nested.json()["message"]
    assert acumatica.bills() == []


def test_records_carry_id_row_number_custom_links_and_details_when_expanded(
    acumatica: Acumatica,
) -> None:
    acumatica.login()
    plain = acumatica.http.get(acumatica.entity("PurchaseOrder")).json()
    expanded = acumatica.http.get(
        acumatica.entity("PurchaseOrder"), params={"$expand": "Details"}
    ).json()
    first = plain[0]
    assert {"id", "rowNumber", "note", "custom", "_links"} <= set(first)
    assert first["OrderNbr"] == {"value": "PO004512"} and "Details" not in first
    assert [r["rowNumber"] for r in plain] == list(range(1, len(plain) + 1))
    lines = expanded[0]["Details"]
    assert lines[0]["Project"] == {"value": "RIVERSIDE"} and lines[0]["rowNumber"] == 1


def test_put_upserts_by_key_and_if_none_match_star_is_create_only(acumatica: Acumatica) -> None:
    acumatica.login()
    vendor = {"VendorID": {"value": "NEWSUB"}, "VendorName": {"value": "New Sub LLC"}}
    created = acumatica.http.put(acumatica.entity("Vendor"), json=vendor)
    renamed = {**vendor, "VendorName": {"value": "New Sub, LLC"}}
    updated = acumatica.http.put(acumatica.entity("Vendor"), json=renamed)
    again = acumatica.http.put(
        acumatica.entity("Vendor"), json=vendor, headers={"If-None-Match": "*"}
    )
    assert created.status_code == updated.status_code == 200
    assert created.json()["id"] == updated.json()["id"]
    assert updated.json()["VendorName"] == {"value": "New Sub, LLC"}
    assert again.status_code == 412
    bill = acumatica.http.put(acumatica.entity("Bill"), json=BILL, headers={"If-None-Match": "*"})
    key = {"Type": {"value": "Bill"}, "ReferenceNbr": bill.json()["ReferenceNbr"]}
    existing = acumatica.http.put(
        acumatica.entity("Bill"), json={**BILL, **key}, headers={"If-None-Match": "*"}
    )
    assert existing.status_code == 412 and len(acumatica.bills()) == 1


def test_field_errors_answer_422_with_error_on_each_field(acumatica: Acumatica) -> None:
    acumatica.login()
    row = {**BILL["Details"][0], "Account": {"value": "99999"}}  # type: ignore[index]
    response = acumatica.http.put(
        acumatica.entity("Bill"), json={**BILL, "Vendor": {"value": "NOBODY"}, "Details": [row]}
    )
    assert response.status_code == 422
    body = response.json()
    assert body["Vendor"] == {"value": "NOBODY",
                              "error": "'Vendor' cannot be found in the system."}  # fmt: skip
    assert body["Details"][0]["Account"]["error"] == "'Account' cannot be found in the system."
    assert "raised at least one error" in body["error"]
    assert acumatica.bills() == []


def test_a_key_get_of_a_missing_record_answers_500_no_entity(acumatica: Acumatica) -> None:
    acumatica.login()
    response = acumatica.http.get(acumatica.entity("Bill/Bill/999999"))
    assert response.status_code == 500
    body = response.json()
    assert body["exceptionType"] == "PX.Api.ContractBased.NoEntitySatisfiesTheConditionException"
    assert body["exceptionMessage"] == "No entity satisfies the condition."
    assert body["message"] == "An error has occurred."


def test_filter_select_top_and_skip_page_without_a_next_link(acumatica: Acumatica) -> None:
    acumatica.login()
    params = {"$filter": "Active eq true", "$select": "AccountCD", "$top": "3"}
    first = acumatica.http.get(acumatica.entity("Account"), params=params).json()
    second = acumatica.http.get(acumatica.entity("Account"), params={**params, "$skip": "3"})
    assert isinstance(first, list) and len(first) == 3  # a bare array: no nextLink anywhere
    assert set(first[0]) == {"id", "rowNumber", "note", "AccountCD", "custom", "_links"}
    codes = [r["AccountCD"]["value"] for r in first + second.json()]
    assert len(set(codes)) == len(codes)
    dated = acumatica.http.get(
        acumatica.entity("PurchaseOrder"),
        params={"$filter": "Date gt datetimeoffset'2026-10-10T00:00:00+04:00' and "
                           "substringof('45', OrderNbr)"},
    ).json()  # fmt: skip
    assert [r["OrderNbr"]["value"] for r in dated] == ["PO004518", "PO004527"]
    bad = acumatica.http.get(acumatica.entity("Account"), params={"$filter": "Nope eq 1"})
    assert bad.status_code == 400


def test_release_bill_is_a_long_running_action_202_then_204(acumatica: Acumatica) -> None:
    acumatica.login()
    saved = acumatica.http.put(acumatica.entity("Bill"), json=BILL).json()
    assert saved["Status"] == {"value": "Balanced"}
    action = {"entity": {"Type": {"value": "Bill"}, "ReferenceNbr": saved["ReferenceNbr"]}}
    started = acumatica.http.post(acumatica.entity("Bill/ReleaseBill"), json=action)
    assert started.status_code == 202
    location = started.headers["location"]
    assert location.startswith(f"/entity/Default/{VERSION}/Bill/ReleaseBill/status/")
    assert [acumatica.http.get(location).status_code for _ in range(2)] == [202, 204]
    [bill] = acumatica.bills()
    assert bill["Status"] == "Open"
    again = acumatica.http.post(acumatica.entity("Bill/ReleaseBill"), json=action)
    failed = acumatica.http.get(again.headers["location"])
    assert (
        failed.status_code == 500 and "already been released" in failed.json()["exceptionMessage"]
    )
