"""The SAP B1 adapter's payments (issue 15) against the Service Layer sandbox."""

from datetime import date
from decimal import Decimal

import pytest

from bridge_pipelines.erps.base import (
    DocumentType,
    ExternalRef,
    PaymentApplication,
    PostablePayment,
    SourceLineage,
)
from bridge_pipelines.errors import BadInputError, ConfigError
from bridge_pipelines.sandbox.sap_b1.seed import BANK_ACCOUNT
from bridge_pipelines_tests.integration.erps.sap_b1.helpers import adapter_for, calls, invoice


def _payment(ref: str, *applied: tuple[str, str]) -> PostablePayment:
    return PostablePayment(
        tenant="demo",
        external_ref=ref,
        record_ids=(1,),
        payment_id="PAY-1",
        vendor_code="V10001",
        payment_date=date(2026, 5, 20),
        currency="USD",
        method="Wire",
        reference="REF 1, batch 7",
        applications=tuple(
            PaymentApplication(
                ExternalRef("BP" + "0" * 18, "V10001", "INV"),
                DocumentType.INVOICE,
                Decimal(amount),
                doc,
            )
            for doc, amount in applied
        ),
        lineage=SourceLineage("payments.csv", (2,)),
    )


def test_open_balances_are_read_twenty_references_a_query(sapb1_sandbox) -> None:
    invoices = [
        invoice(f"INV-{n}", ref=f"BP{n:018d}", total="100.00", tax="0.00") for n in range(25)
    ]
    with adapter_for(sapb1_sandbox) as adapter:
        posted = [adapter.post_invoice(i) for i in invoices]
    adapter = adapter_for(sapb1_sandbox)
    adapter.payment_account = BANK_ACCOUNT
    with adapter:
        adapter.post_payment(_payment("BP" + "P" * 18, (posted[3].doc_id, "60.00")))
        before = len(calls(sapb1_sandbox, "/PurchaseInvoices", "GET"))
        balances = {
            b.external_ref: b for b in adapter.read_open_balances([i.ref for i in invoices])
        }
        queries = len(calls(sapb1_sandbox, "/PurchaseInvoices", "GET")) - before
    assert len(balances) == 25 and queries == 2
    assert balances[invoices[3].external_ref].open_amount == Decimal("40.00")
    assert {b.open_amount for r, b in balances.items() if r != invoices[3].external_ref} == {
        Decimal("100.00")
    }


def test_a_payment_needs_the_tenants_bank_account_and_a_posted_document(sapb1_sandbox) -> None:
    with adapter_for(sapb1_sandbox) as adapter:
        with pytest.raises(ConfigError, match="sap_b1_payment_account"):
            adapter.post_payment(_payment("BP" + "Q" * 18, ("PurchaseInvoices(1)", "1.00")))
        adapter.payment_account = BANK_ACCOUNT
        with pytest.raises(BadInputError, match="no A/P invoice or credit note"):
            adapter.post_payment(_payment("BP" + "Q" * 18, ("JournalEntries(4)", "1.00")))
    assert calls(sapb1_sandbox, "/VendorPayments", "POST") == []
