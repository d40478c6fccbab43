"""Throwaway Books over httpx: its dialect on the shared `SessionClient`, nothing more.

`POST login` answers a session token, sent back as the `TWSESSION` cookie. A 401 on login is
wrong credentials (`ConfigError`, never retried); elsewhere it is an ended session
(`SessionExpiredError`: a read is repeated after a new login, a write looked up first). 404
`not_found` is `NotFoundError`; 409 and 422 are the ERP refusing the request (422
`period_closed`: the posting period, `PeriodClosedError`). Time, backoff,
Retry-After, pacing and the session's life are `SessionClient`'s.
"""

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import httpx
from pydantic import SecretStr

from bridge_pipelines.erps.base import period_closed_by_erp, rejected_by_erp
from bridge_pipelines.erps.http import RequestLimiter, TransientError
from bridge_pipelines.erps.session import (
    MAX_PAGES,
    Answer,
    CallKind,
    ClientSettings,
    SessionClient,
    SessionExpiredError,
)
from bridge_pipelines.errors import BridgeError, ConfigError
from bridge_pipelines.redaction import forget_secret, redact, register_secret

SESSION_COOKIE = "TWSESSION"
Method = Literal["GET", "POST", "PUT"]


@dataclass(frozen=True, kw_only=True)
class ThrowawaySettings(ClientSettings):
    """Where the API is, who logs in, and how many rows a page asks for."""

    base_url: str
    username: str
    password: SecretStr = field(repr=False)
    page_size: int = 100


class NotFoundError(BridgeError):
    """404 `not_found`: no record has that key."""


def _error_of(answer: Answer) -> tuple[str, str]:
    try:
        body = json.loads(answer.text)
    except ValueError:
        return "", redact(answer.text[:200])
    if not isinstance(body, dict):
        return "", ""
    return str(body.get("error") or ""), redact(str(body.get("message") or ""))


class ThrowawayClient(SessionClient):
    """One Throwaway Books session for one batch."""

    erp_name: ClassVar[str] = "Throwaway"
    settings: ThrowawaySettings

    def __init__(
        self,
        settings: ThrowawaySettings,
        http: httpx.Client | None = None,
        pacer: RequestLimiter | None = None,
    ) -> None:
        register_secret(settings.password.get_secret_value())
        super().__init__(settings, http, pacer)
        self._root = httpx.URL(settings.base_url.rstrip("/") + "/")
        self._token: str | None = None

    # --- the dialect -------------------------------------------------------------------------

    def detail(self, answer: Answer) -> str:
        error, message = _error_of(answer)
        return f" ({error}: {message})" if error or message else ""

    def refusal(self, answer: Answer, kind: CallKind, what: str) -> BridgeError:
        error, message = _error_of(answer)
        if answer.status == 401 and kind == "login":
            return ConfigError(
                f"Throwaway {what}: user {self.settings.username!r} refused ({message}); "
                "check erp.username and erp.password"
            )
        if answer.status == 401:
            return SessionExpiredError(f"Throwaway {what}: the session has ended", message)
        if answer.status == 404 and error == "not_found":
            return NotFoundError(f"Throwaway {what}: {message}")
        if answer.status == 422 and error == "period_closed":
            return period_closed_by_erp(
                f"Throwaway {what}: refused ({message})", redact(answer.text)
            )
        if answer.status in (409, 422):
            return rejected_by_erp(f"Throwaway {what}: refused ({message})", redact(answer.text))
        return super().refusal(answer, kind, what)

    @property
    def has_session(self) -> bool:
        return self._token is not None

    def login_description(self) -> str:
        return f"user {self.settings.username}"

    def _login_once(self) -> None:
        s = self.settings
        body = {"user": s.username, "password": s.password.get_secret_value()}
        self._forget_session()
        answer = self._send("POST", "login", kind="login", what="login", body=body)
        token = self.json(answer, "login", "read").get("session")
        if not isinstance(token, str) or not token:
            raise TransientError("Throwaway login: the answer holds no session")
        register_secret(token)
        self._token = token

    def _logout_once(self) -> None:
        deadline = self.settings.logout_timeout
        self._send("POST", "logout", kind="read", what="logout", deadline=deadline)

    def _forget_session(self) -> None:
        if self._token:
            forget_secret(self._token)
        self._token = None

    # --- calls -------------------------------------------------------------------------------

    def _send(
        self,
        method: Method,
        path: str,
        *,
        kind: CallKind,
        what: str,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        deadline: float | None = None,
    ) -> Answer:
        headers = {"Accept": "application/json"}
        if self._token and kind != "login":
            headers["Cookie"] = f"{SESSION_COOKIE}={self._token}"
        content = None
        if body is not None:
            content = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        url = str(self._root.join(path))
        return self.exchange(
            method,
            url,
            kind=kind,
            what=what,
            params=params,
            content=content,
            headers=headers,
            deadline=deadline,
        )

    def request(
        self,
        method: Method,
        path: str,
        *,
        kind: CallKind,
        what: str,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        session_retry: bool = True,
    ) -> Answer:
        """One call in the batch's session (see `SessionClient.in_session`)."""
        return self.in_session(
            lambda: self._send(method, path, kind=kind, what=what, params=params, body=body),
            what=what,
            session_retry=session_retry,
        )

    def get_json(self, path: str, what: str, params: Mapping[str, str] | None = None) -> Any:
        """A GET's parsed body; a garbled answer is read again (reads are safe)."""
        return self.in_session(
            lambda: self.json(
                self._send("GET", path, kind="read", what=what, params=params), what, "read"
            ),
            what=what,
        )

    def pages(
        self, path: str, what: str, params: Mapping[str, str] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every item of a paged list, `page_size` at a time, until `next_offset` is null.

        Raises:
            ConfigError: more than MAX_PAGES pages.
        """
        offset = 0
        for _ in range(MAX_PAGES):
            query = {**(params or {}), "offset": str(offset), "limit": str(self.settings.page_size)}
            page = self.get_json(path, what, query)
            yield from (item for item in page.get("items") or [] if isinstance(item, dict))
            following = page.get("next_offset")
            if not isinstance(following, int) or following <= offset:
                return
            offset = following
        raise ConfigError(f"Throwaway {what}: more than {MAX_PAGES} pages; refusing")
