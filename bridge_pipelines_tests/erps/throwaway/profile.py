"""Throwaway Books' sandbox for the harnesses: tenant block, mapping, faults, documents."""

from decimal import Decimal
from typing import Any

from bridge_pipelines.sandbox.erp_base.profile import (
    Encrypt,
    SandboxDocument,
    SandboxPayment,
    SandboxProfile,
)
from bridge_pipelines_tests.erps.throwaway.sandbox import (
    ACCOUNTS,
    API_ROOT,
    APP_FACTORY,
    BOOK,
    COST_CENTERS,
    PASSWORD,
    USER,
    VENDORS,
)


def _erp_section(base_url: str, encrypt: Encrypt) -> dict[str, object]:
    return {
        "kind": "throwaway",
        "base_url": f"{base_url}{API_ROOT}",
        "username": USER,
        "password": encrypt("erp.password", PASSWORD),
        "throwaway_book": BOOK,
    }


def _documents(rows: list[dict[str, Any]]) -> list[SandboxDocument]:
    return [
        SandboxDocument(
            doc_id=f"bills/{row['id']}",
            reference=str(row["reference"]),
            vendor_code=str(row["vendor"]),
            number=str(row["number"]),
            debits=Decimal(row["debits"]),
            credits=Decimal(row["credits"]),
            total=Decimal(row["total"]),
            period=str(row["posting_date"])[:7],
            open_amount=Decimal(row["total"]) - Decimal(row.get("paid") or "0"),
        )
        for row in rows
        if row.get("kind") in ("bill", "credit")
    ]


def _payments(rows: list[dict[str, Any]]) -> list[SandboxPayment]:
    return [
        SandboxPayment(
            doc_id=f"payments/{row['id']}",
            reference=str(row["reference"]),
            vendor_code=str(row["vendor"]),
            total=Decimal(row["total"]),
            applied={f"bills/{a['bill']}": Decimal(a["amount"]) for a in row["applications"]},
        )
        for row in rows
        if row.get("kind") == "payment"
    ]


PROFILE = SandboxProfile(
    app=APP_FACTORY,
    api_root=API_ROOT,
    erp_section=_erp_section,
    mapping={
        "vendors": {f"S-{code}": code for code in VENDORS},
        "gl_accounts": {f"GL{code}": code for code in ACCOUNTS},
        "cost_centers": {f"STAMPLI-{code}": code for code in COST_CENTERS},
    },
    write_match={"method": "POST", "path": f"{API_ROOT}/bills"},
    login_match={"method": "POST", "path": f"{API_ROOT}/login"},
    documents=_documents,
    payments=_payments,
    payment_match={"method": "POST", "path": f"{API_ROOT}/payments"},
)
