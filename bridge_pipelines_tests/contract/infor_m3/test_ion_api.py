"""The ION API Gateway as documented: OAuth2 grants, token lifetime, revoke, 401, 429."""

import pytest

from bridge_pipelines_tests.contract.infor_m3.conftest import IonApi

pytestmark = pytest.mark.contract


def test_password_grant_answers_access_refresh_token_and_expires_in(m3: IonApi) -> None:
    token = m3.token()
    assert token["token_type"] == "Bearer"
    assert token["access_token"] and token["refresh_token"]
    assert token["expires_in"] == 7200  # the documented example lifetime, configurable


def test_a_wrong_client_secret_is_401_invalid_client(m3: IonApi) -> None:
    response = m3.token_response(client_secret="not-the-secret")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_a_wrong_service_account_secret_is_invalid_grant(m3: IonApi) -> None:
    response = m3.token_response(password="not-the-sask")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_the_refresh_grant_gives_a_new_access_token(m3: IonApi) -> None:
    first = m3.token()
    again = m3.token_response(
        grant_type="refresh_token", refresh_token=first["refresh_token"], username="", password=""
    )
    assert again.status_code == 200
    assert again.json()["access_token"] != first["access_token"]
    assert m3.get("CRS620MI", "GetBasicData", token=again.json()["access_token"],
                  SUNO="SUP00001").status_code == 200  # fmt: skip


def test_a_revoked_token_answers_401(m3: IonApi) -> None:
    token = m3.token()
    assert m3.revoke(token["refresh_token"]).status_code == 200
    response = m3.get("CRS620MI", "GetBasicData", token=token["access_token"], SUNO="SUP00001")
    assert response.status_code == 401
    refused = m3.token_response(grant_type="refresh_token", refresh_token=token["refresh_token"])
    assert refused.status_code == 400  # the whole grant is gone


def test_a_token_past_its_configured_lifetime_answers_401(m3: IonApi) -> None:
    m3.running.admin.configure(token_lifetime_seconds=3600)
    token = m3.token()
    assert token["expires_in"] == 3600
    m3.running.admin.advance_clock(3601)
    response = m3.get("CRS620MI", "GetBasicData", token=token["access_token"], SUNO="SUP00001")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


def test_the_quota_answers_429_without_retry_after(m3: IonApi) -> None:
    m3.running.admin.configure(quota_per_minute=3)
    token = m3.token()["access_token"]
    answers = [m3.get("CRS620MI", "GetBasicData", token=token, SUNO="SUP00001") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert "retry-after" not in answers[-1].headers


def test_spike_arrest_answers_429_within_one_second(m3: IonApi) -> None:
    m3.running.admin.configure(spike_arrest_per_second=2)
    token = m3.token()["access_token"]
    statuses = [
        m3.get("CRS620MI", "GetBasicData", token=token, SUNO="SUP00001").status_code
        for _ in range(3)
    ]
    assert statuses[-1] == 429 and statuses[0] == 200
