"""Cookie login and logout, OAuth 2.0 with rotating refresh tokens, and the licence's limits."""

import socket
import threading
import time
from urllib.parse import urlsplit

import httpx
import pytest

from bridge_pipelines.erps.acumatica.settings import AcumaticaErpSettings
from bridge_pipelines.errors import ConfigError
from bridge_pipelines.sandbox.acumatica.seed import API_PASSWORD, API_USER, CLIENT_ID, CLIENT_SECRET
from bridge_pipelines_tests.contract.acumatica.conftest import Acumatica

pytestmark = pytest.mark.contract


def _token(acumatica: Acumatica, **form: str) -> httpx.Response:
    return acumatica.http.post(
        "/identity/connect/token",
        data={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, **form},
    )


def test_cookie_login_answers_204_with_the_session_cookie(acumatica: Acumatica) -> None:
    response = acumatica.login()
    assert response.status_code == 204
    assert any(c.startswith(".ASPXAUTH=") for c in response.headers.get_list("set-cookie"))
    assert acumatica.http.get(acumatica.entity("Branch")).status_code == 200


def test_logout_without_content_length_answers_411(acumatica: Acumatica) -> None:
    url = urlsplit(acumatica.running.base_url)
    with socket.create_connection((url.hostname, url.port), timeout=10) as raw:
        raw.sendall(b"POST /entity/auth/logout HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = raw.recv(200).decode("latin-1")
    assert answer.startswith("HTTP/1.1 411")
    acumatica.login()
    assert acumatica.http.post("/entity/auth/logout", content=b"").status_code == 204
    assert acumatica.http.get(acumatica.entity("Branch")).status_code == 401


def test_a_wrong_password_answers_500_invalid_credentials_and_is_one_config_error(
    acumatica: Acumatica,
) -> None:
    body = {"name": API_USER, "password": "nope", "tenant": "SummitRidge"}
    answer = acumatica.http.post("/entity/auth/login", json=body)
    assert answer.status_code == 500
    assert answer.json()["exceptionMessage"] == "Invalid credentials. Please try again."
    mark = acumatica.mark()
    with acumatica.adapter(password="nope") as adapter, pytest.raises(ConfigError) as raised:
        list(adapter.read_vendors())
    assert "check erp.username, erp.password" in str(raised.value)
    logins = [r for r in acumatica.requests(mark) if r["path"] == "/entity/auth/login"]
    assert len(logins) == 1


def test_the_licence_api_user_limit_answers_429_api_login_limit(acumatica: Acumatica) -> None:
    acumatica.admin.configure(api_user_limit=1)
    assert acumatica.login().status_code == 204
    with httpx.Client(base_url=acumatica.running.base_url, trust_env=False) as other:
        refused = acumatica.login(other)
    assert refused.status_code == 429 and refused.json()["message"] == "API Login Limit"
    assert "retry-after" not in refused.headers
    acumatica.http.post("/entity/auth/logout", content=b"")
    # The connector logs out after every batch, so batches one after the other all get a seat.
    for _ in range(3):
        with acumatica.adapter() as adapter:
            assert list(adapter.read_gl_accounts())


def test_the_licence_queue_declines_with_429_without_retry_after(acumatica: Acumatica) -> None:
    acumatica.admin.configure(licence_requests_per_minute=4, licence_queue_limit=2)
    acumatica.login()
    statuses: list[int] = []
    cookies = dict(acumatica.http.cookies)

    def call() -> None:
        with httpx.Client(base_url=acumatica.running.base_url, cookies=cookies,
                          trust_env=False, timeout=5) as client:  # fmt: skip
            try:
                response = client.get(acumatica.entity("Branch"))
            except httpx.TimeoutException:
                return
            statuses.append(response.status_code)
            if response.status_code == 429:
                assert "retry-after" not in response.headers

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Half the limit goes straight through (the login took one), 2 wait their turn (half a
    # minute away: the client gives up), the rest are declined.
    assert statuses.count(429) >= 4, statuses
    assert statuses.count(200) >= 1, statuses


def test_the_licence_throttle_delays_requests_past_half_the_limit(acumatica: Acumatica) -> None:
    acumatica.admin.configure(licence_requests_per_minute=120)
    acumatica.login()
    took = []
    for _ in range(62):
        started = time.monotonic()
        assert acumatica.http.get(acumatica.entity("Branch")).status_code == 200
        took.append(time.monotonic() - started)
    # The first 60 (half the limit) go straight through; then each waits its share of the
    # rest of the minute (about 60 s / 60 requests).
    assert max(took[:55]) < 0.4
    assert sum(took[60:]) > 0.5


def test_oauth_password_grant_then_rotating_refresh_tokens(acumatica: Acumatica) -> None:
    first = _token(acumatica, grant_type="password", username=API_USER, password=API_PASSWORD,
                   scope="api offline_access").json()  # fmt: skip
    assert first["token_type"] == "Bearer" and first["expires_in"] == 3600
    headers = {"Authorization": f"Bearer {first['access_token']}"}
    assert acumatica.http.get(acumatica.entity("Branch"), headers=headers).status_code == 200
    second = _token(acumatica, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert second.status_code == 200
    assert second.json()["refresh_token"] != first["refresh_token"]
    replayed = _token(acumatica, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert replayed.status_code == 401 and replayed.json()["error"] == "invalid_grant"
    wrong = acumatica.http.post("/identity/connect/token", data={
        "client_id": CLIENT_ID, "client_secret": "nope", "grant_type": "password"})  # fmt: skip
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_client"


def test_the_oauth_client_id_is_guid_at_tenant() -> None:
    base = {"base_url": "https://erp.example.com", "acumatica_auth": "oauth2"}
    AcumaticaErpSettings(**base, acumatica_client_id=CLIENT_ID)
    with pytest.raises(ValueError, match="GUID@TenantName"):
        AcumaticaErpSettings(**base, acumatica_client_id="my-app")


def test_the_connector_saves_rotated_tokens_encrypted_and_reuses_them(
    acumatica: Acumatica,
) -> None:
    with acumatica.oauth_adapter() as adapter:
        assert list(adapter.read_vendors())
    saved = (acumatica.tmp / "tokens" / "contract.tokens").read_bytes()
    with acumatica.store().locked() as state:
        refresh = state["refresh_token"]
        assert "access_token" not in state  # access tokens are each run's own, never saved
    assert refresh.encode() not in saved and b"refresh" not in saved
    mark = acumatica.mark()
    with acumatica.oauth_adapter(password=None) as adapter:  # the saved refresh token suffices
        assert list(adapter.read_gl_accounts())
    grants = [r for r in acumatica.requests(mark) if r["path"] == "/identity/connect/token"]
    assert len(grants) == 1
    with acumatica.store().locked() as state:
        assert state["refresh_token"] != refresh  # rotated, and the new one kept


def test_two_runs_never_race_one_refresh_token_into_a_dead_end(acumatica: Acumatica) -> None:
    with acumatica.oauth_adapter() as adapter:
        list(adapter.read_gl_accounts())
    failures: list[BaseException] = []

    def run() -> None:
        try:
            for _ in range(3):
                with acumatica.oauth_adapter(password=None) as adapter:
                    list(adapter.read_gl_accounts())
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    with acumatica.oauth_adapter(password=None) as adapter:  # the chain is still alive
        assert list(adapter.read_gl_accounts())


def test_a_spent_refresh_token_falls_back_to_the_password_grant_or_stops_clearly(
    acumatica: Acumatica,
) -> None:
    with acumatica.oauth_adapter() as adapter:
        list(adapter.read_gl_accounts())
    with acumatica.store().locked() as state:
        spent = _token(acumatica, grant_type="refresh_token", refresh_token=state["refresh_token"])
        assert spent.status_code == 200  # another party spent it; its answer never reached us
    with acumatica.oauth_adapter() as adapter:
        assert list(adapter.read_gl_accounts())  # a new chain from the password grant
    with acumatica.store().locked() as state:
        assert _token(acumatica, grant_type="refresh_token",
                      refresh_token=state["refresh_token"]).status_code == 200  # fmt: skip
    with acumatica.oauth_adapter(password=None) as adapter, pytest.raises(ConfigError) as raised:
        list(adapter.read_gl_accounts())
    assert "authorise the application again" in str(raised.value)


def test_a_token_ended_mid_batch_is_renewed_and_the_read_repeated(acumatica: Acumatica) -> None:
    with acumatica.oauth_adapter() as adapter:
        list(adapter.read_gl_accounts())
        acumatica.admin.arm_fault("expire_session", count=1, method="GET", path="*/Account")
        accounts = list(adapter.read_gl_accounts())
    assert accounts and acumatica.admin.faults() == []


def test_a_wrong_password_or_client_secret_on_the_token_endpoint_is_one_config_error(
    acumatica: Acumatica,
) -> None:
    mark = acumatica.mark()
    with acumatica.oauth_adapter(password="nope") as adapter, pytest.raises(ConfigError):
        list(adapter.read_gl_accounts())
    grants = [r for r in acumatica.requests(mark) if r["path"] == "/identity/connect/token"]
    assert len(grants) == 1
