"""The operator password never appears in an exception, its repr or a log line."""

import logging

import pytest
from pydantic import SecretStr

from bridge_pipelines.errors import BridgeError
from bridge_pipelines_tests.integration.erps.syspro.helpers import adapter_for, invoice
from bridge_pipelines_tests.support.leaks import Secret, needles

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


LOGGERS = ("", "httpx", "httpcore", "bridge_pipelines", "tenacity", "urllib3")
ODD_PASSWORDS = [
    "Op3rator;Tail-9931",  # `;` ends the `password=` shape
    "p@ss w/rd&x=1'Tail",  # escaped by the client: %40, %20 or +, %2F, %26, %3D, %27
    'quo"te,Tail;9931',
    "päss€wörd-Tail-9931",
    "Tail\\back%2Fslash",
]


@pytest.mark.parametrize("password", ODD_PASSWORDS)
def test_the_logon_password_is_in_no_log_record_at_debug(
    syspro_sandbox, caplog: pytest.LogCaptureFixture, password: str
) -> None:
    """Issue 16.12: the Logon query string carries the password; no log record shows it.

    Every logger at DEBUG (httpx logs each request's URL with its query string); the records
    are searched for the password in every encoding a layer could make of it.
    """
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    adapter = adapter_for(syspro_sandbox, password=SecretStr(password))
    with adapter, pytest.raises(BridgeError):
        adapter.post_invoice(invoice())  # a wrong password: Logon refused, once
    assert any("Logon" in r.getMessage() for r in caplog.records if r.name == "httpx")
    shown = (
        "\n".join(
            f"{r.name} {r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in caplog.records
        )
        + caplog.text
    )
    secret = Secret("operator password", password.encode())
    found = [
        name
        for needle, name in needles(secret).items()
        if needle.decode("utf-8", "replace") in shown
    ]
    assert found == []
    # and each of its parts longer than a few characters, in case a mask cut it in two
    assert "Tail" not in shown
