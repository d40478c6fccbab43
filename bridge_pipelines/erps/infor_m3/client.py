"""The ION API Gateway and the M3 REST API v2 over httpx: one OAuth2 token per batch.

The `.ionapi` file the tenant's admin downloads from ION API names everything [C erp-facts
§3]: the token URL is `pu + ot`, the API root `iu + "/" + ti`, the app is `ci`/`cs` and the
service account `saak`/`sask` (already prefixed `TENANT#`: never prefix it again). The client
takes a token with the password grant at its first call, refreshes it (refresh grant) before
it expires, takes a new one on a 401 (expired or revoked: the gateway refused the call, so
M3 never saw it and the call is repeated once), and revokes the grant at `close()`.

M3 answers every transaction with HTTP 200 and the v2 shape; a failure is a result with
`errorMessage` (`errors.rejected`). Lists have no pages: they are read `page_size` records
at a time, each page starting from the last key read [I]. Time, backoff (429 without
Retry-After: exponential with jitter), pacing under `max_requests_per_minute`, TLS and the
classes of transport failures are the shared `SessionClient`'s.
"""

import json
import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlencode

import httpx
from pydantic import SecretStr

from bridge_pipelines.erps.http import RequestLimiter, TransientError
from bridge_pipelines.erps.infor_m3 import errors
from bridge_pipelines.erps.session import (
    MAX_PAGES,
    Answer,
    CallKind,
    ClientSettings,
    SessionClient,
)
from bridge_pipelines.erps.values import checked_code, quoted
from bridge_pipelines.errors import BridgeError, ConfigError, NeedsLookupError
from bridge_pipelines.redaction import forget_secret, register_secret

log = logging.getLogger(__name__)

Record = dict[str, str]
_REQUIRED = ("ti", "ci", "cs", "iu", "pu", "ot", "saak", "sask")


@dataclass(frozen=True)
class IonApiFile:
    """The parts of a `.ionapi` file the client uses; secrets as `SecretStr`."""

    tenant: str
    client_id: str
    client_secret: SecretStr = field(repr=False)
    api_url: str
    token_url: str
    revoke_url: str
    service_key: str
    service_secret: SecretStr = field(repr=False)

    @classmethod
    def parse(cls, text: str, owner: str) -> "IonApiFile":
        """Read the file's JSON; a missing key is named, a value never quoted.

        Raises:
            ConfigError: not JSON, or a key the client needs is missing or empty.
        """
        try:
            data = json.loads(text)
        except ValueError:
            raise ConfigError(f"{owner}: erp.ionapi is not a JSON .ionapi file") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{owner}: erp.ionapi is not a JSON object")
        missing = [key for key in _REQUIRED if not str(data.get(key) or "").strip()]
        if missing:
            raise ConfigError(f"{owner}: erp.ionapi lacks {', '.join(missing)}")
        pu = str(data["pu"]).strip()
        revoke = str(data.get("or") or "revoke_token.oauth2").strip()
        return cls(
            tenant=str(data["ti"]).strip(),
            client_id=str(data["ci"]).strip(),
            client_secret=SecretStr(str(data["cs"])),
            api_url=f"{str(data['iu']).strip().rstrip('/')}/{str(data['ti']).strip()}",
            token_url=pu + str(data["ot"]).strip(),
            revoke_url=pu + revoke,
            service_key=str(data["saak"]).strip(),
            service_secret=SecretStr(str(data["sask"])),
        )


@dataclass(frozen=True, kw_only=True)
class InforM3Settings(ClientSettings):
    """Where and how to reach one M3 company and division (timeouts: `ClientSettings`).

    `refresh_margin` is how long before its expiry a token is refreshed (at most a tenth of
    its lifetime, so a short-lived token is not refreshed on every call).
    """

    ionapi: IonApiFile = field(repr=False)
    company: str
    division: str
    page_size: int = 100
    refresh_margin: float = 60.0

    def __post_init__(self) -> None:
        if self.page_size < 2:
            raise ConfigError("Infor M3 page_size must be at least 2")


class _GrantRefusedError(ConfigError):
    """The token endpoint refused a grant; `error` is the OAuth2 error code."""

    def __init__(self, message: str, error: str) -> None:
        super().__init__(message)
        self.error = error


class InforM3Client(SessionClient):
    """One OAuth2 grant for one batch; a context manager, so the grant is always revoked.

    Not thread-safe: one batch is one thread. `token_grants` and `token_refreshes` count the
    password and refresh grants taken (for the benchmark).
    """

    erp_name: ClassVar[str] = "Infor M3"
    landed: ClassVar[str] = "committed"
    settings: InforM3Settings

    def __init__(
        self,
        settings: InforM3Settings,
        http: httpx.Client | None = None,
        pacer: RequestLimiter | None = None,
    ) -> None:
        register_secret(settings.ionapi.client_secret.get_secret_value())
        register_secret(settings.ionapi.service_secret.get_secret_value())
        super().__init__(settings, http, pacer)
        self._api = f"{settings.ionapi.api_url}/M3/m3api-rest/v2/execute"
        self._access: str | None = None
        self._refresh: str | None = None
        self._expires_at = 0.0
        self._lifetime = 0.0
        self.token_grants = 0
        self.token_refreshes = 0

    # --- the dialect ------------------------------------------------------------------------

    def detail(self, answer: Answer) -> str:
        try:
            body = json.loads(answer.text)
        except ValueError:
            return ""
        if not isinstance(body, dict):
            return ""
        text = body.get("error_description") or body.get("message") or body.get("error")
        return f" ({quoted(str(text))})" if text else ""

    def refusal(self, answer: Answer, kind: CallKind, what: str) -> BridgeError:
        """Token endpoint: a refused grant; API: 401 is an expired or revoked token."""
        ion = self.settings.ionapi
        if kind == "login":
            try:
                error = str(json.loads(answer.text).get("error") or "")
            except (ValueError, AttributeError):
                error = ""
            if error == "invalid_grant" or answer.status == 400:
                return _GrantRefusedError(
                    f"Infor ION API refused the grant for service account {ion.service_key!r}"
                    f"{self.detail(answer)}; check saak/sask in erp.ionapi (or erp.username/"
                    "erp.password)",
                    error or "invalid_grant",
                )
            return _GrantRefusedError(
                f"Infor ION API refused app {ion.client_id!r} (HTTP {answer.status}"
                f"{self.detail(answer)}); check ci/cs in erp.ionapi",
                error or "invalid_client",
            )
        if answer.status == 401:
            return errors.TokenExpiredError(
                f"Infor M3 {what}: the access token was refused{self.detail(answer)}",
                self.detail(answer),
            )
        return super().refusal(answer, kind, what)

    # --- the grant --------------------------------------------------------------------------

    @property
    def has_session(self) -> bool:
        """True while the client holds an access token."""
        return self._access is not None

    def login_description(self) -> str:
        ion = self.settings.ionapi
        return f"app {ion.client_id} on {ion.tenant}, company {self.settings.company}"

    def _login_once(self) -> None:
        ion = self.settings.ionapi
        if self._refresh:
            try:
                self._grant({"grant_type": "refresh_token", "refresh_token": self._refresh})
            except _GrantRefusedError as exc:
                log.info("Infor M3: the refresh token was refused (%s); new grant", exc.error)
                self._drop_refresh()
            else:
                self.token_refreshes += 1
                return
        self._grant(
            {
                "grant_type": "password",
                "username": ion.service_key,
                "password": ion.service_secret.get_secret_value(),
            }
        )
        self.token_grants += 1

    def _grant(self, form: Mapping[str, str]) -> None:
        ion = self.settings.ionapi
        body = {
            "client_id": ion.client_id,
            "client_secret": ion.client_secret.get_secret_value(),
            **form,
        }
        answer = self.exchange(
            "POST",
            ion.token_url,
            kind="login",
            what="token",
            content=urlencode(body).encode(),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
        )
        token = self.json(answer, "token", "login")
        access = token.get("access_token") if isinstance(token, dict) else None
        if not access:
            raise TransientError("Infor ION API token: the answer holds no access_token")
        register_secret(str(access))
        self._forget_access()
        self._access = str(access)
        refresh = token.get("refresh_token")
        if refresh:
            register_secret(str(refresh))
            if self._refresh and self._refresh != refresh:
                forget_secret(self._refresh)
            self._refresh = str(refresh)
        try:
            self._lifetime = max(1.0, float(token.get("expires_in") or 3600))
        except (TypeError, ValueError):
            self._lifetime = 3600.0
        self._expires_at = time.monotonic() + self._lifetime

    def _expiring(self) -> bool:
        margin = min(self.settings.refresh_margin, self._lifetime / 10)
        return time.monotonic() >= self._expires_at - margin

    def _logout_once(self) -> None:
        token = self._refresh or self._access
        if not token:
            return
        # POSTed (RFC 7009), so the token never travels in a URL a proxy might log.
        self.exchange(
            "POST",
            self.settings.ionapi.revoke_url,
            kind="read",
            what="revoke",
            content=urlencode({"token": token}).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            deadline=self.settings.logout_timeout,
        )

    def _forget_access(self) -> None:
        if self._access:
            forget_secret(self._access)
        self._access = None

    def _drop_refresh(self) -> None:
        if self._refresh:
            forget_secret(self._refresh)
        self._refresh = None

    def _forget_session(self) -> None:
        """Forget the access token; the refresh token is kept for the next grant."""
        self._forget_access()

    def logout(self) -> None:
        """Revoke the grant, then forget both tokens."""
        try:
            super().logout()
        finally:
            self._drop_refresh()

    # --- calls ------------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._access}", "Accept": "application/json"}

    def _results(self, answer: Answer, what: str, kind: CallKind) -> list[dict[str, Any]]:
        body = self.json(answer, what, kind)
        results = body.get("results") if isinstance(body, dict) else None
        if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
            message = f"Infor M3 {what}: the answer has no results"
            if kind == "write":
                raise NeedsLookupError(f"{message}; it may have been committed")
            raise TransientError(message)
        return results

    def execute(
        self,
        program: str,
        transaction: str,
        fields: Mapping[str, str | None] | None = None,
        *,
        kind: CallKind = "read",
        maxrecs: int | None = None,
    ) -> list[Record]:
        """One transaction's records (`GET .../execute/{PROGRAM}/{TRANSACTION}`).

        Raises:
            M3RejectedError: M3 refused it (its type, code and field kept).
            NeedsLookupError: a write's answer was lost or unreadable.
            RetryableError: still throttled or unreachable within the retry budget.
        """
        s = self.settings
        what = f"{program}/{transaction}"
        matrix = f";cono={s.company};divi={s.division}"
        if maxrecs is not None:
            matrix += f";maxrecs={maxrecs}"
        url = f"{self._api}/{program}/{transaction}{matrix}"
        params = {
            name: checked_code(str(value), name)
            for name, value in (fields or {}).items()
            if value not in (None, "")
        }

        def once() -> list[Record]:
            if self._expiring():
                self.login()  # the refresh grant, before the gateway would refuse the token
            answer = self.exchange(
                "GET", url, kind=kind, what=what, params=params, headers=self._headers()
            )
            [result] = self._results(answer, what, kind)[:1] or [{}]
            if result.get("errorMessage"):
                raise errors.rejected(what, result, answer.text)
            return _records(result)

        return self.in_session(once, what=what)

    def execute_bulk(
        self, program: str, transactions: list[tuple[str, Mapping[str, str]]]
    ) -> list[dict[str, Any]]:
        """Several transactions of one program in one `POST .../execute` (writes).

        M3 runs them in order, each on its own: the answer holds one result per transaction,
        failed ones with their `errorMessage`; nothing is rolled back.
        """
        s = self.settings
        body = json.dumps(
            {
                "program": program,
                "cono": s.company,
                "divi": s.division,
                "transactions": [
                    {"transaction": name, "record": dict(record)} for name, record in transactions
                ],
            }
        ).encode()
        what = f"{program} bulk"

        def once() -> list[dict[str, Any]]:
            if self._expiring():
                self.login()
            headers = {**self._headers(), "Content-Type": "application/json"}
            answer = self.exchange(
                "POST", self._api, kind="write", what=what, content=body, headers=headers
            )
            results = self._results(answer, what, "write")
            if len(results) != len(transactions):
                raise NeedsLookupError(
                    f"Infor M3 {what}: {len(results)} results for {len(transactions)} transactions"
                )
            return results

        return self.in_session(once, what=what)

    def list_all(
        self, program: str, transaction: str, fields: Mapping[str, str], key: str
    ) -> Iterator[Record]:
        """Every record of a list transaction, `page_size` at a time, in `key` order.

        Each page starts from the last key read (M3's lists read "from" a key [I]); the
        repeated first record is skipped.
        """
        page = self.settings.page_size
        last: str | None = None
        for _ in range(MAX_PAGES):
            start = {**fields, key: last} if last is not None else dict(fields)
            rows = self.execute(program, transaction, start, maxrecs=page)
            fresh = [r for r in rows if last is None or r.get(key, "") > last]
            yield from fresh
            if len(rows) < page or not fresh:
                return
            last = rows[-1].get(key, "")
        raise ConfigError(f"Infor M3 {program}/{transaction}: more than {MAX_PAGES} pages")


def _records(result: dict[str, Any]) -> list[Record]:
    rows = result.get("records") or []
    return [
        {str(k): "" if v is None else str(v).strip() for k, v in row.items()}
        for row in rows
        if isinstance(row, dict)
    ]
