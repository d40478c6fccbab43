"""Keep secrets out of log lines: mask every decrypted value and well-known credential shapes.

Every plain secret is registered here when it is decrypted (`tenants.credentials`), along with
the encodings it is likely to be logged in (base64, URL-encoded, JSON- and repr-escaped). Log
records are masked in two places, so that a handler added later (Dagster adds its own per run)
cannot miss the filter: a `logging.Filter` on the existing handlers, and the log record factory,
which every `Logger.makeRecord` goes through. Credential shapes are masked even when unregistered:
`Authorization` headers, `password=` / `OperatorPassword=` query parameters, `"Password": "..."`
JSON members, and each connector's own shapes (`ErpPlugin.log_patterns`: SAP B1's `B1SESSION`
cookie, SYSPRO's `UserId=` session), installed by the ERP registry.

A record is rewritten only when masking changes it; then its message is rendered (`msg % args`)
once and its traceback replaced by masked text, since a masked copy cannot be rebuilt from args.
Values shorter than `MIN_SECRET_LENGTH` are not registered: masking them would garble ordinary text.
Registering a value installs the record factory, so a decrypted secret is masked in this process
even where the entry point forgot `install_redaction`.
"""

import base64
import json
import logging
import re
import threading
import traceback
import urllib.parse
from collections.abc import Callable, Iterable
from typing import Any

MASK = "***"
MIN_SECRET_LENGTH = 4


class _State:
    """Process-wide: what is registered and whether the record factory is in place."""

    lock = threading.Lock()
    secrets: set[str] = set()  # noqa: RUF012 - deliberately shared by the whole process
    # How many live registrations each value has: session ids come and go, passwords stay.
    counts: dict[str, int] = {}  # noqa: RUF012 - deliberately shared by the whole process
    pattern: re.Pattern[str] | None = None
    factory_installed = False


_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # Authorization: Basic dXNlcjpwdw==  /  {'Authorization': 'Bearer x'}  /  authorization=...
    (re.compile(r"""(?i)(\bauthorization["']?\s*[:=]\s*["']?)[^"'\r\n,}]+"""), rf"\g<1>{MASK}"),
    # ?password=...&OperatorPassword=...&CompanyPassword=...
    (re.compile(r"""(?i)(\b\w*password=)[^&\s"',;]+"""), rf"\g<1>{MASK}"),
    # {"Password": "..."} / {'CompanyPassword': '...'}
    (re.compile(r"""(?i)(["']\w*password["']\s*:\s*["'])(?:[^"'\\]|\\.)*"""), rf"\g<1>{MASK}"),
]


def register_pattern(regex: str, replacement: str) -> None:
    """Mask a credential shape (a connector's session cookie, say) in every later log record.

    Connectors declare theirs in `ErpPlugin.log_patterns`; the registry installs them when it
    loads, so this module names no ERP. Registering the same pattern twice is a no-op.
    """
    with _State.lock:
        if any(p.pattern == regex and r == replacement for p, r in _PATTERNS):
            return
        _PATTERNS.append((re.compile(regex), replacement))


def _encodings(value: str) -> Iterable[str]:
    raw = value.encode("utf-8")
    yield value
    yield base64.b64encode(raw).decode("ascii")
    yield base64.b64encode(raw).decode("ascii").rstrip("=")
    yield base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
    yield urllib.parse.quote(value, safe="")
    yield urllib.parse.quote_plus(value)
    yield json.dumps(value)[1:-1]
    yield json.dumps(value, ensure_ascii=False)[1:-1]
    yield repr(value)[1:-1]
    # A multi-line secret (a PEM key) can be logged a line at a time.
    for raw_line in value.splitlines():
        line = raw_line.strip()
        if len(line) >= 16 and not line.startswith("-----"):
            yield line


def register_secret(value: str) -> None:
    """Mask `value` (and its common encodings) in every later log record of this process."""
    if len(value) < MIN_SECRET_LENGTH:
        return
    # Once there is something to hide, every record of the process is masked, whether or not
    # the entry point called `install_redaction`.
    _install_record_factory()
    with _State.lock:
        _State.counts[value] = _State.counts.get(value, 0) + 1
        if _State.counts[value] == 1:
            _rebuild()


def forget_secret(value: str) -> None:
    """Stop masking a value that is no longer a credential (an ended ERP session).

    Without this a process that logs in thousands of times (a long demo, a login-per-call
    client) grows one alternation per session and slows every log line down.
    """
    with _State.lock:
        count = _State.counts.get(value, 0)
        if count > 1:
            _State.counts[value] = count - 1
        elif count == 1:
            del _State.counts[value]
            _rebuild()


def _rebuild() -> None:
    """Recompute the alternation; the caller holds the lock."""
    _State.secrets = {
        e for value in _State.counts for e in _encodings(value) if len(e) >= MIN_SECRET_LENGTH
    }
    if not _State.secrets:
        _State.pattern = None
        return
    # Longest first, so a value is masked whole before any of its parts.
    alternatives = sorted(_State.secrets, key=len, reverse=True)
    _State.pattern = re.compile("|".join(re.escape(a) for a in alternatives))


def redact(text: str) -> str:
    """`text` with registered secrets and credential shapes replaced by `***`."""
    pattern = _State.pattern
    if pattern is not None:
        text = pattern.sub(MASK, text)
    for shape, replacement in _PATTERNS:
        text = shape.sub(replacement, text)
    return text


def _redact_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a broken format string must not lose the record
        message = f"{record.msg!s} {record.args!r}"
    masked = redact(message)
    if masked != message:
        record.msg = masked
        record.args = None
    if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
        record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
    if record.exc_text:
        masked_exc = redact(record.exc_text)
        if masked_exc != record.exc_text:
            record.exc_text = masked_exc
            # Formatters print exc_text when set; dropping exc_info keeps other consumers
            # from rendering the unmasked exception again.
            record.exc_info = None
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


class RedactingFilter(logging.Filter):
    """Masks secrets in a record's message, arguments, traceback and stack; never drops it."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask the record in place and let it through."""
        _redact_record(record)
        return True


_FILTER = RedactingFilter()


def _install_record_factory() -> None:
    with _State.lock:
        if _State.factory_installed:
            return
        previous: Callable[..., logging.LogRecord] = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            _redact_record(record)
            return record

        logging.setLogRecordFactory(factory)
        _State.factory_installed = True


def _add_filter(target: logging.Logger | logging.Handler) -> None:
    if not any(isinstance(f, RedactingFilter) for f in target.filters):
        target.addFilter(_FILTER)


def install_redaction(logger: logging.Logger | None = None) -> None:
    """Mask secrets in all logging of this process; safe to call any number of times.

    Adds the filter to the handlers of `logger` (default: the root and `dagster` loggers) and
    installs a record factory that masks every record as it is created.
    """
    _install_record_factory()
    loggers = (
        [logger] if logger is not None else [logging.getLogger(), logging.getLogger("dagster")]
    )
    for each in loggers:
        _add_filter(each)
        for handler in each.handlers:
            _add_filter(handler)
