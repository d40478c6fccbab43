"""The Acumatica sandbox for the demo and harnesses: tenant block, mapping, faults, documents."""

import re
from decimal import Decimal
from typing import Any

from bridge_pipelines.sandbox.acumatica.app import APP_FACTORY
from bridge_pipelines.sandbox.acumatica.entities import ENDPOINT, VERSIONS
from bridge_pipelines.sandbox.acumatica.seed import (
    ACUMATICA_SEED,
    API_PASSWORD,
    API_USER,
    DEFAULT_BRANCH,
    TENANT,
)
from bridge_pipelines.sandbox.erp_base.profile import Encrypt, SandboxDocument, SandboxProfile

OUR_REFERENCE = re.compile(r"BP[0-9A-HJKMNP-TV-Z]{18}")  # erps/external_ref.py's shape
VERSION = VERSIONS[-1]


def _erp_section(base_url: str, encrypt: Encrypt) -> dict[str, object]:
    return {
        "kind": "acumatica",
        "base_url": base_url,
        "company": TENANT,
        "username": API_USER,
        "password": encrypt("erp.password", API_PASSWORD),
        "acumatica_endpoint": ENDPOINT,
        "acumatica_endpoint_version": VERSION,
        "acumatica_branch": DEFAULT_BRANCH,
        "acumatica_release_bills": True,
    }


def _documents(rows: list[dict[str, Any]]) -> list[SandboxDocument]:
    """Bills and debit adjustments: our reference leads the description."""
    out = []
    for doc in rows:
        if doc.get("kind") != "Bill":
            continue
        found = OUR_REFERENCE.match(str(doc.get("Description") or ""))
        lines = sum((Decimal(str(d["ExtendedCost"])) for d in doc.get("Details") or []), Decimal(0))
        period = str(doc.get("PostPeriod") or "")
        out.append(
            SandboxDocument(
                doc_id=f"{doc['Type']}/{doc['ReferenceNbr']}",
                reference=found.group(0) if found else "",
                vendor_code=str(doc["Vendor"]),
                number=str(doc["ReferenceNbr"]),
                debits=lines,
                credits=Decimal(str(doc["Amount"])),
                total=Decimal(str(doc["Amount"])),
                period=f"{period[2:]}-{period[:2]}" if len(period) == 6 else "",
            )
        )
    return out


PROFILE = SandboxProfile(
    app=APP_FACTORY,
    api_root=f"/entity/{ENDPOINT}/{VERSION}",
    erp_section=_erp_section,
    mapping={
        "vendors": ACUMATICA_SEED.vendor_map,
        "gl_accounts": ACUMATICA_SEED.account_map,
        "cost_centers": ACUMATICA_SEED.cost_center_map,
    },
    write_match={"method": "PUT", "path": "/entity/*/Bill"},
    login_match={"method": "POST", "path": "/entity/auth/login"},
    documents=_documents,
    # Stampli's PO file: open Acumatica purchase orders every 2 hours.
    schedules={"open_purchase_orders_cron": "20 */2 * * *"},
    # Acumatica makes the payments: the demo's clerk pays bills with AP checks.
    clerk_route="/_sandbox/acumatica/checks",
)
