"""Builders for the SYSPRO adapter tests: settings pointed at the sandbox, demo invoices."""

from datetime import date
from decimal import Decimal

from pydantic import SecretStr

from bridge_pipelines.erps.base import (
    DocumentType,
    PostableInvoice,
    PostableInvoiceLine,
    SourceLineage,
)
from bridge_pipelines.erps.syspro.adapter import SysproAdapter
from bridge_pipelines.erps.syspro.client import SysproSettings


def settings_for(sandbox, **overrides) -> SysproSettings:
    """Short timeouts and backoff, so fault tests take a second, not minutes."""
    values = {
        "rest_url": sandbox.base_url,  # the adapter appends SYSPRO's REST root
        "operator": sandbox.operator,
        "password": SecretStr(sandbox.password),
        "company": sandbox.company,
        "company_password": SecretStr(sandbox.company_password),
        "connect_timeout": 2.0,
        "read_timeout": 1.0,
        "call_deadline": 3.0,
        "backoff_initial": 0.05,
        "backoff_max": 2.0,
        "max_attempts": 4,
        "retry_budget": 10.0,
    }
    values.update(overrides)
    return SysproSettings(**values)


def adapter_for(sandbox, **overrides) -> SysproAdapter:
    return SysproAdapter(settings_for(sandbox, **overrides))


def invoice(
    number: str = "INV-1001",
    *,
    vendor: str = "SUP00001",
    ref: str | None = None,
    total: str = "1150.00",
    tax: str = "150.00",
    ledger: str = "10-6100",
    cost_center: str | None = "CC-EAST",
    document_type: DocumentType = DocumentType.INVOICE,
) -> PostableInvoice:
    net = Decimal(total) - Decimal(tax)
    return PostableInvoice(
        tenant="demo",
        external_ref=ref or f"ref-{vendor}-{number}",
        record_id=1,
        vendor_code=vendor,
        invoice_number=number,
        document_type=document_type,
        invoice_date=date.today(),
        due_date=None,
        posting_date=date.today(),
        currency="USD",
        total=Decimal(total),
        tax=Decimal(tax),
        lines=(
            PostableInvoiceLine(
                ledger_code=ledger,
                amount=net,
                description="Office supplies",
                dimensions={"cost_center": cost_center} if cost_center else {},
            ),
        ),
        lineage=SourceLineage("invoices_20260501.csv", (2,)),
    )


def calls(sandbox, path_suffix: str) -> list[dict]:
    """Requests the sandbox logged whose path ends with `path_suffix`."""
    return [r for r in sandbox.admin.requests() if r["path"].endswith(path_suffix)]


def documents(sandbox) -> list[tuple[str, str]]:
    return [(d["Supplier"], d["Invoice"]) for d in sandbox.admin.documents()]
