"""One Infor M3 sandbox per session, reset before each test, and raw ION API helpers."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bridge_pipelines.erps import registry
from bridge_pipelines.sandbox.erp_base.runner import RunningSandbox, start_sandbox
from bridge_pipelines.sandbox.infor_m3.app import API_ROOT, REVOKE_PATH, TOKEN_PATH
from bridge_pipelines.sandbox.infor_m3.seed import (
    CLIENT_ID,
    CLIENT_SECRET,
    SERVICE_KEY,
    SERVICE_SECRET,
)
from bridge_pipelines.tenants.secrets import Keyring
from bridge_pipelines_tests.erps.harness import ErpUnderTest


class IonApi:
    """Raw calls to the sandbox, as a hand-written client would make them."""

    def __init__(self, running: RunningSandbox) -> None:
        self.running = running
        self.base = running.base_url
        self.http = httpx.Client(trust_env=False, timeout=10)

    def token_response(self, **form: str) -> httpx.Response:
        body = {
            "grant_type": "password",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "username": SERVICE_KEY,
            "password": SERVICE_SECRET,
            **form,
        }
        return self.http.post(self.base + TOKEN_PATH, data=body)

    def token(self) -> dict[str, Any]:
        response = self.token_response()
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def revoke(self, token: str) -> httpx.Response:
        return self.http.post(self.base + REVOKE_PATH, data={"token": token})

    def get(
        self,
        program: str,
        transaction: str,
        matrix: str = ";cono=100;divi=AAA",
        token: str | None = None,
        **fields: str,
    ) -> httpx.Response:
        access = token or self.token()["access_token"]
        return self.http.get(
            f"{self.base}{API_ROOT}/{program}/{transaction}{matrix}",
            params=fields,
            headers={"Authorization": f"Bearer {access}"},
        )

    def bulk(self, body: dict[str, Any], token: str | None = None) -> httpx.Response:
        access = token or self.token()["access_token"]
        return self.http.post(
            f"{self.base}{API_ROOT}", json=body, headers={"Authorization": f"Bearer {access}"}
        )


@pytest.fixture(scope="session")
def m3_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    profile = registry.plugin("infor_m3").sandbox_profile()
    running = start_sandbox(profile.app, tmp_path_factory.mktemp("infor-m3"))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def m3(m3_process: RunningSandbox) -> Iterator[IonApi]:
    """The sandbox, reset to the seeded company, faults cleared."""
    if m3_process.process is None or m3_process.process.poll() is not None:
        m3_process.start()
    m3_process.admin.reset()
    m3_process.admin.clear_faults()
    api = IonApi(m3_process)
    try:
        yield api
    finally:
        api.http.close()


@pytest.fixture
def infor(m3: IonApi, tmp_path: Path) -> ErpUnderTest:
    """The connector as the product builds it, on the reset sandbox."""
    plugin = registry.plugin("infor_m3")
    keyring = Keyring.generate(tmp_path / "keys" / "keys.json")
    return ErpUnderTest(plugin, plugin.sandbox_profile(), m3.running, keyring)
