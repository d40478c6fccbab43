"""The operator password never appears in an exception, its repr or a log line."""

import logging

import pytest
from pydantic import SecretStr

from bridge_pipelines.errors import BridgeError
from bridge_pipelines_tests.integration.erps.syspro.helpers import adapter_for, invoice

CANARY = "Canary#Secret-7731"


def test_password_never_in_exceptions_or_logs(syspro_sandbox, caplog):
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    adapter = adapter_for(syspro_sandbox, password=SecretStr(CANARY))
    texts.append(repr(adapter.settings))
    with adapter:
        for call in (lambda: adapter.post_invoice(invoice()), lambda: list(adapter.read_vendors())):
            with pytest.raises(BridgeError) as caught:
                call()
            texts += [str(caught.value), repr(caught.value), str(caught.value.__cause__)]
    # A proxy echoing the query string into an error: SYSPRO's text is quoted redacted.
    syspro_sandbox.admin.arm_fault("error_after_commit", path="*/Logon", status=500)
    with adapter_for(syspro_sandbox, password=SecretStr(CANARY)) as adapter:
        with pytest.raises(BridgeError) as caught:
            adapter.post_invoice(invoice())
        texts.append(str(caught.value))
    assert caplog.records  # the client did log (logon attempts, retries)
    everything = "\n".join(texts) + caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    assert CANARY not in everything
