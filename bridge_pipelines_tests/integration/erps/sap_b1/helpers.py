"""Builders for the SAP B1 adapter tests: settings pointed at the sandbox, demo invoices."""

from datetime import date
from decimal import Decimal

from pydantic import SecretStr

from bridge_pipelines.erps.base import (
    DocumentType,
    PostableInvoice,
    PostableInvoiceLine,
    SourceLineage,
)
from bridge_pipelines.erps.sap_b1.adapter import SapB1Adapter
from bridge_pipelines.erps.sap_b1.client import SapB1Settings


def settings_for(sandbox, **overrides) -> SapB1Settings:
    """Short timeouts and backoff, so fault tests take a second, not minutes."""
    values = {
        "base_url": sandbox.base_url,  # the client appends /b1s/v1
        "company": sandbox.company_db,
        "username": sandbox.user_name,
        "password": SecretStr(sandbox.password),
        "connect_timeout": 2.0,
        "read_timeout": 1.0,
        "call_deadline": 3.0,
        "logout_timeout": 2.0,
        "backoff_initial": 0.05,
        "backoff_max": 0.5,
        "max_attempts": 4,
        "retry_budget": 10.0,
    }
    values.update(overrides)
    return SapB1Settings(**values)


# The month `invoice()` posts in (its dates are fixed); the seeded period calendar has closed
# it, so `conftest.py` opens it for every test on the sandbox.
INVOICE_PERIOD = "2026-05"


def adapter_for(sandbox, *, posting_mode="service_invoice", **overrides) -> SapB1Adapter:
    return SapB1Adapter(settings_for(sandbox, **overrides), posting_mode=posting_mode)


def invoice(
    number: str = "INV-1001",
    *,
    vendor: str = "V10001",
    ref: str | None = None,
    total: str = "1150.00",
    tax: str = "150.00",
    account: str = "_SYS00000006100",
    cost_center: str | None = None,
    document_type: DocumentType = DocumentType.INVOICE,
) -> PostableInvoice:
    net = Decimal(total) - Decimal(tax)
    return PostableInvoice(
        tenant="demo",
        external_ref=ref or f"BP{vendor}{number}".replace("-", "")[:20],
        record_id=1,
        vendor_code=vendor,
        invoice_number=number,
        document_type=document_type,
        invoice_date=date(2026, 5, 1),
        due_date=date(2026, 5, 31),
        posting_date=date(2026, 5, 2),
        currency="USD",
        total=Decimal(total),
        tax=Decimal(tax),
        lines=(
            PostableInvoiceLine(
                ledger_code=account,
                amount=net,
                description="Office supplies",
                dimensions={"cost_center": cost_center} if cost_center else {},
            ),
        ),
        lineage=SourceLineage("invoices_20260501.csv", (2,)),
    )


def calls(sandbox, path_suffix: str, method: str | None = None) -> list[dict]:
    """Requests the sandbox logged whose path ends with `path_suffix`."""
    return [
        r
        for r in sandbox.admin.requests()
        if r["path"].endswith(path_suffix) and (method is None or r["method"] == method)
    ]


def posted(sandbox, kind: str = "PurchaseInvoice") -> list[dict]:
    return [d for d in sandbox.admin.documents() if d["kind"] == kind]
