"""The SYSPRO sandbox for the demo and the harnesses: tenant block, mapping, faults, documents."""

from decimal import Decimal
from typing import Any

from bridge_pipelines.sandbox.erp_base.profile import (
    Encrypt,
    SandboxDocument,
    SandboxPayment,
    SandboxProfile,
)
from bridge_pipelines.sandbox.syspro.app import APP_FACTORY, REST_ROOT
from bridge_pipelines.sandbox.syspro.appay import PAYMENT_RUNS
from bridge_pipelines.sandbox.syspro.odata import ODATA_ROOT
from bridge_pipelines.sandbox.syspro.seed import SYSPRO_SEED


def _erp_section(base_url: str, encrypt: Encrypt) -> dict[str, object]:
    operator = next(o for o in SYSPRO_SEED.operators if o.odata_enabled)
    return {
        "kind": "syspro",
        "base_url": f"{base_url}{REST_ROOT}",
        "odata_url": f"{base_url}{ODATA_ROOT}",
        "company": SYSPRO_SEED.company_id,
        "username": operator.operator,
        "password": encrypt("erp.password", operator.password),
        # the demo company's manual payment runs, one per currency (issue 15)
        "syspro_payment_runs": {currency: run for run, _, currency, _ in PAYMENT_RUNS},
    }


def _documents(rows: list[dict[str, Any]]) -> list[SandboxDocument]:
    """AP invoices (APSTIN), their GL lines summed; `OrigInvValue` is negative for a credit."""
    found = []
    for doc in rows:
        if doc.get("type") != "ap_invoice":
            continue
        lines = doc.get("lines") or []
        found.append(
            SandboxDocument(
                doc_id=f"{doc['Supplier']}/{doc['Invoice']}",
                reference=str(doc["Reference"]),
                vendor_code=str(doc["Supplier"]),
                number=str(doc["Invoice"]),
                debits=sum((Decimal(str(x["debit"] or 0)) for x in lines), Decimal(0)),
                credits=sum((Decimal(str(x["credit"] or 0)) for x in lines), Decimal(0)),
                total=abs(Decimal(str(doc["OrigInvValue"]))),
                period=f"{int(doc['TrnYear']):04d}-{int(doc['TrnMonth']):02d}",
                open_amount=abs(Decimal(str(doc["MthInvBal1"]))),
            )
        )
    return found


def _payments(rows: list[dict[str, Any]]) -> list[SandboxPayment]:
    """Manual checks (APSTPM), with the invoices each settles, keyed like `_documents`."""
    return [
        SandboxPayment(
            doc_id=str(doc["document_number"]),
            reference=str(doc.get("PaymentReference") or ""),
            vendor_code=str(doc["Supplier"]),
            total=Decimal(str(doc["ChequeValue"])),
            applied={
                f"{doc['Supplier']}/{item['Invoice']}": abs(Decimal(str(item["TrnValue"])))
                for item in doc["invoices"]
            },
        )
        for doc in rows
        if doc.get("type") == "ap_payment"
    ]


PROFILE = SandboxProfile(
    app=APP_FACTORY,
    api_root=REST_ROOT,
    erp_section=_erp_section,
    mapping={
        "vendors": SYSPRO_SEED.supplier_map,
        "gl_accounts": SYSPRO_SEED.ledger_map,
        "cost_centers": SYSPRO_SEED.analysis_map,
    },
    write_match={"method": "GET", "path": "*/Transaction/Post", "query_contains": "APSTIN"},
    login_match={"method": "GET", "path": "*/Logon"},
    documents=_documents,
    payments=_payments,
    payment_match={"method": "GET", "path": "*/Transaction/Post", "query_contains": "APSTPM"},
)
