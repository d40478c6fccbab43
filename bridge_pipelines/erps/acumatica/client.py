"""Acumatica's contract-based REST API over httpx: one session per batch, cookie or OAuth 2.0.

Calls go to `<instance>/entity/<Endpoint>/<Version>/<Entity>`, the version pinned per tenant;
a version the instance does not serve answers 404, turned into a `ConfigError` naming the
versions `GET /entity` lists.

Sessions:

- **cookie**: `POST /entity/auth/login` (204 + `.ASPXAUTH`), the cookies sent explicitly on
  every call (two tenants on one `httpx.Client` never mix), `POST /entity/auth/logout` with
  an explicit `Content-Length: 0` (IIS answers 411 without it) at `close()`: a session holds
  one of the licence's API user seats.
- **oauth2**: tokens from `/identity/connect/token`; the refresh token is kept in the tenant's
  `TokenStore` (locked, atomic, encrypted; `tokens.py`). Each batch spends the saved refresh
  token under the lock and saves the rotated one before using its own access token, which no
  other run shares: `close()` logs that token's API session out (freeing the seat) without
  ending another run's. A 401 mid-batch takes a new token the same way.

The licence throttle answers 429 without Retry-After [C]: the shared backoff (exponential with
jitter) retries it; the client also paces itself under `max_requests_per_minute`. Time,
retries, TLS and failure classes are `SessionClient`'s (`erps/session.py`).
"""

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, TypeVar
from urllib.parse import urlencode

import httpx
from pydantic import SecretStr

from bridge_pipelines.erps.acumatica import errors
from bridge_pipelines.erps.acumatica.payloads import dumps, unwrap
from bridge_pipelines.erps.acumatica.tokens import TokenStore
from bridge_pipelines.erps.http import RequestLimiter, TransientError
from bridge_pipelines.erps.session import (
    Answer,
    CallKind,
    ClientSettings,
    SessionClient,
    SessionExpiredError,
)
from bridge_pipelines.errors import BridgeError, ConfigError, NeedsLookupError
from bridge_pipelines.redaction import forget_secret, register_secret

log = logging.getLogger(__name__)

Method = Literal["GET", "PUT", "POST"]
AUTH_COOKIES = (".ASPXAUTH", "ASP.NET_SessionId", "UserBranch", "Locale", "requestid")
T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class AcumaticaSettings(ClientSettings):
    """Where and how to reach one Acumatica tenant (timeouts and retries: `ClientSettings`)."""

    base_url: str
    tenant: str
    endpoint: str = "Default"
    version: str
    branch: str | None = None
    username: str | None = None
    password: SecretStr | None = field(default=None, repr=False)
    auth: Literal["cookie", "oauth2"] = "cookie"
    client_id: str | None = None
    client_secret: SecretStr | None = field(default=None, repr=False)
    refresh_token: SecretStr | None = field(default=None, repr=False)
    token_store: TokenStore | None = field(default=None, repr=False)
    page_size: int = 500
    release_poll_seconds: float = 0.2
    release_timeout: float = 60.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))
        if self.page_size < 1:
            raise ConfigError("Acumatica page_size must be at least 1")


class LicencePacer:
    """Spaces requests at the licence's per-minute rate, catching up after a slow stretch.

    The shared `Pacer` forgets the time a slow answer (or a busy machine) took, so a client
    paced at the limit ends below it. This one keeps up to `burst` slots of credit: after a
    stall it sends that many requests back to back, never more than `burst` over the rate in
    any stretch of time. Acumatica spaces requests past half its per-minute limit rather than
    refusing them [C], so the credit costs no 429.
    """

    def __init__(self, requests_per_minute: float | None, burst: int = 5) -> None:
        self._interval = 60.0 / requests_per_minute if requests_per_minute else 0.0
        self._burst = burst
        self._next = time.monotonic()

    def acquire(self) -> None:
        """Sleep until this request's slot."""
        if not self._interval:
            return
        now = time.monotonic()
        self._next = max(self._next, now - self._burst * self._interval)
        if self._next > now:
            time.sleep(self._next - now)
        self._next += self._interval


def _cookies(headers: httpx.Headers) -> dict[str, str]:
    found: dict[str, str] = {}
    for header in headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        if name.strip() in AUTH_COOKIES:
            found[name.strip()] = rest.split(";", 1)[0].strip()
    return found


class AcumaticaClient(SessionClient):
    """One API session of one tenant for one batch; a context manager, so logout always runs."""

    erp_name: ClassVar[str] = "Acumatica"
    landed: ClassVar[str] = "saved"
    settings: AcumaticaSettings

    def __init__(
        self,
        settings: AcumaticaSettings,
        http: httpx.Client | None = None,
        pacer: RequestLimiter | None = None,
    ) -> None:
        for secret in (settings.password, settings.client_secret, settings.refresh_token):
            if secret is not None:
                register_secret(secret.get_secret_value())
        super().__init__(settings, http, pacer or LicencePacer(settings.max_requests_per_minute))
        self._root = httpx.URL(settings.base_url + "/")
        self._cookies: dict[str, str] = {}
        self._access: str | None = None
        self._dead: set[str] = set()
        self.refreshes = 0

    @property
    def entity_root(self) -> str:
        s = self.settings
        return f"{s.base_url}/entity/{s.endpoint}/{s.version}"

    # --- the dialect ----------------------------------------------------------------------

    def detail(self, answer: Answer) -> str:
        return f" ({errors.parse_error(answer.text).located()})"

    def classify(self, answer: Answer, kind: CallKind, what: str) -> BridgeError:
        """500s Acumatica uses for answers that are not server failures."""
        if answer.status == 500:
            error = errors.parse_error(answer.text)
            if kind == "login" and "credentials" in error.text.lower():
                return ConfigError(
                    f"Acumatica refused the login of {self.settings.username!r} to tenant "
                    f"{self.settings.tenant!r}: {error.located()}; check erp.username, "
                    "erp.password and erp.company"
                )
            if errors.NO_ENTITY in error.exception_type:
                return errors.NotFoundError(f"Acumatica {what}: {error.located()}")
            if what.endswith(" status"):  # a long-running action that failed
                return errors.rejected(what, error, answer.text)
        return super().classify(answer, kind, what)

    def refusal(self, answer: Answer, kind: CallKind, what: str) -> BridgeError:
        s = self.settings
        error = errors.parse_error(answer.text)
        if answer.status in (400, 401):
            if kind == "login":  # wrong user or password, unknown client, spent refresh token
                return ConfigError(
                    f"Acumatica refused the credentials for tenant {s.tenant!r}: "
                    f"{error.located()}; check erp.username, erp.password and the OAuth client"
                )
            if answer.status == 401:
                return errors.SessionExpiredError(error)
        if answer.status == 404:
            return ConfigError(
                f"Acumatica {what}: endpoint {s.endpoint}/{s.version} not found on "
                f"{s.base_url} (HTTP 404); check erp.acumatica_endpoint_version"
            )
        if answer.status == 412:
            return errors.RecordExistsError(f"Acumatica {what}: a record with this key exists")
        if answer.status in (403, 405):
            return ConfigError(
                f"Acumatica {what}: HTTP {answer.status} ({error.located()}); check the API "
                "user's rights and the licence"
            )
        if kind == "write" or answer.status == 422:
            return errors.rejected(what, error, answer.text)
        return BridgeError(f"Acumatica {what}: HTTP {answer.status} ({error.located()})")

    # --- one request ----------------------------------------------------------------------

    def _headers(self, kind: CallKind, extra: Mapping[str, str] | None) -> dict[str, str]:
        headers = {"Accept": "application/json", **(extra or {})}
        if kind != "login":
            if self._access:
                headers["Authorization"] = f"Bearer {self._access}"
            elif self._cookies:
                headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self._cookies.items())
        return headers

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
        sent = self._headers(kind, headers)
        content = None
        if body is not None:
            content = dumps(body).encode("utf-8")
            sent["Content-Type"] = "application/json"
        return self.exchange(
            method, url, kind=kind, what=what, params=params, content=content, headers=sent,
            deadline=deadline,
        )  # fmt: skip

    # --- session --------------------------------------------------------------------------

    @property
    def has_session(self) -> bool:
        return bool(self._access or self._cookies.get(".ASPXAUTH"))

    def login_description(self) -> str:
        how = "OAuth" if self.settings.auth == "oauth2" else "cookie login"
        return (
            f"{self.settings.username or self.settings.client_id} on {self.settings.tenant} ({how})"
        )

    def _login_once(self) -> None:
        if self.settings.auth == "oauth2":
            self._token_login()
            return
        s = self.settings
        self._forget_session()
        body: dict[str, Any] = {
            "name": s.username,
            "password": s.password.get_secret_value() if s.password else "",
            "tenant": s.tenant,
        }
        if s.branch:
            body["branch"] = s.branch
        answer = self._send(
            "POST", f"{s.base_url}/entity/auth/login", kind="login", what="login", body=body
        )
        self._cookies = _cookies(answer.headers)
        if ".ASPXAUTH" not in self._cookies:
            raise TransientError("Acumatica login: the answer set no session cookie")
        register_secret(self._cookies[".ASPXAUTH"])

    def _logout_once(self) -> None:
        self._send(
            "POST",
            f"{self.settings.base_url}/entity/auth/logout",
            kind="read",
            what="logout",
            headers={"Content-Length": "0"},
            deadline=self.settings.logout_timeout,
        )

    def _forget_session(self) -> None:
        for value in (self._cookies.get(".ASPXAUTH"), self._access):
            if value:
                forget_secret(value)
        if self._access:
            self._dead.add(self._access)
        self._cookies = {}
        self._access = None

    def resend_lost_again(self, error: SessionExpiredError, what: str) -> BridgeError:
        return NeedsLookupError(f"Acumatica ended the session again right after a login ({error})")

    # --- OAuth 2.0 ---------------------------------------------------------------------------

    def _token_request(self, form: dict[str, str]) -> dict[str, Any]:
        s = self.settings
        answer = self.exchange(
            "POST",
            f"{s.base_url}/identity/connect/token",
            kind="login",
            what="token",
            content=urlencode(form).encode("ascii"),
            headers={"Content-Type": "application/x-www-form-urlencoded",
                     "Accept": "application/json"},
        )  # fmt: skip
        body = self.json(answer, "token", "read")
        if not isinstance(body, dict) or not body.get("access_token"):
            raise TransientError("Acumatica token: the answer holds no access_token")
        for name in ("access_token", "refresh_token"):
            if body.get(name):
                register_secret(str(body[name]))
        return body

    def _token_login(self) -> None:
        s = self.settings
        store = s.token_store
        if store is None or not s.client_id or s.client_secret is None:
            raise ConfigError(
                "Acumatica OAuth needs erp.acumatica_client_id, erp.acumatica_client_secret "
                "and a token store"
            )
        client = {"client_id": s.client_id, "client_secret": s.client_secret.get_secret_value()}
        self._forget_session()
        with store.locked() as state:
            refresh = state.get("refresh_token") or (
                s.refresh_token.get_secret_value() if s.refresh_token else None
            )
            body: dict[str, Any] | None = None
            if refresh:
                try:
                    body = self._token_request(
                        {"grant_type": "refresh_token", "refresh_token": str(refresh), **client}
                    )
                    self.refreshes += 1
                except ConfigError as exc:
                    # Spent (another run's answer was lost) or expired: the password grant
                    # starts a new chain when the tenant has one.
                    log.warning("Acumatica OAuth: the saved refresh token was refused (%s)", exc)
                    state.pop("refresh_token", None)
                    store.save_now(state)
            if body is None:
                if not s.username or s.password is None:
                    raise ConfigError(
                        "Acumatica OAuth: no usable refresh token (spent by a lost answer or "
                        "expired) and no password grant configured; authorise the "
                        "application again and set erp.acumatica_refresh_token"
                    )
                body = self._token_request(
                    {"grant_type": "password", "username": s.username,
                     "password": s.password.get_secret_value(),
                     "scope": "api offline_access", **client}
                )  # fmt: skip
            if body.get("refresh_token"):
                state["refresh_token"] = str(body["refresh_token"])
            state["saved_at"] = datetime.now(UTC).isoformat()
            store.save_now(state)  # the rotated token is on disk before anything else
            self._access = str(body["access_token"])

    # --- calls ----------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.entity_root}/{path}"

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
        """`parse(answer)` of one call in the batch's session (see `SessionClient.in_session`)."""
        url = self.url(path)
        return self.in_session(
            lambda: parse(
                self._send(method, url, kind=kind, what=what, params=params, body=body,
                           headers=headers)
            ),
            what=what,
            session_retry=session_retry,
        )  # fmt: skip

    def get_json(self, path: str, what: str, params: Mapping[str, str] | None = None) -> Any:
        """A GET's plain (unwrapped) body; a garbled answer is read again."""
        return self.call(
            "GET", path, lambda a: unwrap(self.json(a, what, "read")), kind="read", what=what,
            params=params,
        )  # fmt: skip

    def records(
        self,
        entity: str,
        *,
        select: tuple[str, ...] = (),
        expand: tuple[str, ...] = (),
        filter: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every record of `entity`, plain, paged with `$top`/`$skip` (there is no nextLink).

        A page shorter than `page_size` is the last.
        """
        params: dict[str, str] = {"$top": str(self.settings.page_size)}
        if select:
            params["$select"] = ",".join(select)
        if expand:
            params["$expand"] = ",".join(expand)
        if filter:
            params["$filter"] = filter
        skip = 0
        while True:
            page = self.get_json(entity, entity, {**params, "$skip": str(skip)})
            if not isinstance(page, list):
                raise TransientError(f"Acumatica {entity}: the answer is not a list")
            yield from (row for row in page if isinstance(row, dict))
            if len(page) < self.settings.page_size:
                return
            skip += len(page)

    def endpoint_versions(self) -> list[str]:
        """The versions of this tenant's endpoint the instance serves (`GET /entity`)."""
        s = self.settings
        answer = self.retrying(
            lambda: self._send("GET", f"{s.base_url}/entity", kind="read", what="endpoints")
        )
        body = self.json(answer, "endpoints", "read")
        rows = body.get("endpoints", []) if isinstance(body, dict) else []
        return sorted(
            str(r.get("version"))
            for r in rows
            if isinstance(r, dict) and r.get("name") == s.endpoint
        )

    def wait_for(self, location: str, what: str) -> None:
        """Poll a long-running action's `Location` until 204 (202 = still running).

        Raises:
            NeedsLookupError: still running at `release_timeout`, or the poll failed.
            RejectedByErpError: the action failed (its error body kept).
        """
        ends = time.monotonic() + self.settings.release_timeout
        while True:
            answer = self.call(
                "GET", str(self._root.join(location)), lambda a: a, kind="read", what=what
            )
            if answer.status == 204:
                return
            if time.monotonic() > ends:
                raise NeedsLookupError(f"Acumatica {what}: still running after the timeout")
            time.sleep(self.settings.release_poll_seconds)
