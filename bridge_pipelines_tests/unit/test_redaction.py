import base64
import io
import json
import logging
import secrets
import urllib.parse

import pytest

from bridge_pipelines.erps import registry
from bridge_pipelines.redaction import (
    RedactingFilter,
    _State,
    forget_secret,
    install_redaction,
    redact,
    register_secret,
)

# Connectors' credential shapes (B1SESSION, UserId) are installed by the ERP registry.
registry.plugins()


@pytest.fixture
def secret():
    value = f'Sec:{secrets.token_hex(8)}/+&"é'
    register_secret(value)
    return value


@pytest.fixture
def captured():
    """A private logger writing formatted lines (with tracebacks) to a buffer, filter installed."""
    stream = io.StringIO()
    logger = logging.getLogger(f"test.redaction.{secrets.token_hex(4)}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger.addHandler(handler)
    install_redaction(logger)
    yield logger, stream
    logger.removeHandler(handler)


def test_masks_a_registered_secret_in_the_message(captured, secret):
    logger, stream = captured
    logger.info(f"connecting with {secret} now")
    assert stream.getvalue() == "INFO connecting with *** now\n"


def test_masks_a_secret_passed_as_percent_args(captured, secret):
    logger, stream = captured
    logger.warning("user %s password %r", "stampli", secret)
    logger.warning("mapping %(pw)s", {"pw": secret})
    output = stream.getvalue()
    assert secret not in output
    assert "user stampli password '***'" in output
    assert "mapping ***" in output


def test_masks_a_secret_in_a_logged_traceback(captured, secret):
    logger, stream = captured
    try:
        raise RuntimeError(f"auth failed for {secret}")
    except RuntimeError:
        logger.exception("login failed")
    output = stream.getvalue()
    assert "Traceback (most recent call last)" in output
    assert "RuntimeError: auth failed for ***" in output
    assert secret not in output


def test_masks_common_encodings_of_a_secret(secret):
    encoded = [
        base64.b64encode(secret.encode()).decode(),
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote_plus(secret),
        json.dumps(secret)[1:-1],
    ]
    for form in encoded:
        assert redact(f"<{form}>") == "<***>", form


def test_masks_credential_shapes_never_registered():
    lines = {
        "GET / Authorization: Basic dXNlcjpodW50ZXIy": "GET / Authorization: ***",
        "headers={'Authorization': 'Bearer abc.def'}": "headers={'Authorization': '***'}",
        "Cookie: B1SESSION=3c1ba5a2-77ab-11ef; ROUTEID=.node1": (
            "Cookie: B1SESSION=***; ROUTEID=.node1"
        ),
        '{"SessionId":"3c1ba5a2-77ab","Version":"1000"}': '{"SessionId":"***","Version":"1000"}',
        "GET /m3api?USER=a&password=hunter2&x=1": "GET /m3api?USER=a&password=***&x=1",
        "login?Operator=ADMIN&OperatorPassword=pw1&CompanyPassword=pw2": (
            "login?Operator=ADMIN&OperatorPassword=***&CompanyPassword=***"
        ),
        '{"UserName": "manager", "Password": "hun\\"ter2"}': (
            '{"UserName": "manager", "Password": "***"}'
        ),
    }
    for line, expected in lines.items():
        assert redact(line) == expected


def test_ordinary_text_is_left_alone(secret):
    text = "posted 3 invoices for acme in 1.2 s (password policy ok)"
    assert redact(text) == text


def test_short_values_are_not_registered():
    register_secret("ab")
    assert redact("tab and crab") == "tab and crab"


def test_install_is_idempotent_and_covers_root_handlers(secret):
    root = logging.getLogger()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root.addHandler(handler)
    try:
        install_redaction()
        install_redaction()
        assert sum(isinstance(f, RedactingFilter) for f in handler.filters) == 1
        assert sum(isinstance(f, RedactingFilter) for f in root.filters) == 1
        # a record handled straight by the handler (as a propagated child record is)
        record = logging.LogRecord("x.y", logging.ERROR, __file__, 1, "pw %s", (secret,), None)
        handler.handle(record)
    finally:
        root.removeHandler(handler)
    assert stream.getvalue() == "pw ***\n"


def test_records_are_masked_even_for_handlers_added_later(secret):
    install_redaction()
    stream = io.StringIO()
    logger = logging.getLogger(f"test.late.{secrets.token_hex(4)}")
    logger.propagate = False
    handler = logging.StreamHandler(stream)  # no filter on it: the record factory masks
    logger.addHandler(handler)
    try:
        logger.error("late %s", secret)
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue() == "late ***\n"


def test_a_forgotten_session_id_stops_costing_while_a_shared_value_stays_masked():
    """Ended sessions are forgotten: the alternation must not grow with every login."""
    password = f"pw-{secrets.token_hex(8)}"
    register_secret(password)
    before = len(_State.secrets)
    for _ in range(50):
        session = secrets.token_hex(16)
        register_secret(session)
        assert redact(f"id {session}") == "id ***"
        forget_secret(session)
    assert len(_State.secrets) == before
    # A value registered twice (two clients of one tenant) stays masked until both forget it.
    register_secret(password)
    forget_secret(password)
    assert redact(password) == "***"
