"""Logon, Logoff and sessions as e.net Solutions REST answers them."""

import re

import httpx
import pytest

from bridge_pipelines_tests.contract.syspro import payloads
from bridge_pipelines_tests.contract.syspro.xml import first

pytestmark = pytest.mark.contract
GUID = re.compile(r"^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$")


def _query_invoices(sandbox, user_id: str) -> httpx.Response:
    return sandbox.query(user_id, payloads.comfnd("ApSupplier", [("Supplier", "EQ", "SUP00001")]))


def test_syspro_logon_returns_json_quoted_session_guid(syspro_sandbox):
    response = syspro_sandbox.logon_response()
    assert response.status_code == 200
    assert response.text.startswith('"') and response.text.endswith('"')
    assert GUID.match(response.text.strip('"'))


def test_syspro_logon_returns_plain_guid_when_configured(syspro_sandbox):
    syspro_sandbox.admin.configure(logon_response_format="plain")
    response = syspro_sandbox.logon_response()
    assert GUID.match(response.text)


def test_syspro_logon_accepts_empty_company_password(syspro_sandbox):
    assert syspro_sandbox.company_password == ""
    assert GUID.match(syspro_sandbox.logon())


def test_syspro_logon_failure_is_http_200_error_body(syspro_sandbox):
    response = syspro_sandbox.logon_response(OperatorPassword="wrong")
    assert response.status_code == 200
    assert response.text == "ERROR: Invalid operator password"
    unknown = syspro_sandbox.logon_response(Operator="NOBODY")
    assert unknown.status_code == 200 and unknown.text.startswith("ERROR")
    company = syspro_sandbox.logon_response(CompanyId="ZZZ")
    assert company.status_code == 200 and company.text.startswith("ERROR")


def test_syspro_logon_missing_parameter_is_refused(syspro_sandbox):
    response = syspro_sandbox.call(
        "Logon", Operator=syspro_sandbox.operator, OperatorPassword=syspro_sandbox.password,
        CompanyId=syspro_sandbox.company,
    )  # fmt: skip
    assert response.text.startswith("ERROR") and "CompanyPassword" in response.text
    assert not GUID.match(response.text.strip('"'))


def test_syspro_second_logon_kills_first_session(syspro_sandbox):
    first_session = syspro_sandbox.logon()
    second_session = syspro_sandbox.logon()
    assert first_session != second_session
    assert _query_invoices(syspro_sandbox, first_session).text == "ERROR: Invalid UserId"
    assert _query_invoices(syspro_sandbox, second_session).text.startswith("<?xml")


def test_syspro_sessions_are_reused_for_many_calls(syspro_sandbox):
    user_id = syspro_sandbox.logon()
    for number in range(3):
        response = syspro_sandbox.post(user_id, payloads.ap_invoice(invoice=f"R-{number}"))
        assert first(response.content, "ItemsProcessed") == "000001"


def test_syspro_logoff_returns_true_and_ends_session(syspro_sandbox):
    user_id = syspro_sandbox.logon()
    response = syspro_sandbox.call("Logoff", UserId=user_id)
    assert response.status_code == 200 and response.text == "true"
    assert _query_invoices(syspro_sandbox, user_id).text == "ERROR: Invalid UserId"


def test_syspro_session_expires_after_idle_timeout(syspro_sandbox):
    user_id = syspro_sandbox.logon()
    syspro_sandbox.admin.advance_clock(19 * 60)
    assert _query_invoices(syspro_sandbox, user_id).status_code == 200
    assert _query_invoices(syspro_sandbox, user_id).text.startswith("<?xml")  # timer restarted
    syspro_sandbox.admin.advance_clock(21 * 60)
    response = _query_invoices(syspro_sandbox, user_id)
    assert response.status_code == 200
    assert response.text.startswith("ERROR") and "Invalid UserId" in response.text


def test_syspro_session_idle_timeout_is_configurable(syspro_sandbox):
    syspro_sandbox.admin.configure(session_idle_minutes=1)
    user_id = syspro_sandbox.logon()
    syspro_sandbox.admin.advance_clock(61)
    assert _query_invoices(syspro_sandbox, user_id).text == "ERROR: Invalid UserId"


def test_syspro_endpoints_are_get_only(syspro_sandbox):
    for endpoint in ("Logon", "Logoff", "Transaction/Post", "Query/Query", "Setup/Add"):
        response = httpx.post(f"{syspro_sandbox.rest_url}/{endpoint}", data={"UserId": "x"})
        assert response.status_code == 405, endpoint
        assert "GET" in response.headers["allow"]


def test_syspro_unlicensed_business_object_is_enet_exception_100000(syspro_sandbox):
    user_id = syspro_sandbox.logon()
    response = syspro_sandbox.post(user_id, "<PostArPayment/>", business_object="ARSTPY")
    assert response.status_code == 200
    assert "e.net exception 100000" in response.text
    syspro_sandbox.admin.configure(licensed_business_objects=["APSSSP", "COMFND"])
    refused = syspro_sandbox.post(user_id, payloads.ap_invoice())
    assert "e.net exception 100000" in refused.text
    assert syspro_sandbox.admin.documents() == []
