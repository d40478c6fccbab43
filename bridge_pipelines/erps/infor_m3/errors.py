"""M3 and ION API Gateway answers, turned into the shared classes of `bridge_pipelines.errors`.

```
answer                                          call    class
token 401 invalid_client (bad ci/cs)            login   ConfigError: check the .ionapi file
token 400 invalid_grant (bad saak/sask)         login   ConfigError: check the service account
API 401 (token expired or revoked)              any     SessionExpiredError: new token, repeat
                                                        (the gateway refused it: M3 never saw it)
429 (Quota / spike arrest, no Retry-After)      any     transient: backoff with jitter
200 with errorMessage (ServerReturnedNOK, ...)  any     M3RejectedError (type, code, field kept)
  ... naming a closed or not-open period        write   M3PeriodClosedError (held for review)
5xx, timeout, reset, truncated JSON             write   NeedsLookupError
```
"""

import re
from typing import Any

from bridge_pipelines.erps import session
from bridge_pipelines.erps.values import quoted
from bridge_pipelines.errors import PeriodClosedError, RejectedByErpError
from bridge_pipelines.redaction import redact

_PERIOD = re.compile(r"period\b.*\b(closed|not open|locked)", re.IGNORECASE)


class TokenExpiredError(session.SessionExpiredError):
    """401 from the gateway: the bearer token expired or was revoked; nothing reached M3."""


class M3RejectedError(RejectedByErpError):
    """M3 refused a transaction (HTTP 200 with `errorMessage`); its type, code and field kept."""

    def __init__(
        self,
        message: str,
        response: str,
        *,
        error_type: str,
        error_code: str,
        error_field: str,
        m3_message: str,
    ) -> None:
        super().__init__(message, response)
        self.error_type = error_type
        self.error_code = error_code
        self.error_field = error_field
        self.m3_message = m3_message

    @property
    def not_found(self) -> bool:
        """Whether M3 said the keyed record does not exist (a lookup's "none")."""
        return "does not exist" in self.m3_message.lower()


class M3PeriodClosedError(M3RejectedError, PeriodClosedError):
    """M3 refused the accounting date's period (closed, or not open yet)."""


def located(result: dict[str, Any]) -> str:
    """`FIELD: message (type code)`, the text kept in the ledger."""
    field = str(result.get("errorField") or "").strip()
    where = f"{field}: " if field else ""
    kind = str(result.get("errorType") or "").strip()
    code = str(result.get("errorCode") or "").strip()
    tail = " ".join(part for part in (kind, code) if part)
    message = str(result.get("errorMessage") or "").strip() or "(no message)"
    return quoted(f"{where}{message}" + (f" ({tail})" if tail else ""))


def rejected(what: str, result: dict[str, Any], response: str) -> M3RejectedError:
    """M3's refusal of one transaction; a period refusal is `M3PeriodClosedError`."""
    message = str(result.get("errorMessage") or "")
    kind = M3PeriodClosedError if _PERIOD.search(message) else M3RejectedError
    return kind(
        f"Infor M3 {what} refused it: {located(result)}",
        redact(response),
        error_type=str(result.get("errorType") or ""),
        error_code=str(result.get("errorCode") or ""),
        error_field=str(result.get("errorField") or ""),
        m3_message=message,
    )
