"""The admin side: rate limits, request log with secrets masked, reset, restart, seed."""

import time

import httpx
import pytest

from bridge_pipelines.sandbox.syspro.seed import SYSPRO_SEED
from bridge_pipelines_tests.contract.syspro import payloads
from bridge_pipelines_tests.contract.syspro.xml import first

pytestmark = pytest.mark.contract


def test_syspro_rate_limit_answers_429_with_retry_after(syspro_sandbox):
    syspro_sandbox.admin.configure(requests_per_minute=60, burst=2)
    statuses = [syspro_sandbox.logon_response() for _ in range(4)]
    assert [r.status_code for r in statuses[:2]] == [200, 200]
    limited = [r for r in statuses if r.status_code == 429]
    assert limited and int(limited[0].headers["retry-after"]) >= 1
    syspro_sandbox.admin.configure(rate_limit_retry_after=False)
    time.sleep(0.01)
    assert "retry-after" not in syspro_sandbox.logon_response().headers
    syspro_sandbox.admin.configure(requests_per_minute=0)
    assert syspro_sandbox.logon_response().status_code == 200


def test_syspro_rate_limit_lets_a_paced_client_through(syspro_sandbox):
    syspro_sandbox.admin.configure(requests_per_minute=600)  # 10 a second, burst of 10
    started = time.monotonic()
    statuses = []
    for n in range(12):
        statuses.append(syspro_sandbox.logon_response().status_code)
        time.sleep(max(0.0, started + (n + 1) * 0.1 - time.monotonic()))
    assert statuses.count(429) == 0


def test_syspro_configured_latency_applies_to_every_call(syspro_sandbox):
    syspro_sandbox.admin.configure(latency_ms=150)
    started = time.monotonic()
    syspro_sandbox.logon()
    assert time.monotonic() - started >= 0.15


def test_syspro_unknown_setting_is_refused(syspro_sandbox):
    response = httpx.post(f"{syspro_sandbox.base_url}/_sandbox/config", json={"rpm": 5})
    assert response.status_code == 400


def test_syspro_request_log_masks_secrets(syspro_sandbox):
    user_id = syspro_sandbox.logon()
    syspro_sandbox.odata("ApSupplier")
    log = syspro_sandbox.admin.requests()
    text = repr(log)
    assert syspro_sandbox.password not in text and user_id not in text
    logon = next(r for r in log if r["path"].endswith("/Logon"))
    assert "OperatorPassword=***" in logon["query"] and "Operator=BRIDGE" in logon["query"]
    odata = next(r for r in log if "SYSPROOData" in r["path"])
    assert odata["headers"]["authorization"] == "Basic ***"


def test_syspro_reset_restores_the_demo_company(syspro_sandbox):
    user_id = syspro_sandbox.logon()
    syspro_sandbox.post(user_id, payloads.ap_invoice())
    syspro_sandbox.admin.arm_fault("latency", ms=1)
    syspro_sandbox.admin.reset()
    assert syspro_sandbox.admin.documents() == [] and syspro_sandbox.admin.faults() == []
    assert syspro_sandbox.post(user_id, payloads.ap_invoice()).text == "ERROR: Invalid UserId"


def test_syspro_seed_exposes_mapping_tables(syspro_sandbox):
    seed = syspro_sandbox.admin.seed()
    assert seed["supplier_map"]["V-0001"] == "SUP00001"
    assert "V-0012" not in seed["supplier_map"]  # missing from the ERP on purpose
    assert seed["ledger_map"]["6100"] == "10-6100" and "6950" not in seed["ledger_map"]
    assert seed["analysis_map"]["CC-EAST"] == "CC-EAST"
    assert seed == {**SYSPRO_SEED.to_json(), **{k: seed[k] for k in ("rest_root", "odata_root")}}


def test_syspro_state_survives_a_restart(syspro_sandbox):
    user_id = syspro_sandbox.logon()
    syspro_sandbox.post(user_id, payloads.ap_invoice())
    syspro_sandbox.admin.arm_fault("error_before_commit", path="*/Query/Query")
    syspro_sandbox.admin.advance_clock(60)
    port = syspro_sandbox.running.port
    syspro_sandbox.running.kill()  # a crash, not a clean stop
    syspro_sandbox.running.start()
    assert syspro_sandbox.running.port == port
    assert [d["Invoice"] for d in syspro_sandbox.admin.documents()] == ["INV-1001"]
    assert len(syspro_sandbox.admin.faults()) == 1
    # The session survived too, and journal numbers continue.
    second = syspro_sandbox.post(user_id, payloads.ap_invoice(invoice="INV-1002"))
    assert first(second.content, "Journal") == "2"
