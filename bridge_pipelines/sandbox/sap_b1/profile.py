"""The SAP B1 sandbox for the demo and the harnesses: tenant block, mapping, faults, documents."""

import re
from decimal import Decimal
from typing import Any

from bridge_pipelines.sandbox.erp_base.profile import (
    Encrypt,
    SandboxDocument,
    SandboxPayment,
    SandboxProfile,
)
from bridge_pipelines.sandbox.sap_b1.app import APP_FACTORY, SERVICE_ROOT
from bridge_pipelines.sandbox.sap_b1.seed import BANK_ACCOUNT, SAP_B1_SEED

DEMO_USER = "bridge"  # the integration user; `manager` stays the admin's
OUR_REFERENCE = re.compile(r"BP[0-9A-HJKMNP-TV-Z]{18}")  # erps/external_ref.py's shape
ENTITY_SETS = {"PurchaseInvoice": "PurchaseInvoices", "PurchaseCreditNote": "PurchaseCreditNotes"}


def _erp_section(base_url: str, encrypt: Encrypt) -> dict[str, object]:
    user = next(u for u in SAP_B1_SEED.users if u.user_name == DEMO_USER)
    return {
        "kind": "sap_b1",
        "base_url": f"{base_url}{SERVICE_ROOT}/v1",
        "company": SAP_B1_SEED.company_db,
        "username": user.user_name,
        "password": encrypt("erp.password", user.password),
        "sap_b1_posting_mode": "service_invoice",
        "sap_b1_payment_account": BANK_ACCOUNT,
    }


def _reference(doc: dict[str, Any]) -> str:
    """Our reference: in `JournalMemo` since issue 16, in `NumAtCard` on older documents."""
    memo = str(doc.get("JournalMemo") or "")
    return memo if OUR_REFERENCE.fullmatch(memo) else str(doc["NumAtCard"])


def _documents(rows: list[dict[str, Any]]) -> list[SandboxDocument]:
    """A/P invoices and credit notes (the posting mode the demo and harnesses use)."""
    return [
        SandboxDocument(
            doc_id=f"{ENTITY_SETS[doc['kind']]}({doc['DocEntry']})",
            reference=_reference(doc),
            vendor_code=str(doc["CardCode"]),
            number=str(doc["DocNum"]),
            debits=Decimal(str(doc["debits"])),
            credits=Decimal(str(doc["credits"])),
            total=Decimal(str(doc["DocTotal"])),
            period=str(doc["DocDate"])[:7],  # B1 posts into the DocDate's period
            open_amount=Decimal(str(doc["DocTotal"])) - Decimal(str(doc.get("PaidToDate") or 0)),
        )
        for doc in rows
        if doc.get("kind") in ENTITY_SETS
    ]


def _payments(rows: list[dict[str, Any]]) -> list[SandboxPayment]:
    """Outgoing payments (`VendorPayments`), with the documents each settles."""
    return [
        SandboxPayment(
            doc_id=f"VendorPayments({row['DocEntry']})",
            reference=str(row.get("JournalRemarks") or ""),
            vendor_code=str(row["CardCode"]),
            total=Decimal(str(row["total"])),
            applied={a["doc_id"]: Decimal(a["SumApplied"]) for a in row["applied"]},
            cancelled=row.get("Cancelled") == "tYES",
        )
        for row in rows
        if row.get("kind") == "VendorPayment"
    ]


PROFILE = SandboxProfile(
    app=APP_FACTORY,
    api_root=f"{SERVICE_ROOT}/v1",
    erp_section=_erp_section,
    mapping={
        "vendors": SAP_B1_SEED.supplier_map,
        "gl_accounts": SAP_B1_SEED.account_map,
        "cost_centers": SAP_B1_SEED.profit_center_map,
    },
    # A/P invoices and credit notes (a Stampli credit memo is posted as a credit note).
    write_match={"method": "POST", "path": "*/Purchase[IC][nr]*[se]s"},
    login_match={"method": "POST", "path": "*/Login"},
    documents=_documents,
    payments=_payments,
    payment_match={"method": "POST", "path": "*/VendorPayments"},
    # Stampli's PO file: from the ERP that has purchase orders, every 2 hours.
    schedules={"open_purchase_orders_cron": "15 */2 * * *"},
)
