"""Injected faults in the Service Layer's dialect; the *_after_commit ones really commit."""

import time

import httpx
import pytest

from bridge_pipelines_tests.contract.sap_b1 import payloads

pytestmark = [pytest.mark.contract, pytest.mark.faults]
POST = "*/PurchaseInvoices"


@pytest.fixture
def session(sapb1_sandbox):
    return sapb1_sandbox.login()


def _refs(sandbox) -> list[str]:
    return [d["NumAtCard"] for d in sandbox.admin.documents()]


def _post(sandbox, session, timeout=10.0):
    return sandbox.request("POST", "PurchaseInvoices", session, json=payloads.service_invoice(),
                           timeout=timeout)  # fmt: skip


@pytest.mark.parametrize("status", [500, 502, 503])
def test_sapb1_fault_error_before_commit_writes_nothing(sapb1_sandbox, session, status):
    sapb1_sandbox.admin.arm_fault("error_before_commit", method="POST", path=POST, status=status)
    assert _post(sapb1_sandbox, session).status_code == status
    assert _refs(sapb1_sandbox) == []
    assert _post(sapb1_sandbox, session).status_code == 201


def test_sapb1_fault_error_after_commit_wrote_the_invoice(sapb1_sandbox, session):
    sapb1_sandbox.admin.arm_fault("error_after_commit", method="POST", path=POST, status=502)
    response = _post(sapb1_sandbox, session)
    assert response.status_code == 502 and "Proxy Error" in response.text
    assert _refs(sapb1_sandbox) == ["INV-1001"]
    lookup = sapb1_sandbox.request("GET", "PurchaseInvoices", session, params={
        "$filter": "CardCode eq 'V10001' and NumAtCard eq 'INV-1001'"})  # fmt: skip
    assert len(lookup.json()["value"]) == 1


def test_sapb1_fault_hang_after_commit_wrote_the_invoice(sapb1_sandbox, session):
    sapb1_sandbox.admin.arm_fault("hang_after_commit", method="POST", path=POST, seconds=30)
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        _post(sapb1_sandbox, session, timeout=0.5)
    assert time.monotonic() - started < 5
    assert _refs(sapb1_sandbox) == ["INV-1001"]


def test_sapb1_fault_reset_after_commit_wrote_the_invoice(sapb1_sandbox, session):
    sapb1_sandbox.admin.arm_fault("reset_after_commit", method="POST", path=POST)
    with pytest.raises(httpx.TransportError):
        _post(sapb1_sandbox, session)
    assert _refs(sapb1_sandbox) == ["INV-1001"]


def test_sapb1_fault_garbage_is_truncated_json_after_commit(sapb1_sandbox, session):
    sapb1_sandbox.admin.arm_fault("garbage", method="POST", path=POST)
    response = _post(sapb1_sandbox, session)
    with pytest.raises(ValueError):
        response.json()
    assert _refs(sapb1_sandbox) == ["INV-1001"]


def test_sapb1_fault_expire_session_ends_it_with_301(sapb1_sandbox, session):
    sapb1_sandbox.admin.arm_fault("expire_session", method="POST", path=POST)
    response = _post(sapb1_sandbox, session)
    assert response.status_code == 401 and response.json()["error"]["code"] == 301
    assert sapb1_sandbox.request("GET", "Projects", session).status_code == 401
    assert _refs(sapb1_sandbox) == []


def test_sapb1_fault_auth_fail_on_login(sapb1_sandbox):
    sapb1_sandbox.admin.arm_fault("auth_fail", path="*/Login")
    response = sapb1_sandbox.login_response()
    assert response.status_code == 401 and response.json()["error"]["code"] == -304


def test_sapb1_fault_validation_is_a_field_error(sapb1_sandbox, session):
    sapb1_sandbox.admin.arm_fault("validation", method="POST", path=POST, message="Period closed")
    response = _post(sapb1_sandbox, session)
    assert response.status_code == 400
    assert response.json()["error"]["message"]["value"] == "Period closed"
    assert _refs(sapb1_sandbox) == []


def test_sapb1_fault_rate_limit_answers_as_the_load_balancer(sapb1_sandbox, session):
    sapb1_sandbox.admin.arm_fault("rate_limit", path=POST)
    response = _post(sapb1_sandbox, session)
    assert response.status_code == 503 and "Retry-After" not in response.headers
    assert _refs(sapb1_sandbox) == []


def test_sapb1_fault_latency_delays_the_answer(sapb1_sandbox, session):
    sapb1_sandbox.admin.arm_fault("latency", path="*/Projects", ms=300)
    started = time.monotonic()
    assert sapb1_sandbox.request("GET", "Projects", session).status_code == 200
    assert time.monotonic() - started >= 0.3
