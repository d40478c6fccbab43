"""Acumatica's error bodies, turned into the shared classes of `bridge_pipelines.errors`.

Failures answer `{"message", "exceptionMessage", "exceptionType", "stackTrace"}` [C]; a 422
answers the entity back with `error` on each field that failed (and a root `error`) [C].
`parse_error` reads both into one `AcuError` whose `located()` text goes into the ledger.

```
answer                                         call    class
401                                            login   ConfigError (never retried)
401 (not logged in, session or token ended)    other   SessionExpiredError -> login again
500 "Invalid credentials" (PXException)        login   ConfigError
429 (licence limit, "API Login Limit")         any     transient: backoff with jitter
404 (endpoint name or version)                 any     ConfigError naming the versions
412 (If-None-Match: * and the key exists)      write   RecordExistsError -> look it up
422 field errors                               write   RejectedByErpError (fields kept)
422 "financial period is closed/inactive"      write   PeriodClosedError (held, not re-dated)
500 NoEntitySatisfiesTheConditionException     read    NotFoundError ("none")
5xx, timeout, reset, truncated JSON            write   NeedsLookupError
```
"""

import json
import re
from dataclasses import dataclass, field
from typing import Any

from bridge_pipelines.erps import session
from bridge_pipelines.erps.values import quoted
from bridge_pipelines.errors import BridgeError, PeriodClosedError, RejectedByErpError
from bridge_pipelines.redaction import redact

NO_ENTITY = "NoEntitySatisfiesTheConditionException"
_PERIOD = re.compile(r"financial period.*(closed|inactive|locked)", re.IGNORECASE)


@dataclass(frozen=True)
class AcuError:
    """One error body: its messages, exception type and the field errors of a 422."""

    message: str
    exception_message: str = ""
    exception_type: str = ""
    fields: dict[str, str] = field(default_factory=dict)

    def located(self) -> str:
        """`Field: error; ...` when fields failed, else the exception's (or plain) message."""
        if self.fields:
            return quoted("; ".join(f"{k}: {v}" for k, v in self.fields.items()))
        return quoted(self.exception_message or self.message)

    @property
    def text(self) -> str:
        return " ".join([self.message, self.exception_message, *self.fields.values()])


def _field_errors(body: Any, prefix: str, out: dict[str, str]) -> None:
    if isinstance(body, dict):
        for name, value in body.items():
            if isinstance(value, dict) and isinstance(value.get("error"), str):
                out[f"{prefix}{name}"] = value["error"]
            elif isinstance(value, dict) and name not in ("custom", "_links"):
                _field_errors(value, f"{prefix}{name}.", out)
            elif isinstance(value, list):
                for n, row in enumerate(value, start=1):
                    _field_errors(row, f"{prefix}{name}[{n}].", out)


def parse_error(text: str) -> AcuError:
    """Any error body (or a non-JSON page) as one `AcuError`; never raises."""
    try:
        body = json.loads(text)
    except ValueError:
        return AcuError(text.strip()[:200] or "(empty body)")
    if not isinstance(body, dict):
        return AcuError(text.strip()[:200] or "(empty body)")
    fields: dict[str, str] = {}
    _field_errors(body, "", fields)
    root = body.get("error")
    message = str(body.get("message") or (root if isinstance(root, str) else "") or "")
    if isinstance(root, dict):  # OAuth: {"error": "invalid_grant"} is a str; be lenient
        message = str(root)
    if isinstance(root, str) and not message:
        message = root
    return AcuError(
        message=message or "(no message)",
        exception_message=str(body.get("exceptionMessage") or ""),
        exception_type=str(body.get("exceptionType") or ""),
        fields=fields,
    )


class SessionExpiredError(session.SessionExpiredError):
    """401: the session or access token has ended; nothing was processed."""

    def __init__(self, error: AcuError) -> None:
        super().__init__(f"Acumatica session ended: {error.located()}", error.located())


class NotFoundError(BridgeError):
    """500 NoEntitySatisfiesTheConditionException: no record has that key."""


class RecordExistsError(BridgeError):
    """412 on a create-only PUT: a record with the same key exists (is it ours?)."""


class AcumaticaRejectedError(RejectedByErpError):
    """Acumatica refused the record; the field errors are kept."""

    def __init__(self, message: str, response: str, fields: dict[str, str]) -> None:
        super().__init__(message, response)
        self.fields = fields


class AcumaticaPeriodClosedError(AcumaticaRejectedError, PeriodClosedError):
    """The post period is closed or inactive in Acumatica."""


def rejected(what: str, error: AcuError, response: str) -> RejectedByErpError:
    """The located refusal; a closed or inactive financial period is a `PeriodClosedError`."""
    kind = AcumaticaPeriodClosedError if _PERIOD.search(error.text) else AcumaticaRejectedError
    return kind(f"Acumatica {what} refused it: {error.located()}", redact(response), error.fields)
