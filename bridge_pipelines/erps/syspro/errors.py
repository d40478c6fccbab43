"""SYSPRO's error shapes, turned into the shared error classes of `bridge_pipelines.errors`.

e.net Solutions answers most failures with HTTP 200, so the class is read from the body:

```
answer                                        call          class
HTTP 200 body `ERROR...` on Logon             logon         ConfigError (wrong credentials)
HTTP 200 body `ERROR...` elsewhere            any           SessionError -> re-logon, once
  ... again after the re-logon                post/setup    RejectedByErpError (message kept)
  ... again, and it names the session         any           RetryableError (sessions fight)
`e.net exception 100000`                      any           ConfigError (object not licensed)
`ErrorDescription` inside the output XML      post/setup    RejectedByErpError (message kept)
  ... naming a closed / not open period       post          PeriodClosedError (needs review)
429                                           any           RetryableError (Retry-After kept)
connect error (nothing sent)                  any           RetryableError
5xx, timeout, reset, truncated XML            post/setup    NeedsLookupError (may have landed)
5xx, timeout, reset, truncated XML            query/read    RetryableError
401 / 403 / 404                               any           ConfigError (auth or URL)
```

Every message that quotes SYSPRO's text goes through `redact`, so a secret that SYSPRO (or a
proxy) echoes never reaches a log or an exception.
"""

import re

from bridge_pipelines.erps.session import SessionExpiredError
from bridge_pipelines.erps.values import quoted
from bridge_pipelines.errors import ConfigError, PeriodClosedError, RejectedByErpError
from bridge_pipelines.redaction import redact

UNLICENSED_MARKER = "e.net exception 100000"
# [I] SYSPRO's wording for a period that takes no postings was not found; an error naming a
# period (or month) as closed, locked or not open is read as one.
_PERIOD_REFUSED = re.compile(
    r"\b(period|month)\b.*\b(closed|locked|not (yet )?open)\b", re.IGNORECASE
)


class SessionError(SessionExpiredError):
    """SYSPRO answered `ERROR...` to a call carrying a UserId: the session may have ended.

    The client logs on again and repeats the call once (a post looks itself up first). It is a
    `RetryableError` because nothing was applied: e.net checks the session before it runs the
    business object. `detail` is SYSPRO's text, quoted and redacted.
    """

    def __init__(self, message: str) -> None:
        quoted = quote(message)
        super().__init__(f"SYSPRO refused the call: {quoted}", quoted)


class SysproRejectedError(RejectedByErpError):
    """A business object refused the document; `messages` are SYSPRO's, quoted and redacted."""

    def __init__(self, message: str, response: str, messages: tuple[str, ...]) -> None:
        super().__init__(message, response)
        self.messages = messages


class SysproPeriodClosedError(SysproRejectedError, PeriodClosedError):
    """APSTIN refused the invoice because its posting period is closed or not open."""


def quote(text: str) -> str:
    """SYSPRO's answer, shortened and with secrets masked, to put in a message."""
    return quoted(text)


def is_error_body(text: str) -> bool:
    """True for e.net's plain-text failure answer (HTTP 200, body starting `ERROR`)."""
    return text.lstrip().lstrip('"').upper().startswith("ERROR")


def is_unlicensed(text: str) -> bool:
    """True for the answer to a business object the SYSPRO licence does not cover."""
    return UNLICENSED_MARKER in text.lower()


def names_the_session(text: str) -> bool:
    """True when an `ERROR` text is about the UserId/session rather than the document."""
    lowered = text.lower()
    return "userid" in lowered or "session" in lowered or "logon" in lowered


def logon_refused(operator: str, company: str, body: str) -> ConfigError:
    """Wrong operator, password or company: stop the tenant, never retry."""
    return ConfigError(
        f"SYSPRO refused the logon of operator {operator!r} to company {company!r}: "
        f"{quote(body)}; check the tenant's erp.username, erp.password and erp.company"
    )


def unlicensed(business_object: str, body: str) -> ConfigError:
    """e.net exception 100000: the business object is not licensed for e.net on this server."""
    return ConfigError(
        f"SYSPRO business object {business_object} is not licensed for e.net Solutions "
        f"({quote(body)}); ask the customer to license it"
    )


def rejected(business_object: str, messages: list[str], response: str) -> RejectedByErpError:
    """The business object refused the document; SYSPRO's messages and full answer are kept."""
    quoted = tuple(quote(m) for m in messages)
    period = bool(messages) and all(_PERIOD_REFUSED.search(m) for m in messages)
    kind = SysproPeriodClosedError if period else SysproRejectedError
    return kind(
        f"SYSPRO {business_object} refused it: " + "; ".join(quoted), redact(response), quoted
    )
