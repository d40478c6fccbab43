"""The Acumatica sandbox for contract tests: one process a session, reset for every test."""

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from bridge_pipelines.erps.acumatica.adapter import AcumaticaAdapter, build_adapter
from bridge_pipelines.erps.acumatica.settings import AcumaticaErpSettings
from bridge_pipelines.erps.acumatica.tokens import TokenStore
from bridge_pipelines.erps.base import (
    DimensionType,
    DocumentType,
    PostableInvoice,
    PostableInvoiceLine,
    SourceLineage,
)
from bridge_pipelines.erps.external_ref import external_ref
from bridge_pipelines.sandbox.acumatica.app import APP_FACTORY
from bridge_pipelines.sandbox.acumatica.seed import (
    API_PASSWORD,
    API_USER,
    CLIENT_ID,
    CLIENT_SECRET,
    TENANT,
)
from bridge_pipelines.sandbox.erp_base.runner import RunningSandbox, start_sandbox

VERSION = "25.200.001"
FAST: dict[str, Any] = {
    "backoff_initial": 0.05,
    "backoff_max": 0.5,
    "retry_budget": 10.0,
    "read_timeout": 20.0,
    "call_deadline": 30.0,
}
_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def acumatica_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    running = start_sandbox(APP_FACTORY, tmp_path_factory.mktemp("acumatica-sandbox"))
    try:
        yield running
    finally:
        running.stop()


@dataclass
class Acumatica:
    """The sandbox, raw HTTP to it, and adapters built the way the registry builds them."""

    running: RunningSandbox
    tmp: Path
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.running.base_url, trust_env=False, timeout=30)

    @property
    def admin(self) -> Any:
        return self.running.admin

    def entity(self, path: str) -> str:
        return f"/entity/Default/{VERSION}/{path}"

    def login(self, client: httpx.Client | None = None) -> httpx.Response:
        body = {"name": API_USER, "password": API_PASSWORD, "tenant": TENANT}
        return (client or self.http).post("/entity/auth/login", json=body)

    def settings(self, **erp: Any) -> AcumaticaErpSettings:
        fields: dict[str, Any] = {
            "base_url": self.running.base_url,
            "company": TENANT,
            "username": API_USER,
            "password": "enc:v1:k1:unused",
            "acumatica_endpoint_version": VERSION,
            "acumatica_branch": "HQ",
            **erp,
        }
        return AcumaticaErpSettings(**fields)

    def adapter(self, *, password: str = API_PASSWORD, **erp: Any) -> AcumaticaAdapter:
        options = {k: erp.pop(k) for k in list(erp) if k in FAST or k in ("page_size", "release")}
        secrets = {"password": SecretStr(password)}
        return build_adapter(self.settings(**erp), secrets, owner="contract", **FAST, **options)

    def store(self) -> TokenStore:
        return TokenStore(self.tmp / "tokens" / "contract.tokens", CLIENT_ID, CLIENT_SECRET)

    def oauth_adapter(
        self, *, password: str | None = API_PASSWORD, **options: Any
    ) -> AcumaticaAdapter:
        erp = self.settings(
            acumatica_auth="oauth2",
            acumatica_client_id=CLIENT_ID,
            acumatica_client_secret="enc:v1:k1:unused",
            acumatica_token_store=str(self.tmp / "tokens"),
        )
        secrets = {"acumatica_client_secret": SecretStr(CLIENT_SECRET)}
        if password is not None:
            secrets["password"] = SecretStr(password)
        else:
            erp = erp.model_copy(update={"username": None})
        return build_adapter(erp, secrets, owner="contract", **{**FAST, **options})

    def bills(self) -> list[dict[str, Any]]:
        return [d for d in self.admin.documents() if d.get("kind") == "Bill"]

    def requests(self, since: int = 0) -> list[dict[str, Any]]:
        return list(self.admin.requests(since=since, limit=5000))

    def mark(self) -> int:
        logged = self.requests()
        return logged[-1]["id"] if logged else 0


@pytest.fixture
def acumatica(acumatica_process: RunningSandbox, tmp_path: Path) -> Iterator[Acumatica]:
    if acumatica_process.process is None or acumatica_process.process.poll() is not None:
        acumatica_process.start()
    acumatica_process.admin.reset()
    handle = Acumatica(acumatica_process, tmp_path)
    try:
        yield handle
    finally:
        handle.http.close()


def invoice(
    vendor: str = "VEND0001",
    *,
    number: str | None = None,
    total: str = "1150.00",
    tax: str = "0.00",
    po_number: str | None = None,
    center: str | None = "100-000",
    document_type: DocumentType = DocumentType.INVOICE,
    day: date | None = None,
) -> PostableInvoice:
    """A bill for the seeded company: account 52000 (job materials), one line."""
    number = number or f"SUB-{next(_numbers):05d}"
    day = day or date.today()
    gross, vat = Decimal(total), Decimal(tax)
    return PostableInvoice(
        tenant="contract",
        external_ref=external_ref("contract", vendor, number, document_type, day, "USD", gross),
        record_id=0,
        vendor_code=vendor,
        invoice_number=number,
        document_type=document_type,
        invoice_date=day,
        due_date=day + timedelta(days=30),
        posting_date=day,
        currency="USD",
        total=gross,
        tax=vat,
        lines=(
            PostableInvoiceLine(
                ledger_code="52000",
                amount=gross - vat,
                description="Rebar delivery, level 3 deck",
                dimensions={DimensionType.COST_CENTER: center} if center else {},
                po_number=po_number,
            ),
        ),
        lineage=SourceLineage("approved_invoices_contract.csv", (2,)),
    )
