"""Client rules checked against a tiny in-process Service Layer (httpx.MockTransport, no socket).

The sandbox tests cover the same behaviours over real HTTP; these pin the client's own rules:
cookies, the case-sensitive Login path, one re-login, backoff on 299, relative nextLinks.
"""

import json
from collections.abc import Callable

import httpx
import pytest
from pydantic import SecretStr

from bridge_pipelines.erps.sap_b1.adapter import SapB1Adapter
from bridge_pipelines.erps.sap_b1.client import SapB1Settings
from bridge_pipelines.errors import ConfigError, RetryableError
from bridge_pipelines_tests.integration.erps.sap_b1.helpers import invoice

PASSWORD = "s3cret-Pa55"


def _error(status: int, code: int, text: str) -> httpx.Response:
    body = {"error": {"code": code, "message": {"lang": "en-us", "value": text}}}
    return httpx.Response(status, json=body)


class FakeServiceLayer:
    """Just enough Service Layer: Login/Logout, sessions, PurchaseInvoices, paged partners."""

    def __init__(self, suppliers: int = 0) -> None:
        self.calls: list[tuple[str, str]] = []
        self.sessions: set[str] = set()
        self.invoices: list[dict] = []
        self.suppliers = [{"CardCode": f"V{i:05d}", "CardName": f"S{i}"} for i in range(suppliers)]
        self.login_failures = 0
        self.hooks: dict[str, Callable[[httpx.Request], httpx.Response | None]] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.calls.append((request.method, path))
        hook = self.hooks.pop(path, None)
        if hook is not None and (answer := hook(request)) is not None:
            return answer
        if path == "/b1s/v1/Login":
            if self.login_failures:
                self.login_failures -= 1
                return _error(500, 299, "SAML Login Failed")
            if json.loads(request.content)["Password"] != PASSWORD:
                return _error(401, -304, "Fail to NONE-SSO login from SLD.")
            session = f"sess-{len(self.sessions) + 1}"
            self.sessions.add(session)
            return httpx.Response(
                200,
                json={"SessionId": session, "SessionTimeout": 30},
                headers=[
                    ("Set-Cookie", f"B1SESSION={session};HttpOnly;"),
                    ("Set-Cookie", "ROUTEID=.node1; path=/b1s"),
                ],
            )
        cookie = request.headers.get("cookie", "")
        session = next(
            (c.split("=", 1)[1] for c in cookie.split("; ") if c.startswith("B1SESSION=")), None
        )
        if session not in self.sessions or "ROUTEID=.node1" not in cookie:
            return _error(401, 301, "Invalid session or session already timeout.")
        if path == "/b1s/v1/Logout":
            self.sessions.discard(session)
            return httpx.Response(204)
        if path == "/b1s/v1/PurchaseInvoices" and request.method == "POST":
            doc = json.loads(request.content)
            doc["DocEntry"] = len(self.invoices) + 1
            self.invoices.append(doc)
            return httpx.Response(201, json=doc)
        if path == "/b1s/v1/PurchaseInvoices":
            ref = request.url.params["$filter"].split("JournalMemo eq '")[1].split("'")[0]
            found = [d for d in self.invoices if ref in (d.get("JournalMemo"), d["NumAtCard"])]
            return httpx.Response(200, json={"value": found})
        if path == "/b1s/v1/PurchaseCreditNotes":
            return httpx.Response(200, json={"value": []})
        if path == "/b1s/v1/BusinessPartners":
            size = int(request.headers["prefer"].split("=")[1])
            skip = int(request.url.params.get("$skip", "0"))
            body: dict = {"value": self.suppliers[skip : skip + size]}
            if len(body["value"]) == size:  # a full last page still carries a link
                body["odata.nextLink"] = f"BusinessPartners?$skip={skip + size}"
            return httpx.Response(200, json=body)
        return _error(404, -2028, "No matching records found (ODBC -2028)")


def adapter(server: FakeServiceLayer, password: str = PASSWORD, **kw) -> SapB1Adapter:
    settings = SapB1Settings(
        base_url="https://b1.example:50000",
        company="SBODEMOUS",
        username="manager",
        password=SecretStr(password),
        backoff_initial=0.01,
        backoff_max=0.05,
        **kw,
    )
    http = httpx.Client(transport=httpx.MockTransport(server))
    return SapB1Adapter(settings, http)


def logins(server: FakeServiceLayer) -> int:
    return sum(1 for _, path in server.calls if path.endswith("/Login"))


def test_one_login_per_batch_and_logout_at_the_end():
    server = FakeServiceLayer()
    with adapter(server) as a:
        for n in range(3):
            a.post_invoice(invoice(f"INV-{n}"))
    assert logins(server) == 1 and server.calls[-1] == ("POST", "/b1s/v1/Logout")
    assert server.sessions == set() and len(server.invoices) == 3


def test_expired_session_on_a_post_relogins_once_and_looks_up_first():
    server = FakeServiceLayer()
    with adapter(server) as a:
        a.post_invoice(invoice("INV-1"))
        server.sessions.clear()  # 30 idle minutes later
        a.post_invoice(invoice("INV-2"))
    assert logins(server) == 2 and [d["JournalMemo"] for d in server.invoices] == [
        invoice("INV-1").external_ref,
        invoice("INV-2").external_ref,
    ]
    after_relogin = server.calls[server.calls.index(("POST", "/b1s/v1/Login"), 1) + 1]
    assert after_relogin == ("GET", "/b1s/v1/PurchaseInvoices")


def test_parallel_login_failure_backs_off_then_succeeds():
    server = FakeServiceLayer()
    server.login_failures = 2
    with adapter(server) as a:
        a.post_invoice(invoice())
    assert logins(server) == 3 and len(server.invoices) == 1


def test_parallel_login_failure_stops_after_the_budget():
    server = FakeServiceLayer()
    server.login_failures = 100
    with pytest.raises(RetryableError), adapter(server, max_attempts=3) as a:
        a.post_invoice(invoice())
    assert logins(server) == 3


def test_wrong_password_is_one_config_error_without_the_password():
    server = FakeServiceLayer()
    with pytest.raises(ConfigError) as caught, adapter(server, password="wrong-Pa55") as a:
        a.post_invoice(invoice())
    assert logins(server) == 1 and "wrong-Pa55" not in str(caught.value)
    assert "-304" in str(caught.value)


def test_paging_follows_relative_links_through_a_full_last_page():
    server = FakeServiceLayer(suppliers=45)
    with adapter(server, page_size=15) as a:
        codes = [v.code for v in a.read_vendors()]
    assert codes == [f"V{i:05d}" for i in range(45)]
    assert sum(1 for _, path in server.calls if path.endswith("/BusinessPartners")) == 4


def test_server_error_on_a_post_needs_lookup_and_is_not_resent():
    from bridge_pipelines.errors import NeedsLookupError

    server = FakeServiceLayer()
    server.hooks["/b1s/v1/PurchaseInvoices"] = lambda r: (
        server.invoices.append({**json.loads(r.content), "DocEntry": 1}) or httpx.Response(502)
    )
    with adapter(server) as a:
        with pytest.raises(NeedsLookupError):
            a.post_invoice(invoice())
        assert len(a.find_by_external_ref(invoice().ref)) == 1
    assert len(server.invoices) == 1
