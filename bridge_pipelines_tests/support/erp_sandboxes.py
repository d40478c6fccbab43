"""ERP sandboxes for tests: one process per test session, reset to the demo company per test.

`syspro_sandbox` yields a `SysproSandboxHandle`: the REST and OData URLs, the seeded operator's
credentials, the admin client and thin raw-HTTP helpers (logon, call). It talks to the sandbox
exactly as a client would talk to SYSPRO; it is not the product's adapter.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from bridge_pipelines.sandbox.erp_base.admin_client import SandboxAdmin
from bridge_pipelines.sandbox.erp_base.runner import RunningSandbox, start_sandbox
from bridge_pipelines.sandbox.syspro.app import APP_FACTORY, REST_ROOT
from bridge_pipelines.sandbox.syspro.odata import ODATA_ROOT
from bridge_pipelines.sandbox.syspro.seed import SYSPRO_SEED


@dataclass
class SysproSandboxHandle:
    """A running SYSPRO sandbox and what a test needs to talk to it."""

    running: RunningSandbox
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=10, trust_env=False))
    operator: str = SYSPRO_SEED.operators[0].operator
    password: str = SYSPRO_SEED.operators[0].password
    company: str = SYSPRO_SEED.company_id
    company_password: str = SYSPRO_SEED.company_password

    @property
    def base_url(self) -> str:
        return self.running.base_url

    @property
    def rest_url(self) -> str:
        return self.base_url + REST_ROOT

    @property
    def odata_url(self) -> str:
        return self.base_url + ODATA_ROOT

    @property
    def admin(self) -> SandboxAdmin:
        return self.running.admin

    @property
    def odata_auth(self) -> tuple[str, str]:
        return (self.operator, self.password)

    def call(self, endpoint: str, timeout: float = 10.0, **params: str) -> httpx.Response:
        """GET `{rest}/{endpoint}` with the parameters as given (no retry, no parsing)."""
        return self.http.get(f"{self.rest_url}/{endpoint}", params=params, timeout=timeout)

    def logon_response(self, **overrides: str) -> httpx.Response:
        params = {
            "Operator": self.operator,
            "OperatorPassword": self.password,
            "CompanyId": self.company,
            "CompanyPassword": self.company_password,
            **overrides,
        }
        return self.http.get(f"{self.rest_url}/Logon", params=params)

    def logon(self, **overrides: str) -> str:
        """A session GUID (quotes stripped), failing the test on an ERROR answer."""
        response = self.logon_response(**overrides)
        assert response.status_code == 200 and not response.text.startswith("ERROR"), response.text
        return response.text.strip().strip('"')

    def post(self, user_id: str, xml_in: str, *, business_object: str = "APSTIN",
             xml_parameters: str = "", timeout: float = 10.0) -> httpx.Response:  # fmt: skip
        return self.call(
            "Transaction/Post",
            timeout=timeout,
            UserId=user_id,
            BusinessObject=business_object,
            XmlParameters=xml_parameters,
            XmlIn=xml_in,
        )

    def query(self, user_id: str, xml_in: str) -> httpx.Response:
        return self.call("Query/Query", UserId=user_id, BusinessObject="COMFND", XmlIn=xml_in)

    def setup(
        self, action: str, user_id: str, xml_in: str, xml_parameters: str = ""
    ) -> httpx.Response:
        return self.call(
            f"Setup/{action}",
            UserId=user_id,
            BusinessObject="APSSSP",
            XmlParameters=xml_parameters,
            XmlIn=xml_in,
        )

    def odata(self, entity_set: str, auth: Any = None, **params: str) -> httpx.Response:
        return self.http.get(
            f"{self.odata_url}/{entity_set}",
            params=params,
            auth=self.odata_auth if auth is None else auth,
            timeout=10,
        )


@pytest.fixture(scope="session")
def syspro_sandbox_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    """One SYSPRO sandbox process for the whole session (state in a tmp folder)."""
    running = start_sandbox(APP_FACTORY, tmp_path_factory.mktemp("syspro-sandbox"))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def syspro_sandbox(syspro_sandbox_process: RunningSandbox) -> Iterator[SysproSandboxHandle]:
    """The session's SYSPRO sandbox, reset to the freshly seeded demo company for this test."""
    if syspro_sandbox_process.process is None or syspro_sandbox_process.process.poll() is not None:
        syspro_sandbox_process.start()
    syspro_sandbox_process.admin.reset()
    handle = SysproSandboxHandle(syspro_sandbox_process)
    try:
        yield handle
    finally:
        handle.http.close()


# --- SAP Business One Service Layer ----------------------------------------------------------

from bridge_pipelines.sandbox.sap_b1.app import APP_FACTORY as SAPB1_APP_FACTORY  # noqa: E402
from bridge_pipelines.sandbox.sap_b1.seed import SAP_B1_SEED  # noqa: E402


@dataclass
class SapB1SandboxHandle:
    """A running SAP B1 sandbox: Service Layer URLs, seeded credentials, raw-HTTP helpers."""

    running: RunningSandbox
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=10, trust_env=False))
    company_db: str = SAP_B1_SEED.company_db
    user_name: str = SAP_B1_SEED.users[0].user_name
    password: str = SAP_B1_SEED.users[0].password

    @property
    def base_url(self) -> str:
        return self.running.base_url

    @property
    def admin(self) -> SandboxAdmin:
        return self.running.admin

    def url(self, path: str, version: str = "v1") -> str:
        return f"{self.base_url}/b1s/{version}/{path}"

    def login_response(self, version: str = "v1", **overrides: str) -> httpx.Response:
        body = {"CompanyDB": self.company_db, "UserName": self.user_name,
                "Password": self.password, **overrides}  # fmt: skip
        return httpx.post(self.url("Login", version), json=body, timeout=10, trust_env=False)

    def login(self, version: str = "v1") -> dict[str, str]:
        """The session cookies (B1SESSION, ROUTEID), failing the test on an error answer."""
        response = self.login_response(version)
        assert response.status_code == 200, response.text
        return {"B1SESSION": response.cookies["B1SESSION"], "ROUTEID": response.cookies["ROUTEID"]}

    def request(self, method: str, path: str, cookies: dict[str, str], *, version: str = "v1",
                timeout: float = 10.0, **kwargs: Any) -> httpx.Response:  # fmt: skip
        """One raw call with the session sent as a Cookie header, as B1 clients send it."""
        headers = dict(kwargs.pop("headers", {}) or {})
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        return self.http.request(
            method, self.url(path, version), headers=headers, timeout=timeout, **kwargs
        )


@pytest.fixture(scope="session")
def sapb1_sandbox_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    """One SAP B1 sandbox process for the whole session (state in a tmp folder)."""
    running = start_sandbox(SAPB1_APP_FACTORY, tmp_path_factory.mktemp("sapb1-sandbox"))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def sapb1_sandbox(sapb1_sandbox_process: RunningSandbox) -> Iterator[SapB1SandboxHandle]:
    """The session's SAP B1 sandbox, reset to the freshly seeded demo company for this test."""
    if sapb1_sandbox_process.process is None or sapb1_sandbox_process.process.poll() is not None:
        sapb1_sandbox_process.start()
    sapb1_sandbox_process.admin.reset()
    handle = SapB1SandboxHandle(sapb1_sandbox_process)
    try:
        yield handle
    finally:
        handle.http.close()
