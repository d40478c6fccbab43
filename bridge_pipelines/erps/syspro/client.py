"""SYSPRO e.net Solutions REST over httpx: one session per batch, bounded in time, no storms.

Every e.net call is a GET with every parameter present, even empty ones (e.net is "lenient
about empty values but strict about missing parameters"). `Logon` answers the session GUID,
JSON-quoted or plain; the client logs on at its first call, reuses the session for the whole
batch and logs off in `close()`, because a session holds a licence seat. Failures are mostly
HTTP 200 with a body starting `ERROR` (see `errors.py`): on Logon that is wrong credentials,
a `ConfigError` raised once; elsewhere the session may have ended, so the client logs off,
logs on again and repeats the call once (`session_retry=False` leaves that to the caller, as
a post must look itself up before it is repeated).

Time: each call has connect/read/write timeouts and an outer deadline (httpx has none) that
also bounds a server trickling its answer. Backoff (tenacity, exponential with jitter, or the
server's `Retry-After`, capped) covers what certainly did not reach SYSPRO: connect errors and
429. Reads also retry 5xx, timeouts, resets and unparseable answers; writes never do: those
raise `NeedsLookupError` and the caller looks the document up.

Secrets: the operator and company passwords travel only in the Logon query string; no URL,
query or header is ever put into a log line or an exception, and quoted SYSPRO text is
redacted.
"""

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Literal, Self, TypeVar

import httpx
from lxml import etree
from pydantic import SecretStr

from bridge_pipelines.erps.http import (
    Pacer,
    RequestLimiter,
    TransientError,
    with_backoff,
    write_extensions,
)
from bridge_pipelines.erps.syspro import errors
from bridge_pipelines.erps.syspro.payloads import MalformedResponseError, parse_response
from bridge_pipelines.errors import (
    BridgeError,
    ConfigError,
    NeedsLookupError,
    RejectedByErpError,
    RetryableError,
)
from bridge_pipelines.redaction import redact

log = logging.getLogger(__name__)

REST_ROOT = "/SYSPROWCFService/Rest"
ODATA_ROOT = "/SYSPRO8Odata/SYSPROOData"
CallKind = Literal["logon", "read", "write"]
T = TypeVar("T")


@dataclass(frozen=True)
class SysproSettings:
    """Where and how to reach one SYSPRO company, and how long to wait for it.

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
    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    call_deadline: float = 90.0
    logoff_timeout: float = 5.0
    max_attempts: int = 5
    retry_budget: float = 120.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    max_requests_per_minute: float | None = None

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


class _DeadlineError(Exception):
    """The outer deadline passed while the answer was still arriving."""


@dataclass(frozen=True)
class Answer:
    """A successful answer: status, raw bytes, the text decoded by its declared charset."""

    status: int
    content: bytes
    charset: str | None
    text: str


def new_http_client(settings: SysproSettings) -> httpx.Client:
    """An httpx client that ignores proxy/cert environment variables and never redirects."""
    return httpx.Client(
        trust_env=False,
        follow_redirects=False,
        timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
    )


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "").strip()
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def _decode(content: bytes, charset: str | None) -> str:
    try:
        return content.decode(charset or "utf-8")
    except (LookupError, UnicodeDecodeError):
        return content.decode("cp1252", errors="replace")


def fetch(
    http: httpx.Client,
    url: str,
    params: Mapping[str, str] | None,
    settings: SysproSettings,
    *,
    kind: CallKind,
    what: str,
    auth: httpx.Auth | None = None,
    deadline: float | None = None,
    pacer: RequestLimiter | None = None,
) -> Answer:
    """One GET bounded by the outer deadline; network failures classified by what may have landed.

    Raises:
        TransientError: nothing was sent (connect error), 429, or (reads only) a failure after
            sending: timeout, reset, 5xx.
        NeedsLookupError: a write failed after its request was sent (timeout, reset, 5xx).
        ConfigError: 401, 403, 404, 405: credentials or URL are wrong.
        RejectedByErpError: another 4xx: SYSPRO refused the request itself.
    """
    if pacer is not None:
        pacer.acquire()
    limit = settings.call_deadline if deadline is None else deadline
    ends = time.monotonic() + limit
    timeout = httpx.Timeout(
        min(settings.read_timeout, limit), connect=min(settings.connect_timeout, limit)
    )
    try:
        with http.stream(
            "GET", url, params=params, auth=auth, timeout=timeout, extensions=write_extensions(kind)
        ) as response:
            chunks = []
            for chunk in response.iter_bytes():
                chunks.append(chunk)
                if time.monotonic() > ends:
                    raise _DeadlineError
            content = b"".join(chunks)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        raise TransientError(
            f"SYSPRO {what}: could not connect ({type(exc).__name__}: {redact(str(exc))})"
        ) from None
    except (httpx.TransportError, _DeadlineError) as exc:
        reason = "deadline passed" if isinstance(exc, _DeadlineError) else type(exc).__name__
        message = f"SYSPRO {what}: no complete answer after the request was sent ({reason})"
        if kind == "write":
            raise NeedsLookupError(message + "; it may have been applied") from None
        raise TransientError(message) from None
    status = response.status_code
    charset = response.charset_encoding
    if status == 429:
        raise TransientError(f"SYSPRO {what}: rate limited (429)", _retry_after(response))
    if status >= 500:
        message = f"SYSPRO {what}: server error {status}"
        if kind == "write":
            raise NeedsLookupError(message + "; it may have been applied")
        raise TransientError(message, _retry_after(response) if status == 503 else None)
    text = _decode(content, charset)
    if status in (401, 403, 404, 405):
        raise ConfigError(f"SYSPRO {what}: HTTP {status} ({errors.quote(text)}); check the URL")
    if status >= 400:
        raise errors.rejected(what, [f"HTTP {status}: {text}"], text)
    return Answer(status, content, charset, text)


class SysproClient:
    """One e.net session for one batch; use as a context manager so Logoff always runs.

    Not thread-safe: SYSPRO allows one session per operator, so a batch is one thread.
    """

    def __init__(
        self,
        settings: SysproSettings,
        http: httpx.Client | None = None,
        pacer: RequestLimiter | None = None,
    ) -> None:
        self.settings = settings
        self.pacer: RequestLimiter = pacer or Pacer(settings.max_requests_per_minute)
        self._http = http or new_http_client(settings)
        self._owns_http = http is None
        self._user_id: str | None = None
        self.logon_count = 0

    @property
    def has_session(self) -> bool:
        """True while the client holds a session (between a Logon and its Logoff)."""
        return self._user_id is not None

    # --- session ------------------------------------------------------------------------

    def logon(self) -> None:
        """Start a session (every Logon parameter sent, even an empty company password).

        Raises:
            ConfigError: SYSPRO refused the operator, password or company (never retried).
            RetryableError: SYSPRO could not be reached within the retry budget.
        """
        s = self.settings
        params = {
            "Operator": s.operator,
            "OperatorPassword": s.password.get_secret_value(),
            "CompanyId": s.company,
            "CompanyPassword": s.company_password.get_secret_value(),
        }

        def once() -> str:
            answer = fetch(
                self._http,
                f"{s.rest_url}/Logon",
                params,
                s,
                kind="logon",
                what="Logon",
                pacer=self.pacer,
            )
            if errors.is_error_body(answer.text):
                raise errors.logon_refused(s.operator, s.company, answer.text)
            guid = answer.text.strip().strip('"').strip()
            if not guid or len(guid) > 100 or any(c.isspace() or c in "<>&" for c in guid):
                raise TransientError("SYSPRO Logon: the answer is not a session id")
            return guid

        try:
            self._user_id = with_backoff(s, once)
        except TransientError as exc:
            # Plain RetryableError: a caller's own backoff must not multiply these attempts.
            raise RetryableError(f"SYSPRO is unreachable: {exc}") from None
        self.logon_count += 1
        log.info("SYSPRO: operator %s logged on to company %s", s.operator, s.company)

    def logoff(self) -> None:
        """End the session, once, within `logoff_timeout`; a failure is logged, not raised."""
        user_id, self._user_id = self._user_id, None
        if user_id is None:
            return
        s = self.settings
        # A few quick attempts: a session left behind holds a licence seat until it times out.
        patient = replace(s, max_attempts=min(3, s.max_attempts), retry_budget=s.logoff_timeout)

        def once() -> Answer:
            return fetch(
                self._http,
                f"{s.rest_url}/Logoff",
                {"UserId": user_id},
                s,
                kind="read",
                what="Logoff",
                deadline=s.logoff_timeout,
                pacer=self.pacer,
            )

        try:
            answer = with_backoff(patient, once)
        except BridgeError as exc:
            log.warning("SYSPRO Logoff failed; the session will time out on the server: %s", exc)
            return
        if errors.is_error_body(answer.text):
            log.info("SYSPRO Logoff: the session had already ended (%s)", errors.quote(answer.text))
        else:
            log.info("SYSPRO: operator %s logged off", s.operator)

    def relogon(self) -> None:
        """Log off (best effort, the session may be gone already) and log on again."""
        self.logoff()
        self.logon()

    def close(self) -> None:
        """Log off and release the connection pool (if this client created it)."""
        try:
            self.logoff()
        finally:
            if self._owns_http:
                self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- business objects ---------------------------------------------------------------

    def _once(self, path: str, params: dict[str, str], kind: CallKind, bo: str) -> Answer:
        if self._user_id is None:
            self.logon()
        assert self._user_id is not None
        answer = fetch(
            self._http,
            f"{self.settings.rest_url}/{path}",
            {"UserId": self._user_id, "BusinessObject": bo, **params},
            self.settings,
            kind=kind,
            what=f"{path} {bo}",
            pacer=self.pacer,
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

        def attempt() -> tuple[etree._Element, str]:
            return with_backoff(
                self.settings,
                lambda: self._parsed(self._once(path, params, kind, bo), kind, what),
            )

        try:
            return attempt()
        except errors.SessionError:
            if not session_retry:
                raise
        log.warning("SYSPRO %s: session error; logging on again and repeating the call", what)
        self.relogon()
        try:
            return attempt()
        except errors.SessionError as again:
            raise self.session_failed(again, bo) from None

    def session_failed(self, error: errors.SessionError, bo: str) -> BridgeError:
        """The class for an `ERROR` answer that came back after a fresh logon."""
        if errors.names_the_session(error.syspro_message):
            return RetryableError(
                f"SYSPRO ended the session again right after a new logon ({error.syspro_message})"
                f"; is another process logged on as operator {self.settings.operator!r}?"
            )
        rejected: RejectedByErpError = errors.rejected(
            bo, [error.syspro_message], error.syspro_message
        )
        return rejected

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
