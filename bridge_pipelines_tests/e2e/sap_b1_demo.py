"""After `bridge demo --once`: what globex's SAP Business One company holds, read back.

The demo stops its sandboxes when it exits; the SAP B1 sandbox keeps its state on disk, so it
is started again on the same folder and asked, through its admin routes and the Service Layer,
as a person checking the demo would.
"""

import csv
from collections import Counter
from decimal import Decimal
from pathlib import Path

import httpx

from bridge_pipelines.demo.environment import UNMAPPED_VENDOR
from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.ledger.states import PostingKind, PostingState
from bridge_pipelines.sandbox.erp_base.runner import start_sandbox
from bridge_pipelines.sandbox.sap_b1.app import APP_FACTORY
from bridge_pipelines.sandbox.sap_b1.profile import DEMO_USER as SAP_B1_DEMO_USER
from bridge_pipelines.sandbox.sap_b1.seed import SAP_B1_SEED

TENANT = "globex"
ENTITY_SET = {"PurchaseInvoice": "PurchaseInvoices", "PurchaseCreditNote": "PurchaseCreditNotes"}


def assert_globex_posted_once_into_sap_b1(home: Path, ledger: Ledger) -> None:
    """Every posted globex invoice is one SAP document; the unmapped vendor's is held."""
    postings = ledger.postings(TENANT, kind=PostingKind.INVOICE)
    posted = [p for p in postings if p.state == PostingState.POSTED]
    held = [p for p in postings if p.state == PostingState.NEEDS_REVIEW]
    assert posted, "nothing of globex's was posted"
    assert {p.state for p in postings} <= {PostingState.POSTED, PostingState.NEEDS_REVIEW}
    assert len(held) == 1 and f"vendor {UNMAPPED_VENDOR}" in (held[0].reason or ""), held
    assert {p.target for p in postings} == {f"sap_b1:{SAP_B1_SEED.company_db}"}
    types = {r.id: r.payload["document_type"] for r in ledger.records(TENANT, kind="invoices")}

    with start_sandbox(APP_FACTORY, home / "erp" / "sap_b1") as sandbox:
        documents = [d for d in sandbox.admin.documents() if d["kind"] in ENTITY_SET]
        partners_updated = {
            r["path"].split("BusinessPartners('", 1)[1].removesuffix("')")
            for r in sandbox.admin.requests()
            if r["method"] == "PATCH" and "/BusinessPartners('" in r["path"] and r["status"] == 204
        }
        invoices_in_sap = _service_layer_count(sandbox.base_url, "PurchaseInvoices")

    # Exactly once: one document per posting, one per supplier and reference.
    doc_ids = [f"{ENTITY_SET[d['kind']]}({d['DocEntry']})" for d in documents]
    assert sorted(doc_ids) == sorted(p.erp_doc_id for p in posted)
    # Our reference is in JournalMemo, the vendor's invoice number in NumAtCard (issue 16).
    assert max(Counter((d["CardCode"], d["JournalMemo"]) for d in documents).values()) == 1
    assert {d["JournalMemo"] for d in documents} == {p.external_ref for p in posted}
    assert invoices_in_sap == sum(d["kind"] == "PurchaseInvoice" for d in documents)
    # A credit memo is an A/P credit note, an invoice an A/P invoice.
    for posting in posted:
        credit = types[posting.record_id] == "CreditMemo"
        assert (posting.erp_doc_id or "").startswith(
            "PurchaseCreditNotes(" if credit else "PurchaseInvoices("
        ), (posting.erp_doc_id, types[posting.record_id])
    assert all(d["debits"] == d["credits"] for d in documents)
    # Stampli's vendors went to SAP's business partners (all but the one without an ERP code).
    assert partners_updated == set(SAP_B1_SEED.supplier_map.values()), partners_updated
    # SAP's open purchase orders reached Stampli's inbound folder, under Stampli's vendor ids.
    [po_file] = (home / "sftp" / TENANT / "inbound").glob("purchase_orders_*.csv")
    with po_file.open(newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    open_pos = {p.doc_num for p in SAP_B1_SEED.purchase_orders if p.status == "bost_Open"}
    assert {int(r["PONumber"]) for r in rows} == open_pos, rows
    assert {r["VendorId"] for r in rows} <= set(SAP_B1_SEED.supplier_map), rows


def assert_globex_payments_applied_in_sap_b1(home: Path, ledger: Ledger) -> None:
    """Stampli's payments are SAP outgoing payments, once; the unmapped vendor's one waits.

    And `bridge verify`'s payment checks pass against the SAP company left by the demo: every
    payment applied once, none unknown to the ledger, each open balance the ledger expects.
    """
    from bridge_pipelines.erps.base import ExternalRef
    from bridge_pipelines.tenants.erp import build_adapter
    from bridge_pipelines.tenants.loader import load_tenants
    from bridge_pipelines.tenants.secrets import Keyring
    from bridge_pipelines.verify.reconcile import verify_tenant

    payments = ledger.postings(TENANT, kind=PostingKind.PAYMENT)
    posted = [p for p in payments if p.state == PostingState.POSTED]
    waiting = [p for p in payments if p.state == PostingState.WAITING]
    assert posted, "no globex payment was recorded in SAP"
    assert {p.state for p in payments} == {PostingState.POSTED, PostingState.WAITING}, payments
    [wait] = waiting
    assert f"vendor {UNMAPPED_VENDOR} invoice" in (wait.reason or "")
    assert "is held for review" in (wait.reason or ""), wait.reason
    rows = ledger.records(TENANT, kind="payments")
    invoices = {p.record_id: p for p in ledger.postings(TENANT, kind=PostingKind.INVOICE)}
    by_invoice_id = {r.payload["invoice_id"]: r.id for r in ledger.records(TENANT, kind="invoices")}
    (tenant,) = [t for t in load_tenants(home / "tenants") if t.id == TENANT]

    with start_sandbox(APP_FACTORY, home / "erp" / "sap_b1") as sandbox:
        documents = sandbox.admin.documents()
        tenant = tenant.model_copy(
            update={"erp": tenant.erp.model_copy(update={"base_url": f"{sandbox.base_url}/b1s/v1"})}
        )
        keyring = Keyring.load(home / "keys.json")
        with build_adapter(tenant, keyring=keyring) as adapter:
            report = verify_tenant(tenant, ledger, adapter=adapter)
            refs = [ExternalRef(p.external_ref, "", "") for p in invoices.values()]
            open_in_sap = {b.external_ref: b.open_amount for b in adapter.read_open_balances(refs)}

    in_sap = [d for d in documents if d["kind"] == "VendorPayment"]
    # Exactly once, our reference in JournalRemarks.
    assert sorted(f"VendorPayments({d['DocEntry']})" for d in in_sap) == sorted(
        p.erp_doc_id for p in posted
    )
    assert {d["JournalRemarks"] for d in in_sap} == {p.external_ref for p in posted}
    # Applied to the documents the ledger posted, with Stampli's amounts.
    applied = {a["doc_id"]: Decimal(a["SumApplied"]) for d in in_sap for a in d["applied"]}
    paid_ids = {ledger.get_record(p.record_id).payload["payment_id"] for p in posted}
    paid_rows = [r for r in rows if r.payload["payment_id"] in paid_ids]
    expected: dict[str, Decimal] = {}
    for row in paid_rows:
        doc = invoices[by_invoice_id[row.payload["invoice_id"]]].erp_doc_id or ""
        expected[doc] = expected.get(doc, Decimal(0)) + abs(Decimal(row.payload["amount"]))
    assert applied == expected
    assert any(v == 0 for v in open_in_sap.values()), "no invoice was paid in full"
    for name in ("payments_applied", "payments_unknown_to_ledger", "open_balances"):
        check = report.check(name)
        assert check.ok and check.status.value == "ok", (name, check.to_dict())
    assert report.counts["open_balances_checked"] > 0


def _service_layer_count(base_url: str, entity_set: str) -> int:
    """`GET <set>/$count` as the demo's integration user."""
    user = next(u for u in SAP_B1_SEED.users if u.user_name == SAP_B1_DEMO_USER)
    with httpx.Client(base_url=f"{base_url}/b1s/v1/", timeout=10, trust_env=False) as http:
        login = http.post(
            "Login",
            json={"CompanyDB": SAP_B1_SEED.company_db, "UserName": user.user_name,
                  "Password": user.password},
        )  # fmt: skip
        assert login.status_code == 200, login.text
        answer = http.get(f"{entity_set}/$count")
        assert answer.status_code == 200, answer.text
        http.post("Logout")
        return int(answer.text)
