"""`bridge verify` and the Dagster metadata name an invoice by vendor and number (issue 16)."""

from dataclasses import replace
from pathlib import Path

import pytest

from bridge_pipelines.defs.metadata import escape_markdown as md
from bridge_pipelines.defs.metadata import failures_table, held_table
from bridge_pipelines.defs.postings import _metadata
from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.ledger.states import RecordState
from bridge_pipelines.stampli.models import RowError
from bridge_pipelines.verify import LOST, verify_tenant
from bridge_pipelines_tests.support.verify_builders import (
    Listing,
    ListingErp,
    TenantLedger,
    tenant_config,
)


@pytest.fixture
def books(tmp_path: Path) -> TenantLedger:
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    ledger.migrate()
    return TenantLedger(ledger, tenant_config())


def test_verify_items_name_the_invoice_as_a_person_knows_it(books: TenantLedger) -> None:
    [record] = books.invoices(1)
    report = verify_tenant(books.tenant, books.ledger, adapter=ListingErp(), sftp=Listing())
    [item] = report.check(LOST).items
    name = f"vendor V-0001 invoice INV-{record.file_id}-0"
    assert item["message"].startswith(f"approved {name} (invoices_"), item["message"]
    assert item["invoice_name"] == name and item["invoice"] == record.identity
    assert "V-0001|" not in item["message"]


def test_dagster_metadata_names_postings_and_held_documents(books: TenantLedger) -> None:
    records = books.invoices(2, totals=["115.00", "-10.00"])
    books.post(records)
    metadata = _metadata(books.ledger, books.ledger.postings("acme"), None)
    table = metadata["postings"].value
    # Metadata is Markdown: names are escaped (issue 16 point 13), still whole.
    assert md(f"vendor V-0001 invoice INV-{records[0].file_id}-0") in table
    assert md(f"vendor V-0001 credit memo INV-{records[1].file_id}-1") in table
    assert md("V-0001|") not in table
    assert held_table(records) == "_nothing_"
    held = replace(records[0], state=RecordState.HELD, reason="changed: invoice_total")
    assert f"| {md(f'vendor V-0001 invoice INV-{held.file_id}-0')} | {held.id} | changed" in (
        held_table([held])
    )


def test_dagster_failure_cases_name_the_invoice_of_a_refused_row() -> None:
    error = RowError(source="f.csv", row=3, field="InvoiceTotal", message="bad",
                     document="invoice STI-2")  # fmt: skip
    names = {("f.csv", "invoice STI-2"): "vendor V-0002 invoice INV-2 (Stampli STI-2)"}
    named = md("vendor V-0002 invoice INV-2 (Stampli STI-2)")
    assert f"| {named} |" in failures_table([error], names)
    assert f"| {md('invoice STI-2')} |" in failures_table([error])
