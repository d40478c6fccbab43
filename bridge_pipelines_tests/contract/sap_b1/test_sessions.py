"""Login, Logout and session expiry as the Service Layer answers them."""

import threading

import httpx
import pytest

pytestmark = pytest.mark.contract


def test_sapb1_login_returns_cookies_and_session_body(sapb1_sandbox):
    response = sapb1_sandbox.login_response()
    assert response.status_code == 200
    cookies = response.headers.get_list("set-cookie")
    assert any(c.startswith("B1SESSION=") and "HttpOnly" in c for c in cookies)
    assert "ROUTEID=.node1; path=/b1s" in cookies
    body = response.json()
    assert body["SessionId"] == response.cookies["B1SESSION"]
    assert body["SessionTimeout"] == 30 and body["Version"]
    assert body["odata.metadata"].endswith("/b1s/v1/$metadata#B1Sessions/@Element")


def test_sapb1_login_v2_and_one_session_serves_both_versions(sapb1_sandbox):
    response = sapb1_sandbox.login_response("v2")
    assert response.status_code == 200 and "@odata.context" in response.json()
    cookies = {"B1SESSION": response.cookies["B1SESSION"]}
    for version in ("v1", "v2"):
        got = sapb1_sandbox.request("GET", "Projects", cookies, version=version)
        assert got.status_code == 200


def test_sapb1_login_path_is_case_sensitive(sapb1_sandbox):
    body = {"CompanyDB": sapb1_sandbox.company_db, "UserName": sapb1_sandbox.user_name,
            "Password": sapb1_sandbox.password}  # fmt: skip
    response = httpx.post(sapb1_sandbox.url("login"), json=body, trust_env=False)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == 301
    assert "B1SESSION" not in response.cookies


@pytest.mark.parametrize(
    ("overrides", "code"),
    [({"Password": "wrong"}, -304), ({"UserName": "nobody"}, -304), ({"CompanyDB": "NOPE"}, -306)],
)
def test_sapb1_login_errors_in_v1_shape(sapb1_sandbox, overrides, code):
    response = sapb1_sandbox.login_response(**overrides)
    assert response.status_code == 401
    assert response.json() == {
        "error": {
            "code": code,
            "message": {"lang": "en-us", "value": "Fail to NONE-SSO login from SLD."},
        }
    }


def test_sapb1_login_error_in_v2_shape(sapb1_sandbox):
    response = sapb1_sandbox.login_response("v2", Password="wrong")
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "-304" and error["message"] == "Fail to NONE-SSO login from SLD."
    assert error["details"] == [{"code": "", "message": ""}]


def test_sapb1_parallel_logins_fail_with_299_when_configured(sapb1_sandbox):
    sapb1_sandbox.admin.configure(parallel_login_limit=1, login_latency_ms=400)
    results: list[httpx.Response] = []
    threads = [threading.Thread(target=lambda: results.append(sapb1_sandbox.login_response()))
               for _ in range(3)]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(r.status_code for r in results)
    assert statuses[0] == 200 and 500 in statuses
    failed = next(r for r in results if r.status_code == 500)
    assert failed.json()["error"]["code"] == 299
    assert failed.json()["error"]["message"]["value"] == "SAML Login Failed"


def test_sapb1_session_expires_after_30_idle_minutes_v1(sapb1_sandbox):
    cookies = sapb1_sandbox.login()
    sapb1_sandbox.admin.advance_clock(29 * 60)
    assert sapb1_sandbox.request("GET", "Projects", cookies).status_code == 200  # still alive
    sapb1_sandbox.admin.advance_clock(29 * 60)  # used 29 min ago: activity renews it
    assert sapb1_sandbox.request("GET", "Projects", cookies).status_code == 200
    sapb1_sandbox.admin.advance_clock(31 * 60)
    response = sapb1_sandbox.request("GET", "Projects", cookies)
    assert response.status_code == 401
    assert response.json() == {"error": {"code": 301, "message": {
        "lang": "en-us", "value": "Invalid session or session already timeout."}}}  # fmt: skip


def test_sapb1_session_timeout_in_v2_shape(sapb1_sandbox):
    cookies = sapb1_sandbox.login("v2")
    sapb1_sandbox.admin.advance_clock(31 * 60)
    response = sapb1_sandbox.request("GET", "Projects", cookies, version="v2")
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "301"
    assert error["message"] == "Invalid session or session already timeout."


def test_sapb1_garbage_or_missing_cookie_is_invalid_session(sapb1_sandbox):
    assert sapb1_sandbox.request("GET", "Projects", {"B1SESSION": "garbage"}).status_code == 401
    assert sapb1_sandbox.request("GET", "Projects", {}).json()["error"]["code"] == 301


def test_sapb1_logout_ends_the_session(sapb1_sandbox):
    cookies = sapb1_sandbox.login()
    assert sapb1_sandbox.request("POST", "Logout", cookies).status_code == 204
    assert sapb1_sandbox.request("GET", "Projects", cookies).status_code == 401


def test_sapb1_sessions_and_documents_survive_a_restart(sapb1_sandbox, sapb1_sandbox_process):
    cookies = sapb1_sandbox.login()
    sapb1_sandbox_process.restart()
    response = sapb1_sandbox.request("GET", "BusinessPartners('V10001')", cookies)
    assert response.status_code == 200 and response.json()["CardType"] == "cSupplier"
