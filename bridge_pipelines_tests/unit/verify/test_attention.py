"""`files_need_attention`: a quarantined file counts until replaced or dismissed (audited)."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bridge_pipelines.ledger.errors import InvalidTransitionError
from bridge_pipelines.ledger.models import FileRow
from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.verify import FILES_NEED_ATTENTION, CheckStatus, VerifyReport, verify_tenant
from bridge_pipelines.verify.attention import quarantined_files
from bridge_pipelines_tests.support.verify_builders import (
    Listing,
    ListingErp,
    TenantLedger,
    tenant_config,
)

NOW = datetime(2026, 5, 5, 12, 0, tzinfo=UTC)
REFUSED = (
    "InvoiceId,InvoiceNumber,VendorId,InvoiceTotal\n"
    "STI-1,INV-1-0,V-0001,oops\n"
    "STI-2,INV-1-1,V-0001,oops\n"
)


@pytest.fixture
def books(tmp_path: Path) -> TenantLedger:
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    ledger.migrate()
    return TenantLedger(ledger, tenant_config())


def quarantine(books: TenantLedger, tmp_path: Path, content: str | None = REFUSED) -> FileRow:
    """A downloaded file whose whole content the parser refused (raw copy archived)."""
    row = books.file(name="invoices_bad.csv")
    if content is None:
        return books.ledger.mark_quarantined(row.id, "remote name refused")
    raw = tmp_path / f"raw-{row.id}"
    raw.write_text(content)
    books.ledger.mark_downloaded(
        row.id, sha256=f"{row.id:064x}", size=row.size, archive_path=str(raw)
    )
    return books.ledger.mark_quarantined(row.id, "invoices_bad.csv: column InvoiceDate missing")


def run(books: TenantLedger, docs=()) -> VerifyReport:
    return verify_tenant(
        books.tenant, books.ledger, adapter=ListingErp(docs), sftp=Listing(), now=NOW
    )


def test_a_quarantined_file_needs_attention_naming_what_could_be_read(
    books: TenantLedger, tmp_path: Path
) -> None:
    bad = quarantine(books, tmp_path)
    report = run(books)
    check = report.check(FILES_NEED_ATTENTION)
    assert check.status == CheckStatus.FAIL and not report.ok
    [item] = check.items
    assert item["file_id"] == bad.id and item["status"] == "needs_attention"
    assert "vendor V-0001 invoice INV-1-0 (Stampli STI-1)" in item["message"]
    assert f"bridge files dismiss acme {bad.id}" in item["message"]
    assert report.counts["files_quarantined"] == 1
    # Every other check holds: only the quarantined file fails.
    assert [c.name for c in report.failing] == [FILES_NEED_ATTENTION]


def test_dismissed_with_a_reason_it_passes_and_the_audit_keeps_who_and_why(
    books: TenantLedger, tmp_path: Path
) -> None:
    bad = quarantine(books, tmp_path, content=None)
    with pytest.raises(InvalidTransitionError):
        books.ledger.dismiss_file(bad.id, reason=" ", actor="operator:ann")
    books.ledger.dismiss_file(bad.id, reason="test export", actor="operator:ann")
    assert run(books).ok
    [event] = [e for e in books.ledger.audit("acme", entity="file", entity_id=bad.id)
               if e.event == "file_dismissed"]  # fmt: skip
    assert event.actor == "operator:ann" and event.detail["reason"] == "test export"
    books.ledger.reopen_file(bad.id, reason="was not a test", actor="operator:bob")
    assert not run(books).ok


def test_a_later_parsed_file_with_the_same_invoices_replaces_it(
    books: TenantLedger, tmp_path: Path
) -> None:
    bad = quarantine(books, tmp_path)
    records = books.invoices(1)  # holds V-0001 INV-<id>-0 only: not every invoice
    docs = books.post(records)
    assert not run(books, docs).ok
    # The corrected export: both invoices of the refused file (numbered as it numbered them).
    text = REFUSED.replace("INV-1-", f"INV-{records[0].file_id + 2}-")  # the next file id
    bad2 = quarantine(books, tmp_path, content=text)
    fixed = books.invoices(2)
    assert fixed[0].file_id == bad2.id + 1
    docs += books.post(fixed)
    report = run(books, docs)
    [still] = report.check(FILES_NEED_ATTENTION).items
    assert still["file_id"] == bad.id  # the first one: its invoices never came again
    [item] = quarantined_files(books.ledger, "acme", files=[books.ledger.get_file(bad2.id)])
    assert item.status == "replaced" and [f.id for f in item.replaced_by] == [fixed[0].file_id]


def test_an_operator_names_the_corrected_export(books: TenantLedger, tmp_path: Path) -> None:
    bad = quarantine(books, tmp_path, content="nothing readable")
    other = books.invoices(1)[0].file_id
    with pytest.raises(InvalidTransitionError):
        books.ledger.replace_file(bad.id, by=bad.id, reason="x", actor="operator:ann")
    books.ledger.replace_file(bad.id, by=other, reason="resent", actor="operator:ann")
    [item] = quarantined_files(books.ledger, "acme")
    assert item.status == "replaced" and item.decision is not None
    assert item.decision.replaced_by == other
    assert not run(books).check(FILES_NEED_ATTENTION).items
