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

Time, backoff, pacing, TLS (always verified, against the system store or the tenant's
`ca_bundle`), the session's life and the classes of transport failures are the shared
`SessionClient`'s (`erps/session.py`); this module is the Service Layer's dialect: Login and
its cookies, the error bodies, the OData paging.
Amounts travel as JSON numbers written from `Decimal` text and are read back with
`parse_float=Decimal`: a float never touches money.
"""

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeVar

import httpx
from pydantic import SecretStr

from bridge_pipelines.erps.http import RequestLimiter, TransientError
from bridge_pipelines.erps.sap_b1 import errors
from bridge_pipelines.erps.sap_b1.payloads import dumps
from bridge_pipelines.erps.session import (
    Answer,
    CallKind,
    ClientSettings,
    SessionClient,
    SessionExpiredError,
    follow_pages,
)
from bridge_pipelines.errors import BridgeError, ConfigError, NeedsLookupError
from bridge_pipelines.redaction import forget_secret, register_secret

log = logging.getLogger(__name__)

Method = Literal["GET", "POST", "PATCH"]
SESSION_COOKIES = ("B1SESSION", "ROUTEID")
T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class SapB1Settings(ClientSettings):
    """Where and how to reach one SAP B1 company (timeouts and retries: `ClientSettings`).

    `base_url` is the Service Layer root (`https://host:50000/b1s/v1`); a bare origin gets
    `/b1s/v1` appended. `/b1s/v2` selects OData v4 (both error and nextLink shapes are read).
    """

    base_url: str
    company: str
    username: str
    password: SecretStr = field(repr=False)
    page_size: int = 100

    def __post_init__(self) -> None:
        url = self.base_url.rstrip("/")
        if "/b1s/" not in httpx.URL(url + "/").path:
            url += "/b1s/v1"
        object.__setattr__(self, "base_url", url)
        if self.page_size < 1:
            raise ConfigError("SAP B1 page_size must be at least 1")


class NotFoundError(BridgeError):
    """404 with code -2028: no record has that key."""


def _session_cookies(response_headers: httpx.Headers) -> dict[str, str]:
    found: dict[str, str] = {}
    for header in response_headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        if name.strip() in SESSION_COOKIES:
            found[name.strip()] = rest.split(";", 1)[0].strip()
    return found


class SapB1Client(SessionClient):
    """One Service Layer session for one batch; a context manager, so Logout always runs.

    Not thread-safe: one batch is one thread.
    """

    erp_name: ClassVar[str] = "SAP B1"
    landed: ClassVar[str] = "committed"
    settings: SapB1Settings

    def __init__(
        self,
        settings: SapB1Settings,
        http: httpx.Client | None = None,
        pacer: RequestLimiter | None = None,
    ) -> None:
        register_secret(settings.password.get_secret_value())
        super().__init__(settings, http, pacer)
        self._root = httpx.URL(settings.base_url + "/")
        self._cookies: dict[str, str] = {}

    # --- the dialect ----------------------------------------------------------------------

    def detail(self, answer: Answer) -> str:
        return f" ({errors.parse_error(answer.text).located()})"

    def classify(self, answer: Answer, kind: CallKind, what: str) -> BridgeError:
        """500 code 299 on Login (parallel logins) is transient: backoff with jitter."""
        if answer.status >= 500 and kind == "login":
            error = errors.parse_error(answer.text)
            if error.code == errors.PARALLEL_LOGIN:
                return TransientError(f"SAP B1 Login: parallel logins refused ({error.located()})")
        return super().classify(answer, kind, what)

    def refusal(self, answer: Answer, kind: CallKind, what: str) -> BridgeError:
        """401 (Login: credentials; else the session ended), 404 -2028, 403/404/405, 4xx."""
        s = self.settings
        error = errors.parse_error(answer.text)
        if answer.status == 401:
            if kind == "login":
                return errors.login_refused(s.username, s.company, error)
            return errors.SessionExpiredError(error)
        if answer.status == 404 and error.code == errors.NO_MATCHING_RECORDS:
            return NotFoundError(f"SAP B1 {what}: {error.located()}")
        if answer.status in (403, 404, 405):
            return ConfigError(
                f"SAP B1 {what}: HTTP {answer.status} ({error.located()}); check the URL"
            )
        return errors.rejected(what, error, answer.text)

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
        """One request with the session's cookies and a JSON body (see `exchange`)."""
        sent_headers = {"Accept": "application/json", **(headers or {})}
        if self._cookies and kind != "login":
            sent_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self._cookies.items())
        content = None
        if body is not None:
            content = dumps(body).encode("utf-8")
            sent_headers["Content-Type"] = "application/json"
        answer = self.exchange(
            method,
            url,
            kind=kind,
            what=what,
            params=params,
            content=content,
            headers=sent_headers,
            deadline=deadline,
        )
        if kind == "login":
            self._cookies = _session_cookies(answer.headers)
        return answer

    # --- session --------------------------------------------------------------------------

    @property
    def has_session(self) -> bool:
        """True while the client holds a session (between a Login and its Logout)."""
        return "B1SESSION" in self._cookies

    def login_description(self) -> str:
        return f"{self.settings.username} on company {self.settings.company}"

    def _login_once(self) -> None:
        s = self.settings
        body = {
            "CompanyDB": s.company,
            "UserName": s.username,
            "Password": s.password.get_secret_value(),
        }
        self._forget_session()
        self._send("POST", self._url("Login"), kind="login", what="Login", body=body)
        if "B1SESSION" not in self._cookies:
            raise TransientError("SAP B1 Login: the answer set no B1SESSION cookie")
        # A live session id is a credential: masked wherever SAP or a proxy echoes it.
        register_secret(self._cookies["B1SESSION"])

    def _logout_once(self) -> None:
        self._send(
            "POST",
            self._url("Logout"),
            kind="read",
            what="Logout",
            deadline=self.settings.logout_timeout,
        )

    def _forget_session(self) -> None:
        """Forget the session cookies; an ended session id is no longer a secret to mask."""
        session = self._cookies.get("B1SESSION")
        if session:
            forget_secret(session)
        self._cookies = {}

    def resend_lost_again(self, error: SessionExpiredError, what: str) -> BridgeError:
        """A post that lost its new session too: it may not be assumed unsent."""
        return NeedsLookupError(f"SAP B1 ended the session again right after a new login ({error})")

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
        """`parse(answer)` of one call in the batch's session (see `SessionClient.in_session`).

        A `TransientError` from `parse` is retried like a transient failure of the call.
        """
        url = path if path.startswith(("http://", "https://")) else self._url(path)
        return self.in_session(
            lambda: parse(
                self._send(
                    method, url, kind=kind, what=what, params=params, body=body, headers=headers
                )
            ),
            what=what,
            session_retry=session_retry,
        )

    def get_json(self, path: str, what: str, params: Mapping[str, str] | None = None) -> Any:
        """A GET's parsed body; a garbled answer is read again (reads are safe)."""
        return self.call(
            "GET", path, lambda a: self.json(a, what, "read"), kind="read", what=what, params=params
        )

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

        def parse(answer: Answer) -> dict[str, Any]:
            page = self.json(answer, entity_set, "read")
            if not isinstance(page, dict) or not isinstance(page.get("value"), list):
                raise TransientError(f"SAP B1 {entity_set}: the answer has no 'value' list")
            return page

        def page(url: str, query: Mapping[str, str] | None) -> dict[str, Any]:
            return self.call(
                "GET", url, parse, kind="read", what=entity_set, params=query, headers=prefer
            )

        yield from follow_pages(
            self._url(entity_set), params, page, self._root, f"SAP B1 {entity_set}"
        )
