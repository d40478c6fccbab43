"""SAP B1 Service Layer error bodies, turned into the shared classes of `bridge_pipelines.errors`.

The Service Layer answers failures with an HTTP status and a JSON body in one of two shapes:

- v1: `{"error": {"code": 301, "message": {"lang": "en-us", "value": "Invalid session..."}}}`
- v2: `{"error": {"code": "301", "message": "Invalid session...", "details": [...]}}`

`parse_error` reads both (and tolerates anything else) into one `SlError`: the code as an int,
the message, and the property the message names (`Property 'X' of ...`, `[OCRD.CardCode]`), so
the ledger keeps a located message such as `CardCode: Code undefined [OCRD.CardCode] (-5002)`.

```
answer                                   call      class
401, code 301 (session expired/garbage)  any       SessionExpiredError -> re-login (post: lookup)
401 on Login (-304 password, -306 DB)    login     ConfigError, raised once, never retried
500, code 299 (parallel logins)          login     transient: backoff with jitter, no storm
400 (-1000, -5002, -10, 201, ...)        write     RejectedByErpError (message, code, field kept)
400, -4013 "Posting period locked" or    write     PeriodClosedError (needs review, never
  "Date deviates from permissible range"             re-dated)
404, code -2028 (no such key)            read      "not found" for the caller
403 / 404 on an entity set / 405         any       ConfigError (URL, licence, rights)
5xx, timeout, reset, truncated JSON      write     NeedsLookupError (may have been committed)
5xx, timeout, reset, truncated JSON      read      retried with backoff (reads are safe)
```

Every quoted text goes through `redact`: a password or session id echoed back never reaches a
log line or an exception.
"""

import json
import re
from dataclasses import dataclass

from bridge_pipelines.erps import session
from bridge_pipelines.erps.values import quoted
from bridge_pipelines.errors import ConfigError, PeriodClosedError, RejectedByErpError
from bridge_pipelines.redaction import redact

SESSION_EXPIRED = 301
PARALLEL_LOGIN = 299
WRONG_PASSWORD = -304
UNKNOWN_COMPANY = -306
NO_MATCHING_RECORDS = -2028
# [C] a document dated in a locked posting period: -4013 "Posting period locked; specify an
# alternative date"; a date outside the period's permitted window: "Date deviates from
# permissible range" (its code not found [I]: matched by text).
PERIOD_LOCKED = -4013
_PERIOD_REFUSED = re.compile(
    r"posting period locked|deviates from permissible range|deviates from all company",
    re.IGNORECASE,
)
_PROPERTY = re.compile(r"Property '([^']+)'")
_COLUMN = re.compile(r"\[(?:[A-Z0-9_]+)\.([A-Za-z0-9_]+)\]")


@dataclass(frozen=True)
class SlError:
    """One Service Layer error body: code (None when absent), message, the field it names."""

    code: int | None
    message: str
    field: str | None = None

    def located(self) -> str:
        """`field: message (code)`, the text kept in the ledger."""
        where = f"{self.field}: " if self.field else ""
        code = f" ({self.code})" if self.code is not None else ""
        return quote(f"{where}{self.message}{code}")


class SessionExpiredError(session.SessionExpiredError):
    """401 with code 301: the session ended; nothing was processed (checked before any work).

    The client logs in again and repeats a read once; a post looks itself up first.
    """

    def __init__(self, error: SlError) -> None:
        super().__init__(f"SAP B1 session expired: {error.located()}", error.located())
        self.sl_error = error


class SapB1RejectedError(RejectedByErpError):
    """SAP refused the document; its error code and the field it names are kept."""

    def __init__(
        self, message: str, response: str, sap_code: int | None, field: str | None
    ) -> None:
        super().__init__(message, response)
        self.sap_code = sap_code
        self.field = field


class SapB1PeriodClosedError(SapB1RejectedError, PeriodClosedError):
    """SAP refused the document because its posting period is locked or out of range."""


def quote(text: str) -> str:
    """SAP's text, on one line, shortened, secrets masked."""
    return quoted(text)


def _code(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _field(message: str) -> str | None:
    for pattern in (_PROPERTY, _COLUMN):
        match = pattern.search(message)
        if match:
            return match.group(1)
    return None


def parse_error(text: str) -> SlError:
    """Either error shape (or a non-JSON body) as one `SlError`; never raises."""
    try:
        body = json.loads(text)
    except ValueError:
        return SlError(None, text.strip() or "(empty body)")
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return SlError(None, text.strip() or "(empty body)")
    raw = error.get("message")
    if isinstance(raw, dict):  # v1: {"lang": ..., "value": ...}
        message = str(raw.get("value") or "")
    else:  # v2: a plain string
        message = "" if raw is None else str(raw)
    details = error.get("details")
    if isinstance(details, list):  # v2 may put the specific text in details
        extra = [
            str(d.get("message"))
            for d in details
            if isinstance(d, dict) and d.get("message") and str(d.get("message")) != message
        ]
        if extra:
            message = "; ".join([message, *extra]) if message else "; ".join(extra)
    return SlError(_code(error.get("code")), message.strip() or "(no message)", _field(message))


def rejected(what: str, error: SlError, response: str) -> RejectedByErpError:
    """SAP refused the document; the located message and full answer (redacted) are kept."""
    period = error.code == PERIOD_LOCKED or bool(_PERIOD_REFUSED.search(error.message))
    kind = SapB1PeriodClosedError if period else SapB1RejectedError
    return kind(
        f"SAP B1 {what} refused it: {error.located()}", redact(response), error.code, error.field
    )


def login_refused(user: str, company: str, error: SlError) -> ConfigError:
    """Wrong user, password or CompanyDB: stop the tenant, never retry."""
    hint = {
        WRONG_PASSWORD: "check erp.username and erp.password",
        UNKNOWN_COMPANY: "check erp.company (the CompanyDB)",
    }.get(error.code or 0, "check erp.username, erp.password and erp.company")
    return ConfigError(
        f"SAP B1 refused the login of {user!r} to company {company!r}: {error.located()}; {hint}"
    )
