"""The Infor M3 sandbox for the demo and the harnesses: tenant block, mapping, faults, documents.

Payments are APS130MI proposals confirmed by `CreateConfChk` (the connector's README).
"""

import json
from decimal import Decimal
from typing import Any

from bridge_pipelines.sandbox.erp_base.profile import (
    Encrypt,
    SandboxDocument,
    SandboxPayment,
    SandboxProfile,
)
from bridge_pipelines.sandbox.infor_m3.app import API_ROOT, APP_FACTORY
from bridge_pipelines.sandbox.infor_m3.seed import INFOR_M3_SEED


def _erp_section(base_url: str, encrypt: Encrypt) -> dict[str, object]:
    ionapi = INFOR_M3_SEED.ionapi(base_url)
    return {
        "kind": "infor_m3",
        # The file's own URLs, repeated in the tenant file so an operator sees where it goes.
        "base_url": ionapi["iu"],
        "sso_url": ionapi["pu"],
        "ionapi": encrypt("erp.ionapi", json.dumps(ionapi)),
        "company": INFOR_M3_SEED.company,
        "division": INFOR_M3_SEED.division,
    }


def _documents(rows: list[dict[str, Any]]) -> list[SandboxDocument]:
    """Every supplier invoice batch, validated or not: a half-built one must show up too."""
    return [
        SandboxDocument(
            doc_id=f"{doc['DIVI']}/{doc['INBN']}",
            reference=str(doc["CORI"]),
            vendor_code=str(doc["SUNO"]),
            number=str(doc["SINO"]),
            debits=Decimal(str(doc["debits"])),
            credits=Decimal(str(doc["credits"])),
            total=abs(Decimal(str(doc["CUAM"]))),
            period=f"{str(doc['ACDT'])[:4]}-{str(doc['ACDT'])[4:6]}",
            # what APS200MI/GetInvTotInfo answers as OCUA: the gross less what was paid
            open_amount=abs(Decimal(str(doc["CUAM"])) - Decimal(str(doc["paid"]))),
        )
        for doc in rows
        if doc.get("type") == "invoice_batch"
    ]


def _payments(rows: list[dict[str, Any]]) -> list[SandboxPayment]:
    """Confirmed proposals (status 90), keyed like the adapter's `DIVI/PRPN/PYON`.

    An unconfirmed proposal only blocks its invoices: nothing is booked before `CreateConfChk`.
    The report text `LITX` holds our reference; each line pays one batch (`DIVI/INBN`).
    """
    return [
        SandboxPayment(
            doc_id=f"{doc['divi']}/{doc['prpn']}/{doc['pyon']}",
            reference=str(doc["litx"]),
            vendor_code=str(doc["spyn"]),
            total=sum((Decimal(str(x["pyam"])) for x in doc["lines"]), Decimal(0)),
            applied={
                f"{x['divi']}/{x['inbn']}": abs(Decimal(str(x["pyam"]))) for x in doc["lines"]
            },
        )
        for doc in rows
        if doc.get("type") == "payment" and doc.get("stat") == "90"
    ]


PROFILE = SandboxProfile(
    app=APP_FACTORY,
    api_root=API_ROOT,
    erp_section=_erp_section,
    mapping={
        "vendors": INFOR_M3_SEED.supplier_map,
        "gl_accounts": INFOR_M3_SEED.account_map,
        "cost_centers": INFOR_M3_SEED.cost_center_map,
    },
    # Validation turns the batch into the supplier invoice: the request that commits it.
    write_match={"method": "GET", "path": "*/APS455MI/ValidByBatchNo*"},
    login_match={"method": "POST", "path": "*/as/token.oauth2"},
    documents=_documents,
    payments=_payments,
    # Confirmation books the payment: the request that commits it.
    payment_match={"method": "GET", "path": "*/APS130MI/CreateConfChk*"},
)
