"""The error tree, grouped by what the caller does next.

```
BridgeError
 ├─ RetryableError      nothing reached the remote side, or 429/503: back off, send again
 ├─ NeedsLookupError    it may have landed: look up external_ref before anything else
 ├─ RejectedByErpError  the ERP refused it: posting -> rejected, keep the response
 │   └─ PeriodClosedError   its posting period is closed or not open: needs_review, never re-dated
 ├─ NotSupportedError   the ERP has no such thing (open POs, payments): skip that feature
 ├─ BadInputError       our data is wrong: quarantine the file or hold the record
 │   ├─ UnsafeNameError     a remote file name we refuse to touch
 │   └─ FileRejectedError   a whole file refused (encoding, XML bomb, missing column...)
 └─ ConfigError         auth, host key, URL, tenant file: stop the tenant, alert
     ├─ HostKeyError        unknown or changed SSH host key
     ├─ SecretError         a secret that cannot be decrypted (wrong key, tenant or field)
     └─ TenantConfigError   a tenant file that does not validate
```

Catch by class, never by message text. Messages never carry secret values.
"""

from dataclasses import dataclass


class BridgeError(Exception):
    """Root of every error the product raises on purpose."""


class RetryableError(BridgeError):
    """Nothing reached the remote side (or it asked us to slow down): safe to send again.

    `retry_after` is how long (seconds) the remote side asked us to wait, when it said.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NeedsLookupError(BridgeError):
    """The request may have been applied: look the document up before any retry."""


class RejectedByErpError(BridgeError):
    """The ERP refused the document; the response is kept and a retry needs changed input.

    `response` is the ERP's answer (redacted text), kept in the ledger for the analyst.
    """

    def __init__(self, message: str, response: str | None = None) -> None:
        super().__init__(message)
        self.response = response


class PeriodClosedError(RejectedByErpError):
    """The ERP refused the document because its posting period is closed (or not open yet).

    The document is right and its date is Stampli's: only the ERP's calendar is in the way.
    The posting is held for review (`needs_review`) with the ERP's answer, never moved to
    another period; once the period is opened, an operator resolves it and it posts as it was.
    Connectors raise a subclass of their own refusal class and this one.
    """


class BadInputError(BridgeError):
    """Our input is wrong: quarantine the file or hold the record for review."""


class UnsafeNameError(BadInputError):
    """A remote file name that could escape a folder or confuse a terminal."""


class FileRejectedError(BadInputError):
    """A whole file is refused before any of its content is used."""


class ConfigError(BridgeError):
    """Configuration or credentials are wrong: stop this tenant and alert, do not retry."""


class HostKeyError(ConfigError):
    """The SFTP server's host key is unknown or differs from the pinned key."""


class SecretError(ConfigError):
    """A secret cannot be decrypted with the keys at hand for this tenant and field."""


@dataclass(frozen=True)
class FieldProblem:
    """One located problem in a tenant file."""

    file: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.message}"


class TenantConfigError(ConfigError):
    """One or more tenant files do not validate; every problem is listed with file and field."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class FileVanishedError(BadInputError):
    """A listed file was gone by the time we came to download it."""


class FileUnstableError(RetryableError):
    """A file changed between listing and download (still being written): take it later."""


class NotSupportedError(BridgeError):
    """The ERP (or its adapter) has no such capability, e.g. open POs or payments: skip it."""
