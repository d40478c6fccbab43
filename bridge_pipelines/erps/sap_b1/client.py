"""SAP Business One Service Layer over httpx: one session per batch, bounded in time, no storms.

`POST <root>/Login` (case-sensitive: `/login` is a 401) with CompanyDB, UserName and Password
answers the `B1SESSION` and `ROUTEID` cookies; the client logs in at its first call, sends both
cookies (explicitly, per client, so two tenants on one `httpx.Client` never mix sessions) on
every call of the batch, and posts `Logout` in `close()`: logging in is slow on real servers
and every session holds a licence seat.

Sessions end after 30 idle minutes: the answer is 401 with code 301. A read then logs in again
and is repeated once. A write is not: the caller (`session_retry=False`) logs in, looks the
document up, and only then sends it again. A wrong password or company (401 on Login) is one
`ConfigError`, never retried. Parallel logins may fail with 500 code 299: the login is retried
with exponential backoff and jitter, so a fleet of workers does not storm the server.

Time: connect/read/write timeouts plus an outer deadline per call (httpx has none). Backoff
(tenacity) covers what certainly did not reach SAP (connect errors, 429) for every call and,
for reads only, 5xx, timeouts, resets and unparseable answers. A write failing after its
request was sent raises `NeedsLookupError`.

TLS: verification is always on, against the system store or a per-tenant CA file
(`ca_bundle`); proxy and certificate environment variables are ignored (`trust_env=False`).
Amounts travel as JSON numbers written from `Decimal` text and are read back with
`parse_float=Decimal`: a float never touches money.
"""

import json
import logging
import ssl
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from types import TracebackType
from typing import Any, Literal, Self, TypeVar

import httpx
from pydantic import SecretStr

from bridge_pipelines.erps.http import (
    Pacer,
    RequestLimiter,
    TransientError,
    with_backoff,
    write_extensions,
)
from bridge_pipelines.erps.sap_b1 import errors
from bridge_pipelines.erps.sap_b1.payloads import dumps
from bridge_pipelines.errors import BridgeError, ConfigError, NeedsLookupError, RetryableError
from bridge_pipelines.redaction import forget_secret, redact, register_secret

log = logging.getLogger(__name__)

CallKind = Literal["login", "read", "write"]
Method = Literal["GET", "POST", "PATCH"]
SESSION_COOKIES = ("B1SESSION", "ROUTEID")
MAX_PAGES = 100_000
T = TypeVar("T")


@dataclass(frozen=True)
class SapB1Settings:
    """Where and how to reach one SAP B1 company, and how long to wait for it.

    `base_url` is the Service Layer root (`https://host:50000/b1s/v1`); a bare origin gets
    `/b1s/v1` appended. `/b1s/v2` selects OData v4 (both error and nextLink shapes are read).
    """

    base_url: str
    company: str
    username: str
    password: SecretStr = field(repr=False)
    ca_bundle: str | None = None
    page_size: int = 100
    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    call_deadline: float = 90.0
    logout_timeout: float = 5.0
    max_attempts: int = 5
    retry_budget: float = 120.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    max_requests_per_minute: float | None = None

    def __post_init__(self) -> None:
        url = self.base_url.rstrip("/")
        if "/b1s/" not in httpx.URL(url + "/").path:
            url += "/b1s/v1"
        object.__setattr__(self, "base_url", url)
        if self.page_size < 1:
            raise ConfigError("SAP B1 page_size must be at least 1")


class NotFoundError(BridgeError):
    """404 with code -2028: no record has that key."""


class _DeadlineError(Exception):
    """The outer deadline passed while the answer was still arriving."""


@dataclass(frozen=True)
class Answer:
    """A successful answer: status, headers and text."""

    status: int
    headers: httpx.Headers
    text: str

    def json(self, what: str, kind: CallKind) -> Any:
        """The body parsed with `Decimal` numbers; garbage is transient (read) or uncertain."""
        try:
            return json.loads(self.text, parse_float=Decimal)
        except ValueError:
            message = f"SAP B1 {what}: the answer is not JSON"
            if kind == "write":
                raise NeedsLookupError(message + "; it may have been committed") from None
            raise TransientError(message) from None


def new_http_client(settings: SapB1Settings) -> httpx.Client:
    """An httpx client with TLS verified (system store or the tenant's CA file), no env proxies."""
    verify: ssl.SSLContext | bool = True
    if settings.ca_bundle:
        verify = ssl.create_default_context(cafile=settings.ca_bundle)
    return httpx.Client(
        trust_env=False,
        follow_redirects=False,
        verify=verify,
        timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
    )


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "").strip()
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


def _session_cookies(response: httpx.Response) -> dict[str, str]:
    found: dict[str, str] = {}
    for header in response.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        if name.strip() in SESSION_COOKIES:
            found[name.strip()] = rest.split(";", 1)[0].strip()
    return found


class SapB1Client:
    """One Service Layer session for one batch; a context manager, so Logout always runs.

    Not thread-safe: one batch is one thread.
    """

    def __init__(
        self,
        settings: SapB1Settings,
        http: httpx.Client | None = None,
        pacer: RequestLimiter | None = None,
    ) -> None:
        register_secret(settings.password.get_secret_value())
        self.settings = settings
        self.pacer: RequestLimiter = pacer or Pacer(settings.max_requests_per_minute)
        self._http = http or new_http_client(settings)
        self._owns_http = http is None
        self._root = httpx.URL(settings.base_url + "/")
        self._cookies: dict[str, str] = {}
        self.login_count = 0

    @property
    def has_session(self) -> bool:
        """True while the client holds a session (between a Login and its Logout)."""
        return "B1SESSION" in self._cookies

    # --- one request ----------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return str(self._root.join(path))

    def _send(
        self,
        method: Method,
        url: str,
        *,
        kind: CallKind,
        what: str,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        deadline: float | None = None,
    ) -> Answer:
        """One request bounded by the outer deadline, classified by what may have landed.

        Raises:
            TransientError: nothing was sent, 429, or (not for writes) a failure after sending.
            NeedsLookupError: a write failed after its request was sent.
            errors.SessionExpiredError: 401 on a call carrying a session.
            NotFoundError: 404 with code -2028.
            ConfigError: 401 on Login, 403, 405, 404 without -2028.
            RejectedByErpError: another 4xx.
        """
        s = self.settings
        self.pacer.acquire()
        limit = s.call_deadline if deadline is None else deadline
        ends = time.monotonic() + limit
        timeout = httpx.Timeout(min(s.read_timeout, limit), connect=min(s.connect_timeout, limit))
        sent_headers = {"Accept": "application/json", **(headers or {})}
        if self._cookies and kind != "login":
            sent_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self._cookies.items())
        content = None
        if body is not None:
            content = dumps(body).encode("utf-8")
            sent_headers["Content-Type"] = "application/json"
        try:
            with self._http.stream(
                method,
                url,
                params=params,
                content=content,
                headers=sent_headers,
                timeout=timeout,
                extensions=write_extensions(kind),
            ) as response:
                chunks = []
                for chunk in response.iter_bytes():
                    chunks.append(chunk)
                    if time.monotonic() > ends:
                        raise _DeadlineError
                raw = b"".join(chunks)
        except httpx.ConnectError as exc:
            if _untrusted_certificate(exc):
                # Retrying cannot make a certificate trusted: a clear config error instead.
                raise ConfigError(
                    f"SAP B1 {what}: the Service Layer's TLS certificate is not trusted "
                    f"({redact(str(exc))}); for a self-signed or corporate CA, name its PEM "
                    "file in the tenant's erp.ca_bundle"
                ) from None
            raise TransientError(
                f"SAP B1 {what}: could not connect ({type(exc).__name__}: {redact(str(exc))})"
            ) from None
        except (httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise TransientError(
                f"SAP B1 {what}: could not connect ({type(exc).__name__}: {redact(str(exc))})"
            ) from None
        except (httpx.TransportError, _DeadlineError) as exc:
            reason = "deadline passed" if isinstance(exc, _DeadlineError) else type(exc).__name__
            message = f"SAP B1 {what}: no complete answer after the request was sent ({reason})"
            if kind == "write":
                raise NeedsLookupError(message + "; it may have been committed") from None
            raise TransientError(message) from None
        status = response.status_code
        text = raw.decode(response.charset_encoding or "utf-8", errors="replace")
        if status < 300:
            if kind == "login":
                self._cookies = _session_cookies(response)
            return Answer(status, response.headers, text)
        error = errors.parse_error(text)
        if status == 429:
            raise TransientError(f"SAP B1 {what}: rate limited (429)", _retry_after(response))
        if status >= 500:
            message = f"SAP B1 {what}: server error {status} ({error.located()})"
            if kind == "login" and error.code == errors.PARALLEL_LOGIN:
                raise TransientError(f"SAP B1 Login: parallel logins refused ({error.located()})")
            if kind == "write":
                raise NeedsLookupError(message + "; it may have been committed")
            raise TransientError(message, _retry_after(response))
        if status == 401:
            if kind == "login":
                raise errors.login_refused(s.username, s.company, error)
            raise errors.SessionExpiredError(error)
        if status == 404 and error.code == errors.NO_MATCHING_RECORDS:
            raise NotFoundError(f"SAP B1 {what}: {error.located()}")
        if status in (403, 404, 405):
            raise ConfigError(f"SAP B1 {what}: HTTP {status} ({error.located()}); check the URL")
        raise errors.rejected(what, error, text)

    # --- session --------------------------------------------------------------------------

    def login(self) -> None:
        """Start a session; 500/299 (parallel logins) backs off with jitter.

        Raises:
            ConfigError: wrong user, password or company (never retried).
            RetryableError: SAP could not be reached (or kept refusing) within the budget.
        """
        s = self.settings
        body = {
            "CompanyDB": s.company,
            "UserName": s.username,
            "Password": s.password.get_secret_value(),
        }

        def once() -> None:
            self._drop_session()
            self._send("POST", self._url("Login"), kind="login", what="Login", body=body)
            if "B1SESSION" not in self._cookies:
                raise TransientError("SAP B1 Login: the answer set no B1SESSION cookie")
            # A live session id is a credential: masked wherever SAP or a proxy echoes it.
            register_secret(self._cookies["B1SESSION"])

        try:
            with_backoff(s, once)
        except TransientError as exc:
            # Plain RetryableError: a caller's own backoff must not multiply these attempts.
            raise RetryableError(f"SAP B1 is unreachable: {exc}") from None
        self.login_count += 1
        log.info("SAP B1: %s logged in to company %s", s.username, s.company)

    def logout(self) -> None:
        """End the session, once, within `logout_timeout`; a failure is logged, not raised."""
        if not self._cookies:
            return
        s = self.settings
        patient = replace(s, max_attempts=min(3, s.max_attempts), retry_budget=s.logout_timeout)
        try:
            with_backoff(
                patient,
                lambda: self._send(
                    "POST",
                    self._url("Logout"),
                    kind="read",
                    what="Logout",
                    deadline=s.logout_timeout,
                ),
            )
        except errors.SessionExpiredError:
            log.info("SAP B1 Logout: the session had already ended")
        except BridgeError as exc:
            log.warning("SAP B1 Logout failed; the session will time out on the server: %s", exc)
        else:
            log.info("SAP B1: %s logged out", s.username)
        finally:
            self._drop_session()

    def relogin(self) -> None:
        """Forget the dead session and log in again (no Logout: SAP already ended it)."""
        self._drop_session()
        self.login()

    def _drop_session(self) -> None:
        """Forget the session cookies; an ended session id is no longer a secret to mask."""
        session = self._cookies.get("B1SESSION")
        if session:
            forget_secret(session)
        self._cookies = {}

    def close(self) -> None:
        """Log out and release the connection pool (if this client created it)."""
        try:
            self.logout()
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

    # --- calls ----------------------------------------------------------------------------

    def request(
        self,
        method: Method,
        path: str,
        *,
        kind: CallKind,
        what: str,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        session_retry: bool = True,
    ) -> Answer:
        """One call in the batch's session (logging in first if needed); see `call`."""
        return self.call(
            method,
            path,
            lambda answer: answer,
            kind=kind,
            what=what,
            params=params,
            body=body,
            headers=headers,
            session_retry=session_retry,
        )

    def call(
        self,
        method: Method,
        path: str,
        parse: Callable[[Answer], T],
        *,
        kind: CallKind,
        what: str,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        session_retry: bool = True,
    ) -> T:
        """`parse(answer)` of one call in the batch's session (logging in first if needed).

        Transient failures (a `TransientError` from `parse` too) are retried with backoff; for
        writes that is only what was never sent. An expired session is renewed and the call
        repeated once, unless `session_retry` is False (a POST must look itself up before it
        is repeated): then `SessionExpiredError` is raised.
        """
        url = path if path.startswith(("http://", "https://")) else self._url(path)

        def once() -> T:
            if not self.has_session:
                self.login()
            answer = self._send(
                method, url, kind=kind, what=what, params=params, body=body, headers=headers
            )
            return parse(answer)

        def attempt() -> T:
            try:
                return with_backoff(self.settings, once)
            except TransientError as exc:
                # Plain RetryableError: a caller's own backoff must not multiply these attempts.
                raise RetryableError(str(exc)) from None

        try:
            return attempt()
        except errors.SessionExpiredError:
            if not session_retry:
                raise
        log.warning("SAP B1 %s: session expired; logging in again and repeating the call", what)
        self.relogin()
        try:
            return attempt()
        except errors.SessionExpiredError as again:
            raise RetryableError(
                f"SAP B1 ended the session again right after a new login ({again})"
            ) from None

    def get_json(self, path: str, what: str, params: Mapping[str, str] | None = None) -> Any:
        """A GET's parsed body; a garbled answer is read again (reads are safe)."""
        return self.call(
            "GET", path, lambda a: a.json(what, "read"), kind="read", what=what, params=params
        )

    def _same_service(self, url: httpx.URL) -> bool:
        root = self._root
        return (url.scheme, url.host, url.port) == (
            root.scheme,
            root.host,
            root.port,
        ) and url.path.startswith(root.path)

    def entities(
        self,
        entity_set: str,
        *,
        select: tuple[str, ...] = (),
        filter: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every entity of `entity_set`, following `odata.nextLink` / `@odata.nextLink`.

        Links are relative (`PurchaseInvoices?$skip=20`, or `/b1s/v1/...`) and joined to the
        service root; one that leaves the service is refused. A full last page still carries a
        link: the next page is then empty and ends the loop.

        Raises:
            ConfigError: a nextLink leaves the service, or more than MAX_PAGES pages.
            RetryableError: SAP stayed unavailable within the retry budget.
        """
        params: dict[str, str] = {}
        if select:
            params["$select"] = ",".join(select)
        if filter:
            params["$filter"] = filter
        prefer = {"Prefer": f"odata.maxpagesize={self.settings.page_size}"}
        url: str = self._url(entity_set)
        query: Mapping[str, str] | None = params

        def parse(answer: Answer) -> dict[str, Any]:
            page = answer.json(entity_set, "read")
            if not isinstance(page, dict) or not isinstance(page.get("value"), list):
                raise TransientError(f"SAP B1 {entity_set}: the answer has no 'value' list")
            return page

        for _ in range(MAX_PAGES):
            page = self.call(
                "GET", url, parse, kind="read", what=entity_set, params=query, headers=prefer
            )
            rows = [row for row in page["value"] if isinstance(row, dict)]
            yield from rows
            link = page.get("@odata.nextLink") or page.get("odata.nextLink")
            if not link or not rows:
                return
            following = self._root.join(str(link))
            if not self._same_service(following):
                raise ConfigError(f"SAP B1 {entity_set}: nextLink leaves the service; not followed")
            url, query = str(following), None
        raise ConfigError(f"SAP B1 {entity_set}: more than {MAX_PAGES} pages; refusing")
