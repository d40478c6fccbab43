"""SYSPRO e.net Solutions REST over httpx: one session per batch, bounded in time, no storms.

Every e.net call is a GET with every parameter present, even empty ones (e.net is "lenient
about empty values but strict about missing parameters"). `Logon` answers the session GUID,
JSON-quoted or plain; the client logs on at its first call, reuses the session for the whole
batch and logs off in `close()`, because a session holds a licence seat. Failures are mostly
HTTP 200 with a body starting `ERROR` (see `errors.py`): on Logon that is wrong credentials,
a `ConfigError` raised once; elsewhere the session may have ended, so the client logs off,
logs on again and repeats the call once (`session_retry=False` leaves that to the caller, as
a post must look itself up before it is repeated).

Time, backoff, pacing, the session's life and the classes of transport failures are the
shared `SessionClient`'s (`erps/session.py`); this module is SYSPRO's dialect: the Logon
answer, the `ERROR` bodies, the business-object calls. Unparseable answers are transient for
reads and `NeedsLookupError` for writes, as a timeout after sending is.

Secrets: the operator and company passwords travel only in the Logon query string; no URL,
query or header is ever put into a log line or an exception, and quoted SYSPRO text is
redacted.
"""

import logging
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import httpx
from lxml import etree
from pydantic import SecretStr

from bridge_pipelines.erps.http import RequestLimiter, TransientError
from bridge_pipelines.erps.session import (
    Answer,
    CallKind,
    ClientSettings,
    SessionClient,
    SessionExpiredError,
)
from bridge_pipelines.erps.syspro import errors
from bridge_pipelines.erps.syspro.payloads import MalformedResponseError, parse_response
from bridge_pipelines.errors import BridgeError, ConfigError, NeedsLookupError, RetryableError

log = logging.getLogger(__name__)

REST_ROOT = "/SYSPROWCFService/Rest"
ODATA_ROOT = "/SYSPRO8Odata/SYSPROOData"


@dataclass(frozen=True, kw_only=True)
class SysproSettings(ClientSettings):
    """Where and how to reach one SYSPRO company (timeouts and retries: `ClientSettings`).

    `rest_url` is the e.net REST root (`http://host:port/SYSPROWCFService/Rest`); a bare
    `http://host:port` gets the standard root appended. `odata_url` defaults to the same host
    with SYSPRO's OData root [I: the root's path is not confirmed].
    """

    rest_url: str
    operator: str
    password: SecretStr = field(repr=False)
    company: str
    company_password: SecretStr = field(default=SecretStr(""), repr=False)
    odata_url: str | None = None

    def __post_init__(self) -> None:
        url = self.rest_url.rstrip("/")
        if REST_ROOT.lower() not in url.lower():
            url += REST_ROOT
        object.__setattr__(self, "rest_url", url)
        if self.odata_url is None:
            origin = httpx.URL(url).copy_with(path="/", query=None)
            object.__setattr__(self, "odata_url", str(origin).rstrip("/") + ODATA_ROOT)
        else:
            object.__setattr__(self, "odata_url", self.odata_url.rstrip("/"))


class SysproClient(SessionClient):
    """One e.net session for one batch; use as a context manager so Logoff always runs.

    Not thread-safe: SYSPRO allows one session per operator, so a batch is one thread.
    """

    erp_name: ClassVar[str] = "SYSPRO"
    success_below: ClassVar[int] = 400  # e.net answers its failures with 200 `ERROR...`
    settings: SysproSettings

    def __init__(
        self,
        settings: SysproSettings,
        http: httpx.Client | None = None,
        pacer: RequestLimiter | None = None,
    ) -> None:
        super().__init__(settings, http, pacer)
        self._user_id: str | None = None

    # --- the dialect --------------------------------------------------------------------

    def detail(self, answer: Answer) -> str:
        return f" ({errors.quote(answer.text)})" if answer.text.strip() else ""

    def refusal(self, answer: Answer, kind: CallKind, what: str) -> BridgeError:
        """401/403/404/405 name a wrong URL or credentials; another 4xx refused the request."""
        if answer.status in (401, 403, 404, 405):
            return ConfigError(
                f"SYSPRO {what}: HTTP {answer.status} ({errors.quote(answer.text)}); check the URL"
            )
        return errors.rejected(what, [f"HTTP {answer.status}: {answer.text}"], answer.text)

    def session_lost_again(self, error: SessionExpiredError, what: str) -> BridgeError:
        """The class for an `ERROR` answer that came back after a fresh logon."""
        bo = what.rsplit(" ", 1)[-1]
        if errors.names_the_session(error.detail):
            return RetryableError(
                f"SYSPRO ended the session again right after a new logon ({error.detail})"
                f"; is another process logged on as operator {self.settings.operator!r}?"
            )
        return errors.rejected(bo, [error.detail], error.detail)

    # --- session ------------------------------------------------------------------------

    @property
    def has_session(self) -> bool:
        """True while the client holds a session (between a Logon and its Logoff)."""
        return self._user_id is not None

    @property
    def logon_count(self) -> int:
        """How many Logons this client made (each takes a licence seat while it lives)."""
        return self.login_count

    def login_description(self) -> str:
        return f"operator {self.settings.operator} on company {self.settings.company}"

    def _login_once(self) -> None:
        """One Logon (every parameter sent, even an empty company password)."""
        s = self.settings
        params = {
            "Operator": s.operator,
            "OperatorPassword": s.password.get_secret_value(),
            "CompanyId": s.company,
            "CompanyPassword": s.company_password.get_secret_value(),
        }
        answer = self.exchange("GET", f"{s.rest_url}/Logon", kind="login", what="Logon",
                               params=params)  # fmt: skip
        if errors.is_error_body(answer.text):
            raise errors.logon_refused(s.operator, s.company, answer.text)
        guid = answer.text.strip().strip('"').strip()
        if not guid or len(guid) > 100 or any(c.isspace() or c in "<>&" for c in guid):
            raise TransientError("SYSPRO Logon: the answer is not a session id")
        self._user_id = guid

    def _logout_once(self) -> None:
        s = self.settings
        answer = self.exchange(
            "GET",
            f"{s.rest_url}/Logoff",
            kind="read",
            what="Logoff",
            params={"UserId": self._user_id or ""},
            deadline=s.logout_timeout,
        )
        if errors.is_error_body(answer.text):
            raise errors.SessionError(answer.text)

    def _forget_session(self) -> None:
        self._user_id = None

    def logon(self) -> None:
        """Start a session (see `SessionClient.login`)."""
        self.login()

    def logoff(self) -> None:
        """End the session (see `SessionClient.logout`)."""
        self.logout()

    def relogin(self) -> None:
        """Log off (best effort, the session may be gone already) and log on again."""
        self.logout()
        self.login()

    relogon = relogin

    # --- business objects ---------------------------------------------------------------

    def _once(self, path: str, params: dict[str, str], kind: CallKind, bo: str) -> Answer:
        assert self._user_id is not None
        answer = self.exchange(
            "GET",
            f"{self.settings.rest_url}/{path}",
            kind=kind,
            what=f"{path} {bo}",
            params={"UserId": self._user_id, "BusinessObject": bo, **params},
        )
        if errors.is_unlicensed(answer.text):
            raise errors.unlicensed(bo, answer.text)
        if errors.is_error_body(answer.text):
            raise errors.SessionError(answer.text)
        return answer

    def _parsed(self, answer: Answer, kind: CallKind, what: str) -> tuple[etree._Element, str]:
        try:
            return parse_response(answer.content, answer.charset), answer.text
        except MalformedResponseError as exc:
            message = f"SYSPRO {what}: {exc}"
            if kind == "write":
                raise NeedsLookupError(message + "; it may have been applied") from None
            raise TransientError(message) from None

    def _call(
        self, path: str, params: dict[str, str], kind: CallKind, bo: str, session_retry: bool
    ) -> tuple[etree._Element, str]:
        what = f"{path} {bo}"
        return self.in_session(
            lambda: self._parsed(self._once(path, params, kind, bo), kind, what),
            what=what,
            session_retry=session_retry,
        )

    def transaction(
        self, bo: str, xml_parameters: str, xml_in: str, *, session_retry: bool = True
    ) -> tuple[etree._Element, str]:
        """`/Transaction/Post`: the parsed answer and its text.

        Raises:
            errors.SessionError: with `session_retry=False`, the first `ERROR` answer.
            NeedsLookupError: it may have been applied (timeout, reset, 5xx, garbage).
            RetryableError: nothing was applied and the retries ran out.
            RejectedByErpError: an `ERROR` answer after a fresh logon, or a refused request.
            ConfigError: unlicensed object, bad URL or credentials.
        """
        params = {"XmlParameters": xml_parameters, "XmlIn": xml_in}
        return self._call("Transaction/Post", params, "write", bo, session_retry)

    def setup(
        self, action: Literal["Add", "Update", "Delete"], bo: str, xml_parameters: str, xml_in: str
    ) -> tuple[etree._Element, str]:
        """`/Setup/<action>` (same parameters as a post); a write, so never blindly repeated."""
        params = {"XmlParameters": xml_parameters, "XmlIn": xml_in}
        return self._call(f"Setup/{action}", params, "write", bo, session_retry=True)

    def query(self, bo: str, xml_in: str) -> tuple[etree._Element, str]:
        """`/Query/Query` (no XmlParameters); a read, retried on transient failures."""
        return self._call("Query/Query", {"XmlIn": xml_in}, "read", bo, session_retry=True)
