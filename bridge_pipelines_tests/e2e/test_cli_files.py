"""Issue 16 for readers: invoices named as people know them in `bridge status` and `bridge
review`, quarantined files through `bridge files`, on a SQLite ledger the CLI opens itself."""

import json
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from bridge_pipelines.cli import main
from bridge_pipelines.ledger.models import DocumentIn, RowErrorIn
from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.verify import FILES_NEED_ATTENTION, verify_tenant
from bridge_pipelines_tests.support.verify_builders import (
    Listing,
    ListingErp,
    TenantLedger,
    tenant_config,
)

pytestmark = pytest.mark.e2e

NAME_0 = "vendor V-0001 invoice INV-{file}-0"
REFUSED = "InvoiceId,InvoiceNumber,VendorId\nSTI-77,INV-77,V-0042\n"


@pytest.fixture
def books(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TenantLedger:
    for name in ("BRIDGE_TENANTS_DIR", "BRIDGE_MAPPINGS_DIR", "BRIDGE_LEDGER_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BRIDGE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("BRIDGE_TENANTS_DIR", str(tmp_path / "no-tenants"))
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    monkeypatch.setenv("BRIDGE_LEDGER_URL", url)
    ledger = Ledger(url)
    ledger.migrate()
    return TenantLedger(ledger, tenant_config())


def bridge(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.output


def quarantined(books: TenantLedger, tmp_path: Path) -> int:
    row = books.file(name="invoices_refused.csv")
    raw = tmp_path / "raw.csv"
    raw.write_text(REFUSED)
    books.ledger.mark_downloaded(row.id, sha256="a" * 64, size=row.size, archive_path=str(raw))
    books.ledger.mark_quarantined(row.id, "invoices_refused.csv: column InvoiceDate missing")
    return row.id


def test_review_names_invoices_by_vendor_and_number(books: TenantLedger) -> None:
    [record] = books.invoices(1)
    [posting] = books.plan([record])
    books.claim()
    books.ledger.mark_needs_review(posting.id, "test", "two documents carry the reference")
    name = NAME_0.format(file=record.file_id)

    code, out = bridge("review", "list", "acme")
    assert code == 0 and name in out and "V-0001|" not in out, out
    code, out = bridge("review", "list", "acme", "--json")
    [item] = json.loads(out)["postings"]
    assert item["invoice_name"] == name and item["invoice"] == record.identity
    code, out = bridge("review", "show", str(posting.id))
    assert code == 0 and f"invoice:      {name} (record #{record.id})" in out, out
    assert out.splitlines()[0].startswith(f"posting #{posting.id} (needs_review) of {name} to")


def test_status_names_held_invoices_and_what_a_quarantined_file_held(
    books: TenantLedger, tmp_path: Path
) -> None:
    [record] = books.invoices(1)
    # The same invoice again, changed: held with both versions kept.
    row = books.file()
    books.ledger.mark_downloaded(row.id, sha256="b" * 64, size=row.size, archive_path="/a/x")
    changed = {**record.payload, "invoice_total": "999.00", "invoice_id": "STI-9"}
    books.ledger.complete_parse(
        row.id,
        documents=[
            DocumentIn("invoices", record.identity, "changed", (2,), changed, None, None, "USD")
        ],
        rows_total=1,
    )
    bad = quarantined(books, tmp_path)
    name = NAME_0.format(file=record.file_id) + " (Stampli STI-9)"

    code, out = bridge("status", "acme")
    assert code == 0, out
    assert f"held {name} (record #" in out, out
    assert (
        "needs attention; 1 invoice(s) read: vendor V-0042 invoice INV-77 (Stampli STI-77)" in out
    )
    assert f"bridge files show acme {bad}" in out
    status = json.loads(bridge("status", "acme", "--json")[1])
    assert [h["invoice_name"] for h in status["held"]] == [name]
    [refused] = [f for f in status["files"] if f["state"] == "quarantined"]
    assert refused["attention"] == "needs_attention"
    assert refused["invoices_read"] == ["vendor V-0042 invoice INV-77 (Stampli STI-77)"]


def test_files_show_dismiss_replace_are_audited_and_verify_follows(
    books: TenantLedger, tmp_path: Path
) -> None:
    bad = quarantined(books, tmp_path)
    code, out = bridge("files", "list", "acme")
    assert code == 0 and f"#{bad:<5} needs_attention" in out, out
    code, out = bridge("files", "show", "acme", "invoices_refused.csv")
    assert code == 0, out
    assert "reason:   invoices_refused.csv: column InvoiceDate missing" in out
    assert "vendor V-0042 invoice INV-77 (Stampli STI-77)" in out
    assert "status:   needs attention" in out

    def attention() -> int:
        report = verify_tenant(
            books.tenant, books.ledger, adapter=ListingErp(), sftp=Listing(),
            now=books.ledger.get_file(bad).updated_at + timedelta(days=1),
        )  # fmt: skip
        return report.check(FILES_NEED_ATTENTION).count

    assert attention() == 1
    code, out = bridge("files", "dismiss", "acme", str(bad))
    assert code == 2 and "--reason" in out  # a reason is required
    code, out = bridge("files", "dismiss", "acme", str(bad), "--reason", "a test export")
    assert code == 0 and "dismissed: a test export" in out, out
    assert attention() == 0
    code, out = bridge("files", "show", "acme", str(bad))
    assert "file_dismissed by operator:" in out and ": a test export" in out, out

    code, out = bridge("files", "reopen", "acme", str(bad), "--reason", "not a test")
    assert code == 0 and attention() == 1
    parsed = books.invoices(1)[0].file_id
    code, out = bridge("files", "replace", "acme", str(bad), "--by", str(parsed))
    assert code == 0 and f"replaced by file #{parsed}" in out, out
    assert attention() == 0
    events = [e.event for e in books.ledger.audit("acme", entity="file", entity_id=bad)]
    assert events[-3:] == ["file_dismissed", "file_reopened", "file_replaced"]

    # Nothing to decide about a parsed file; an unknown file is named.
    code, out = bridge("files", "dismiss", "acme", str(parsed), "--reason", "x")
    assert code == 1 and "not quarantined" in out
    code, out = bridge("files", "show", "acme", "nope.csv")
    assert code == 2 and "no file 'nope.csv'" in out


def test_status_names_the_invoice_of_a_refused_row_from_its_raw_file(
    books: TenantLedger, tmp_path: Path
) -> None:
    row = books.file(name="invoices_rows.csv")
    raw = tmp_path / "rows.csv"
    raw.write_text("InvoiceId,InvoiceNumber,VendorId,InvoiceTotal\nSTI-5,INV-5,V-0005,abc\n")
    books.ledger.mark_downloaded(row.id, sha256="c" * 64, size=row.size, archive_path=str(raw))
    error = RowErrorIn(2, "InvoiceTotal", "not an amount: 'abc'", "invoice STI-5")
    books.ledger.complete_parse(row.id, documents=[], row_errors=[error], rows_total=1)
    code, out = bridge("status", "acme")
    assert code == 0, out
    # Lines wrap at 80 columns (never cut): compare the words.
    assert (
        "invoices_rows.csv row 2, field InvoiceTotal (vendor V-0005 invoice INV-5 "
        "(Stampli STI-5)): not an amount" in " ".join(out.split())
    ), out
    [item] = json.loads(bridge("status", "acme", "--json")[1])["row_errors"]
    assert item["invoice_name"] == "vendor V-0005 invoice INV-5 (Stampli STI-5)"
    assert item["document"] == "invoice STI-5"
