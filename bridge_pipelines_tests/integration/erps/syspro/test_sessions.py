"""The adapter's e.net sessions: one logon per batch, always a logoff, one re-logon on expiry."""

import socket

import pytest
from pydantic import SecretStr

from bridge_pipelines.erps.base import ErpAdapter
from bridge_pipelines.errors import ConfigError, RetryableError
from bridge_pipelines_tests.contract.syspro import payloads as raw
from bridge_pipelines_tests.integration.erps.syspro.helpers import (
    adapter_for,
    calls,
    documents,
    invoice,
)


def test_adapter_satisfies_the_protocol(syspro_sandbox):
    with adapter_for(syspro_sandbox) as adapter:
        assert isinstance(adapter, ErpAdapter)
        assert adapter.lookup_is_read_after_write_consistent is True


def test_one_logon_per_batch_and_logoff_ends_the_session(syspro_sandbox):
    with adapter_for(syspro_sandbox) as adapter:
        for number in ("INV-1", "INV-2", "INV-3"):
            adapter.post_invoice(invoice(number))
        assert adapter.find_by_external_ref(invoice("INV-2").ref)
    logons, logoffs = calls(syspro_sandbox, "/Logon"), calls(syspro_sandbox, "/Logoff")
    assert len(logons) == 1 and len(logoffs) == 1 and logoffs[0]["status"] == 200
    # Every Logon parameter is sent, the empty company password too.
    assert "CompanyPassword=" in logons[0]["query"]
    # The session is gone: its GUID (last 4 chars kept in the masked log) no longer works.
    tail = logoffs[0]["query"].split("UserId=***")[1][:4]
    posts = calls(syspro_sandbox, "/Transaction/Post")
    assert all(p["query"].split("UserId=***")[1][:4] == tail for p in posts)
    assert documents(syspro_sandbox) == [("SUP00001", f"INV-{n}") for n in (1, 2, 3)]


def test_logoff_runs_when_the_batch_fails(syspro_sandbox):
    with pytest.raises(RuntimeError), adapter_for(syspro_sandbox) as adapter:
        adapter.post_invoice(invoice())
        raise RuntimeError("the batch broke")
    assert len(calls(syspro_sandbox, "/Logoff")) == 1


def test_old_session_is_dead_after_close(syspro_sandbox):
    adapter = adapter_for(syspro_sandbox)
    adapter.post_invoice(invoice())
    guid = adapter.client._user_id
    adapter.close()
    answer = syspro_sandbox.query(guid, raw.comfnd("ApSupplier", [("Supplier", "EQ", "SUP00001")]))
    assert answer.text.startswith("ERROR")


def test_no_logon_for_master_data_reads(syspro_sandbox):
    with adapter_for(syspro_sandbox) as adapter:
        assert list(adapter.read_gl_accounts())
    assert calls(syspro_sandbox, "/Logon") == [] and calls(syspro_sandbox, "/Logoff") == []


def test_plain_text_guid_is_accepted(syspro_sandbox):
    syspro_sandbox.admin.configure(logon_response_format="plain")
    with adapter_for(syspro_sandbox) as adapter:
        adapter.post_invoice(invoice())
    assert documents(syspro_sandbox) == [("SUP00001", "INV-1001")]


def test_session_expiry_mid_batch_relogs_once_without_duplicate(syspro_sandbox):
    with adapter_for(syspro_sandbox) as adapter:
        adapter.post_invoice(invoice("INV-1"))
        syspro_sandbox.admin.advance_clock(21 * 60)  # past the 20-minute idle timeout
        adapter.post_invoice(invoice("INV-2"))
        adapter.post_invoice(invoice("INV-3"))
    assert len(calls(syspro_sandbox, "/Logon")) == 2
    assert documents(syspro_sandbox) == [("SUP00001", f"INV-{n}") for n in (1, 2, 3)]


def test_expired_session_on_a_lookup_is_repeated_after_relogon(syspro_sandbox):
    with adapter_for(syspro_sandbox) as adapter:
        adapter.post_invoice(invoice())
        syspro_sandbox.admin.arm_fault("expire_session", path="*/Query/Query")
        assert len(adapter.find_by_external_ref(invoice().ref)) == 1
    assert len(calls(syspro_sandbox, "/Logon")) == 2


def test_session_killed_by_another_logon_is_recovered(syspro_sandbox):
    with adapter_for(syspro_sandbox) as adapter:
        adapter.post_invoice(invoice("INV-1"))
        syspro_sandbox.logon()  # the same operator elsewhere: SYSPRO ends our session
        adapter.post_invoice(invoice("INV-2"))
    assert documents(syspro_sandbox) == [("SUP00001", "INV-1"), ("SUP00001", "INV-2")]


def test_wrong_password_is_one_config_error_without_retries(syspro_sandbox):
    adapter = adapter_for(syspro_sandbox, password=SecretStr("nope!"))
    with adapter, pytest.raises(ConfigError) as caught:
        adapter.post_invoice(invoice())
    assert "Invalid operator password" in str(caught.value)
    assert len(calls(syspro_sandbox, "/Logon")) == 1
    assert calls(syspro_sandbox, "/Transaction/Post") == []
    assert documents(syspro_sandbox) == []


def test_unlicensed_business_object_is_a_config_error(syspro_sandbox):
    syspro_sandbox.admin.configure(licensed_business_objects=["COMFND", "APSSSP"])
    with adapter_for(syspro_sandbox) as adapter, pytest.raises(ConfigError) as caught:
        adapter.post_invoice(invoice())
    assert "APSTIN" in str(caught.value) and "licensed" in str(caught.value)
    assert len(calls(syspro_sandbox, "/Transaction/Post")) == 1


def test_syspro_down_fails_cleanly_and_quickly(syspro_sandbox):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    adapter = adapter_for(syspro_sandbox, rest_url=f"http://127.0.0.1:{port}", max_attempts=3)
    with adapter, pytest.raises(RetryableError) as caught:
        adapter.post_invoice(invoice())
    assert "unreachable" in str(caught.value)
