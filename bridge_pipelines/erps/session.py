"""The HTTP client every ERP connector shares: time, retries, pacing, sessions, error classes.

A connector's client subclasses `SessionClient` and writes only its dialect: how to log in and
out, how a refused or expired-session answer reads (`refusal`), and its calls. Everything
else lives here once, as in meltano's `RESTStream`:

- **Time.** Connect/read/write timeouts per request plus an outer deadline per call (httpx has
  none), which also bounds a server trickling its answer.
- **What may have landed decides the class** (`bridge_pipelines.errors`): nothing sent
  (connect error) or 429 is `TransientError`; a failure after a write was sent (timeout,
  reset, 5xx, deadline) is `NeedsLookupError`, never retried blindly; the same after a read is
  transient. A TLS certificate that does not verify is a `ConfigError` naming `erp.ca_bundle`.
- **Backoff** (tenacity): `TransientError` is retried with capped exponential backoff with
  jitter, or the server's `Retry-After`, within `max_attempts` and `retry_budget`; a caller
  then sees a plain `RetryableError`, so its own backoff does not multiply the attempts.
- **Pacing** under the configured rate limit (`Pacer`): a client paced at the limit keeps the
  server's bucket just full and never spends a `Retry-After`.
- **Sessions.** Logged in at the first call, reused for the batch, logged out at `close()`
  within `logout_timeout` (a session holds a licence seat). An expired session
  (`SessionExpiredError`) is renewed and a read repeated once; a write (`session_retry=False`)
  is handed back so the adapter looks the document up before sending it again.

Secrets: no URL, query or header goes into a log line or an exception; quoted ERP text is
redacted by the dialect.
"""

import json
import logging
import ssl
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, ClassVar, Literal, TypeVar

import httpx

from bridge_pipelines.erps import registry
from bridge_pipelines.erps.base import (
    Closing,
    ErpDocumentRef,
    ExternalRef,
    PostableInvoice,
    PostablePayment,
)
from bridge_pipelines.erps.http import (
    Pacer,
    RequestLimiter,
    TransientError,
    with_backoff,
    write_extensions,
)
from bridge_pipelines.errors import (
    BadInputError,
    BridgeError,
    ConfigError,
    NeedsLookupError,
    RetryableError,
)
from bridge_pipelines.redaction import redact

log = logging.getLogger(__name__)

CallKind = Literal["login", "read", "write"]
T = TypeVar("T")
MAX_PAGES = 100_000


@dataclass(frozen=True, kw_only=True)
class ClientSettings:
    """How long to wait for an ERP and how hard to retry: what every client's settings carry."""

    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    call_deadline: float = 90.0
    logout_timeout: float = 5.0
    max_attempts: int = 5
    retry_budget: float = 120.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    max_requests_per_minute: float | None = None
    ca_bundle: str | None = None


class SessionExpiredError(RetryableError):
    """The ERP answered that the call's session has ended: nothing was applied.

    The client logs in again and repeats a read once; a write is handed to the adapter, which
    looks the document up before it sends it again. `detail` is the ERP's (redacted) text.
    """

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


@dataclass(frozen=True)
class Answer:
    """One HTTP answer: status, headers, raw bytes, charset and the decoded text."""

    status: int
    headers: httpx.Headers
    content: bytes
    charset: str | None
    text: str


class _DeadlineError(Exception):
    """The outer deadline passed while the answer was still arriving."""


def new_http_client(settings: ClientSettings) -> httpx.Client:
    """An httpx client with TLS verified (system store or the tenant's CA file), no env proxies.

    Proxy and certificate environment variables are ignored (`trust_env=False`) and redirects
    are not followed: an ERP that redirects is misconfigured, and a redirect could carry our
    credentials elsewhere.
    """
    verify: ssl.SSLContext | bool = True
    if settings.ca_bundle:
        verify = ssl.create_default_context(cafile=settings.ca_bundle)
    return httpx.Client(
        trust_env=False,
        follow_redirects=False,
        verify=verify,
        timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
    )


def retry_after(answer: Answer) -> float | None:
    """The `Retry-After` header in seconds (delta form), when the server sent one."""
    value = answer.headers.get("retry-after", "").strip()
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def _untrusted_certificate(exc: BaseException) -> bool:
    """Whether a connect error is a failed certificate verification (anywhere in its chain)."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _decode(content: bytes, charset: str | None) -> str:
    try:
        return content.decode(charset or "utf-8")
    except (LookupError, UnicodeDecodeError):
        return content.decode("cp1252", errors="replace")


def same_service(root: httpx.URL, url: httpx.URL) -> bool:
    """Whether `url` stays on the service at `root` (scheme, host, port and path prefix)."""
    return (url.scheme, url.host, url.port) == (
        root.scheme,
        root.host,
        root.port,
    ) and url.path.startswith(root.path)


def follow_pages(
    first: str,
    params: Mapping[str, str] | None,
    page: Callable[[str, Mapping[str, str] | None], dict[str, Any]],
    root: httpx.URL,
    what: str,
) -> Iterator[dict[str, Any]]:
    """Rows of an OData collection, page by page, following `@odata.nextLink`.

    `page(url, params)` fetches one page (a dict with a `value` list). Links may be relative
    and are joined to `root`; one that leaves the service is refused, so credentials are never
    sent elsewhere. An empty page ends the walk (a full last page may still carry a link).

    Raises:
        ConfigError: a nextLink leaves the service, or more than MAX_PAGES pages.
    """
    url, query = first, params
    for _ in range(MAX_PAGES):
        body = page(url, query)
        rows = [row for row in body["value"] if isinstance(row, dict)]
        yield from rows
        link = body.get("@odata.nextLink") or body.get("odata.nextLink")
        if not link or not rows:
            return
        following = root.join(str(link))
        if not same_service(root, following):
            raise ConfigError(f"{what}: nextLink leaves the service; not followed")
        url, query = str(following), None
    raise ConfigError(f"{what}: more than {MAX_PAGES} pages; refusing")


class HttpChannel(Closing):
    """Bounded, paced, classified HTTP calls to one ERP service, without a session.

    Subclasses name the ERP (`erp_name`), say how a refused answer reads (`refusal`) and may
    refine the classification (`classify`).
    """

    erp_name: ClassVar[str] = "ERP"
    # How messages say a write may have reached the ERP ("applied", "committed").
    landed: ClassVar[str] = "applied"
    # Answers below this status are successes; SYSPRO answers its failures with 200.
    success_below: ClassVar[int] = 300

    def __init__(
        self,
        settings: ClientSettings,
        http: httpx.Client | None = None,
        pacer: RequestLimiter | None = None,
    ) -> None:
        # Every connector's credential shapes are masked before the first request is logged,
        # even when a client is built without the registry (a bench, a script).
        registry.plugins()
        self.settings = settings
        self.pacer: RequestLimiter = pacer or Pacer(settings.max_requests_per_minute)
        self._http = http or new_http_client(settings)
        self._owns_http = http is None

    @property
    def http(self) -> httpx.Client:
        """The connection pool, for a companion channel on the same service (shared pacing)."""
        return self._http

    def exchange(
        self,
        method: str,
        url: str,
        *,
        kind: CallKind,
        what: str,
        params: Mapping[str, str] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | None = None,
        deadline: float | None = None,
    ) -> Answer:
        """One request bounded by the outer deadline, classified by what may have landed.

        Raises:
            TransientError: nothing was sent, 429, or (not for writes) a failure after sending.
            NeedsLookupError: a write failed after its request was sent.
            ConfigError: the TLS certificate is not trusted; what `refusal` says.
            BridgeError: what `classify` / `refusal` make of a refused answer.
        """
        s = self.settings
        self.pacer.acquire()
        limit = s.call_deadline if deadline is None else deadline
        ends = time.monotonic() + limit
        timeout = httpx.Timeout(min(s.read_timeout, limit), connect=min(s.connect_timeout, limit))
        try:
            with self._http.stream(
                method,
                url,
                params=params,
                content=content,
                headers=headers,
                auth=auth,
                timeout=timeout,
                extensions=write_extensions(kind),
            ) as response:
                chunks = []
                for chunk in response.iter_bytes():
                    chunks.append(chunk)
                    if time.monotonic() > ends:
                        raise _DeadlineError
                raw = b"".join(chunks)
        except httpx.InvalidURL:
            # Nothing was sent: a code that cannot travel in a URL (`values.path_segment`).
            # The URL is not quoted: its query may hold a credential.
            raise BadInputError(f"{self.erp_name} {what}: not a valid URL") from None
        except httpx.ConnectError as exc:
            if _untrusted_certificate(exc):
                # Retrying cannot make a certificate trusted: a clear config error instead.
                raise ConfigError(
                    f"{self.erp_name} {what}: the server's TLS certificate is not trusted "
                    f"({redact(str(exc))}); for a self-signed or corporate CA, name its PEM "
                    "file in the tenant's erp.ca_bundle"
                ) from None
            raise self._not_connected(what, exc) from None
        except (httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise self._not_connected(what, exc) from None
        except (httpx.TransportError, _DeadlineError) as exc:
            reason = "deadline passed" if isinstance(exc, _DeadlineError) else type(exc).__name__
            message = (
                f"{self.erp_name} {what}: no complete answer after the request was sent ({reason})"
            )
            if kind == "write":
                raise NeedsLookupError(f"{message}; it may have been {self.landed}") from None
            raise TransientError(message) from None
        charset = response.charset_encoding
        answer = Answer(response.status_code, response.headers, raw, charset, _decode(raw, charset))
        if answer.status < self.success_below:
            return answer
        raise self.classify(answer, kind, what)

    def json(self, answer: Answer, what: str, kind: CallKind) -> Any:
        """The body parsed with `Decimal` numbers (a float never touches money).

        Raises:
            TransientError: not JSON, on a read (read it again).
            NeedsLookupError: not JSON, on a write (it may have landed).
        """
        try:
            return json.loads(answer.text, parse_float=Decimal)
        except ValueError:
            message = f"{self.erp_name} {what}: the answer is not JSON"
            if kind == "write":
                raise NeedsLookupError(f"{message}; it may have been {self.landed}") from None
            raise TransientError(message) from None

    def _not_connected(self, what: str, exc: Exception) -> TransientError:
        return TransientError(
            f"{self.erp_name} {what}: could not connect ({type(exc).__name__}: {redact(str(exc))})"
        )

    def classify(self, answer: Answer, kind: CallKind, what: str) -> BridgeError:
        """The error for a refused answer: 429 and 5xx here, the rest by `refusal`."""
        if answer.status == 429:
            return TransientError(
                f"{self.erp_name} {what}: rate limited (429)", retry_after(answer)
            )
        if answer.status >= 500:
            message = f"{self.erp_name} {what}: server error {answer.status}{self.detail(answer)}"
            if kind == "write":
                return NeedsLookupError(f"{message}; it may have been {self.landed}")
            return TransientError(message, retry_after(answer))
        return self.refusal(answer, kind, what)

    def detail(self, answer: Answer) -> str:
        """The ERP's own words about a failed answer, as ` (...)`, redacted; '' if none."""
        return ""

    def refusal(self, answer: Answer, kind: CallKind, what: str) -> BridgeError:
        """The error for a 3xx/4xx answer (not 429): the dialect decides."""
        if answer.status in (401, 403, 404, 405):
            return ConfigError(
                f"{self.erp_name} {what}: HTTP {answer.status}{self.detail(answer)}; "
                "check the URL and credentials"
            )
        return BridgeError(f"{self.erp_name} {what}: HTTP {answer.status}{self.detail(answer)}")

    def retrying(self, call: Callable[[], T], settings: ClientSettings | None = None) -> T:
        """`call()`, repeated on `TransientError` within the retry budget.

        Raises:
            RetryableError: still transient when the budget ran out (plain, so a caller's own
                backoff does not multiply the attempts; `retry_after` kept).
        """
        try:
            return with_backoff(settings or self.settings, call)
        except TransientError as exc:
            raise RetryableError(str(exc), exc.retry_after) from None

    def close(self) -> None:
        """Release the connection pool (if this channel created it)."""
        if self._owns_http:
            self._http.close()


class SessionClient(HttpChannel, ABC):
    """An `HttpChannel` with a login session for one batch; a context manager that logs out.

    Not thread-safe: one batch is one thread (and some ERPs allow one session per user).
    Dialects implement `has_session`, `_login_once`, `_logout_once` and `_forget_session`.
    """

    def __init__(
        self,
        settings: ClientSettings,
        http: httpx.Client | None = None,
        pacer: RequestLimiter | None = None,
    ) -> None:
        super().__init__(settings, http, pacer)
        self.login_count = 0

    # --- the dialect ------------------------------------------------------------------------

    @property
    @abstractmethod
    def has_session(self) -> bool:
        """True while the client holds a session (between a login and its logout)."""

    @abstractmethod
    def _login_once(self) -> None:
        """One login attempt; raise `TransientError` to be retried, `ConfigError` to stop."""

    @abstractmethod
    def _logout_once(self) -> None:
        """One logout attempt (bounded by `logout_timeout`)."""

    @abstractmethod
    def _forget_session(self) -> None:
        """Drop the session's credentials from memory (and from log masking)."""

    def login_description(self) -> str:
        """Who logged in where, for the log line."""
        return ""

    def session_lost_again(self, error: SessionExpiredError, what: str) -> BridgeError:
        """The error when a call's session ended again right after a fresh login."""
        return RetryableError(
            f"{self.erp_name} ended the session again right after a new login ({error})"
        )

    def resend_lost_again(self, error: SessionExpiredError, what: str) -> BridgeError:
        """The error when a write, looked up and resent after a new login, lost it again."""
        return self.session_lost_again(error, what)

    # --- the session ------------------------------------------------------------------------

    def login(self) -> None:
        """Start a session, with backoff on what is transient.

        Raises:
            ConfigError: wrong user, password or company (never retried).
            RetryableError: the ERP could not be reached within the retry budget.
        """
        try:
            with_backoff(self.settings, self._login_once)
        except TransientError as exc:
            # Plain RetryableError: a caller's own backoff must not multiply these attempts.
            raise RetryableError(f"{self.erp_name} is unreachable: {exc}") from None
        self.login_count += 1
        log.info("%s: %s logged in", self.erp_name, self.login_description())

    def logout(self) -> None:
        """End the session, once, within `logout_timeout`; a failure is logged, not raised."""
        if not self.has_session:
            return
        s = self.settings
        # A few quick attempts: a session left behind holds a licence seat until it times out.
        patient = replace(s, max_attempts=min(3, s.max_attempts), retry_budget=s.logout_timeout)
        try:
            with_backoff(patient, self._logout_once)
        except SessionExpiredError:
            log.info("%s logout: the session had already ended", self.erp_name)
        except BridgeError as exc:
            log.warning(
                "%s logout failed; the session will time out on the server: %s",
                self.erp_name,
                exc,
            )
        else:
            log.info("%s: %s logged out", self.erp_name, self.login_description())
        finally:
            self._forget_session()

    def relogin(self) -> None:
        """Forget the dead session and log in again."""
        self._forget_session()
        self.login()

    def close(self) -> None:
        """Log out and release the connection pool (if this client created it)."""
        try:
            self.logout()
        finally:
            super().close()

    # --- calls ------------------------------------------------------------------------------

    def in_session(self, once: Callable[[], T], *, what: str, session_retry: bool = True) -> T:
        """`once()` in the batch's session (logging in first), with backoff and renewal.

        Transient failures are retried with backoff. An expired session is renewed and the
        call repeated once, unless `session_retry` is False (a write must look itself up
        before it is repeated): then `SessionExpiredError` is raised.
        """

        def logged_in() -> T:
            if not self.has_session:
                self.login()
            return once()

        try:
            return self.retrying(logged_in)
        except SessionExpiredError:
            if not session_retry:
                raise
        log.warning(
            "%s %s: session ended; logging in again and repeating the call", self.erp_name, what
        )
        self.relogin()
        try:
            return self.retrying(logged_in)
        except SessionExpiredError as again:
            raise self.session_lost_again(again, what) from None


def post_with_lookup(
    client: SessionClient,
    send: Callable[[], ErpDocumentRef],
    find: Callable[[ExternalRef], list[ErpDocumentRef]],
    invoice: PostableInvoice | PostablePayment,
    what: str,
) -> ErpDocumentRef:
    """Send a document once; after an expired session, log in, look it up, only then resend.

    An expired session means the ERP processed nothing, but an earlier attempt of the same
    document (a previous run, a lost answer) may have landed: the lookup decides. One match
    is that document; several are a past duplicate for review; none lets it go again.

    Raises:
        NeedsLookupError: the lookup found several documents with the reference.
        BridgeError: what `client.resend_lost_again` says when the session ends again.
    """
    try:
        return send()
    except SessionExpiredError:
        log.warning("%s %s: session ended; new login, lookup first", client.erp_name, what)
    client.relogin()
    found = find(invoice.ref)
    if len(found) == 1:
        return found[0]
    if found:
        raise NeedsLookupError(
            f"{client.erp_name} holds {len(found)} documents with reference {invoice.external_ref}"
        )
    try:
        return send()
    except SessionExpiredError as again:
        raise client.resend_lost_again(again, what) from None
