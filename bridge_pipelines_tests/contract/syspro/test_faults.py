"""Injected faults: the *_after_commit ones write the invoice, the others write nothing."""

import time

import httpx
import pytest
from lxml import etree

from bridge_pipelines_tests.contract.syspro import payloads
from bridge_pipelines_tests.contract.syspro.xml import errors, first

pytestmark = [pytest.mark.contract, pytest.mark.faults]
POST = "*/Transaction/Post"


def _invoices(sandbox) -> list[str]:
    return [d["Invoice"] for d in sandbox.admin.documents()]


@pytest.mark.parametrize("status", [500, 502, 503])
def test_syspro_fault_error_before_commit_writes_nothing(syspro_sandbox, status):
    user_id = syspro_sandbox.logon()
    syspro_sandbox.admin.arm_fault("error_before_commit", path=POST, status=status)
    response = syspro_sandbox.post(user_id, payloads.ap_invoice())
    assert response.status_code == status
    assert _invoices(syspro_sandbox) == []
    retry = syspro_sandbox.post(user_id, payloads.ap_invoice())  # count=1: the fault is spent
    assert first(retry.content, "ItemsProcessed") == "000001"
    assert _invoices(syspro_sandbox) == ["INV-1001"]


def test_syspro_fault_error_after_commit_wrote_the_invoice(syspro_sandbox):
    user_id = syspro_sandbox.logon()
    syspro_sandbox.admin.arm_fault("error_after_commit", path=POST, status=500)
    response = syspro_sandbox.post(user_id, payloads.ap_invoice())
    assert response.status_code == 500
    assert _invoices(syspro_sandbox) == ["INV-1001"]
    resend = syspro_sandbox.post(user_id, payloads.ap_invoice())  # a blind resend is refused
    assert errors(resend.content) == ["Invoice 'INV-1001' already exists for supplier 'SUP00001'"]


def test_syspro_fault_hang_after_commit_wrote_the_invoice(syspro_sandbox):
    user_id = syspro_sandbox.logon()
    syspro_sandbox.admin.arm_fault("hang_after_commit", path=POST, seconds=30)
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        syspro_sandbox.post(user_id, payloads.ap_invoice(), timeout=0.5)
    assert time.monotonic() - started < 5
    assert _invoices(syspro_sandbox) == ["INV-1001"]


def test_syspro_fault_hang_gives_up_after_its_bound(syspro_sandbox):
    user_id = syspro_sandbox.logon()
    syspro_sandbox.admin.arm_fault("hang_after_commit", path=POST, seconds=0.3)
    with pytest.raises(httpx.RemoteProtocolError):
        syspro_sandbox.post(user_id, payloads.ap_invoice(), timeout=10)
    assert _invoices(syspro_sandbox) == ["INV-1001"]


def test_syspro_fault_reset_after_commit_wrote_the_invoice(syspro_sandbox):
    user_id = syspro_sandbox.logon()
    syspro_sandbox.admin.arm_fault("reset_after_commit", path=POST)
    with pytest.raises(httpx.ReadError) as caught:  # ECONNRESET, not a clean close
        syspro_sandbox.post(user_id, payloads.ap_invoice())
    assert "Connection reset by peer" in str(caught.value)
    assert _invoices(syspro_sandbox) == ["INV-1001"]


def test_syspro_fault_garbage_is_truncated_xml_after_commit(syspro_sandbox):
    user_id = syspro_sandbox.logon()
    syspro_sandbox.admin.arm_fault("garbage", path=POST)
    response = syspro_sandbox.post(user_id, payloads.ap_invoice())
    assert response.status_code == 200
    assert response.content.startswith(b"<?xml")
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(response.content)
    assert _invoices(syspro_sandbox) == ["INV-1001"]


def test_syspro_fault_expire_session_ends_the_session(syspro_sandbox):
    user_id = syspro_sandbox.logon()
    syspro_sandbox.admin.arm_fault("expire_session", path=POST)
    response = syspro_sandbox.post(user_id, payloads.ap_invoice())
    assert response.status_code == 200 and response.text == "ERROR: Invalid UserId"
    assert syspro_sandbox.post(user_id, payloads.ap_invoice()).text == "ERROR: Invalid UserId"
    assert _invoices(syspro_sandbox) == []
    fresh = syspro_sandbox.logon()
    assert (
        first(syspro_sandbox.post(fresh, payloads.ap_invoice()).content, "ItemsProcessed")
        == "000001"
    )


def test_syspro_fault_auth_fail_is_the_bad_password_answer(syspro_sandbox):
    syspro_sandbox.admin.arm_fault("auth_fail", path="*/Logon")
    response = syspro_sandbox.logon_response()
    assert response.status_code == 200 and response.text == "ERROR: Invalid operator password"
    assert syspro_sandbox.logon()  # spent


def test_syspro_fault_validation_is_an_error_inside_the_xml(syspro_sandbox):
    user_id = syspro_sandbox.logon()
    syspro_sandbox.admin.arm_fault("validation", path=POST, message="Posting period is closed")
    response = syspro_sandbox.post(user_id, payloads.ap_invoice())
    assert response.status_code == 200
    assert errors(response.content) == ["Posting period is closed"]
    assert _invoices(syspro_sandbox) == []


@pytest.mark.parametrize("retry_after", [None, 7])
def test_syspro_fault_rate_limit_with_and_without_retry_after(syspro_sandbox, retry_after):
    user_id = syspro_sandbox.logon()
    syspro_sandbox.admin.arm_fault("rate_limit", path=POST, retry_after=retry_after)
    response = syspro_sandbox.post(user_id, payloads.ap_invoice())
    assert response.status_code == 429
    assert response.headers.get("retry-after") == (None if retry_after is None else "7")
    assert _invoices(syspro_sandbox) == []


def test_syspro_fault_latency_delays_the_answer(syspro_sandbox):
    user_id = syspro_sandbox.logon()
    syspro_sandbox.admin.arm_fault("latency", path=POST, ms=400)
    started = time.monotonic()
    response = syspro_sandbox.post(user_id, payloads.ap_invoice())
    assert time.monotonic() - started >= 0.4
    assert first(response.content, "ItemsProcessed") == "000001"


def test_syspro_fault_count_and_query_match(syspro_sandbox):
    user_id = syspro_sandbox.logon()
    syspro_sandbox.admin.arm_fault(
        "error_before_commit", path=POST, query_contains="BusinessObject=APSTIN", count=2
    )
    lookup = syspro_sandbox.query(user_id, payloads.comfnd("ApSupplier", [("Supplier", "EQ", "X")]))
    assert lookup.status_code == 200  # not a match: another path
    statuses = [syspro_sandbox.post(user_id, payloads.ap_invoice()).status_code for _ in range(3)]
    assert statuses == [500, 500, 200]
    assert syspro_sandbox.admin.faults() == []


def test_syspro_fault_probability_fires_on_some_requests(syspro_sandbox):
    syspro_sandbox.admin.arm_fault("error_before_commit", path="*/Logon", probability=0.5)
    statuses = [syspro_sandbox.logon_response().status_code for _ in range(40)]
    assert 0 < statuses.count(500) < 40
    syspro_sandbox.admin.clear_faults()
    assert syspro_sandbox.logon_response().status_code == 200


def test_syspro_bad_fault_is_refused(syspro_sandbox):
    response = httpx.post(
        f"{syspro_sandbox.base_url}/_sandbox/faults", json={"action": "explode", "path": POST}
    )
    assert response.status_code == 400
