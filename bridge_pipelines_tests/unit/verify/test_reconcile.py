"""The reconciliation's verdicts on a real SQLite ledger, one broken invariant at a time."""

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.ledger.states import PostingState
from bridge_pipelines.ledger.tables import records
from bridge_pipelines.verify import CHECK_NAMES, CheckStatus, VerifyReport, verify_tenant
from bridge_pipelines_tests.support.verify_builders import (
    DAY,
    FOLDER,
    Entry,
    Listing,
    ListingErp,
    TenantLedger,
    UnlistableErp,
    document,
    tenant_config,
)

NOW = datetime(2026, 5, 5, 12, 0, tzinfo=UTC)


@pytest.fixture
def books(tmp_path: Path) -> TenantLedger:
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    ledger.migrate()
    return TenantLedger(ledger, tenant_config())


def run(
    books: TenantLedger, docs=(), *, listing: Listing | None = None, day: date | None = None
) -> VerifyReport:
    return verify_tenant(
        books.tenant,
        books.ledger,
        day=day,
        adapter=ListingErp(docs),
        sftp=listing or Listing(),
        now=NOW,
    )


def failing(report: VerifyReport) -> dict[str, int]:
    return {c.name: c.count for c in report.failing}


def test_a_clean_day_passes_every_check_and_counts_what_it_saw(books: TenantLedger) -> None:
    records = books.invoices(3)
    docs = books.post(records)
    [parsed] = books.ledger.files(books.tenant.id)
    listing = Listing({FOLDER: [Entry(parsed.name, parsed.size, parsed.mtime)]})
    report = run(books, docs, listing=listing)
    assert report.ok, report.to_dict()
    assert list(report.checks) == list(CHECK_NAMES)
    assert report.counts["invoices_approved"] == 3
    assert report.counts["posted"] == 3
    assert report.counts["erp_documents"] == 3
    assert report.counts["files_terminal"] == report.counts["files"] == 1
    assert report.counts["remote_files"] == 1
    # The JSON an auditor keeps: plain types only.
    payload = json.loads(json.dumps(report.to_dict()))
    assert payload["ok"] is True and payload["checks"]["lost"] == {
        "ok": True,
        "status": "ok",
        "count": 0,
        "items": [],
    }


def test_a_reference_on_two_erp_documents_is_a_duplicate(books: TenantLedger) -> None:
    [record] = books.invoices(1)
    [doc] = books.post([record])
    twin = document("SUP00001/INV-TWIN", doc.external_ref or "", "115.00")
    report = run(books, [doc, twin])
    assert failing(report) == {"duplicates": 1, "unknown_to_ledger": 1}
    [item] = report.check("duplicates").items
    assert item["erp_documents"] == sorted([doc.doc_id, twin.doc_id])
    assert item["invoice"] == record.identity and item["side"] == "erp"
    assert "invoices_" in item["source"] and "rows [2]" in item["source"]
    [unknown] = report.check("unknown_to_ledger").items
    assert unknown["erp_document"] == twin.doc_id
    assert unknown["ledger_erp_document"] == doc.doc_id


def test_one_invoice_posted_twice_in_the_ledger_is_a_duplicate(books: TenantLedger) -> None:
    # A changed re-delivery is held beside the accepted version; if both versions were
    # posted (say an operator pushed the held one through by hand), the invoice is in the
    # ERP twice under two references. The ledger's indexes cannot refuse it; verify sees it.
    [first] = books.invoices(1, totals=["115.00"])
    [second] = books.invoices(1, totals=["116.00"])
    with books.ledger.engine.begin() as conn:
        conn.execute(
            sa.update(records)
            .where(records.c.id == second.id)
            .values(identity=first.identity, state="held", reason="changed re-delivery")
        )
    docs = books.post([first, books.ledger.get_record(second.id)])
    report = run(books, docs)
    assert failing(report) == {"duplicates": 1}
    [item] = report.check("duplicates").items
    assert item["side"] == "ledger" and len(item["posting_ids"]) == 2
    assert item["invoice"] == first.identity


def test_a_document_with_our_reference_the_ledger_lacks_is_unknown(books: TenantLedger) -> None:
    docs = books.post(books.invoices(1))
    stray = document("SUP00001/MANUAL-1", "BP0000000000000000ZZ", "50.00")
    not_ours = document("SUP00001/MANUAL-2", "PO-12345", "50.00")
    report = run(books, [*docs, stray, not_ours])
    assert failing(report) == {"unknown_to_ledger": 1}
    [item] = report.check("unknown_to_ledger").items
    assert item["erp_document"] == "SUP00001/MANUAL-1"
    assert "ledger does not have" in item["message"]


def test_a_document_of_another_tenant_on_the_same_company_is_not_ours(
    books: TenantLedger,
) -> None:
    other = TenantLedger(books.ledger, tenant_config("globex"))
    theirs = other.post(other.invoices(1))
    report = run(books, [*books.post(books.invoices(1)), *theirs])
    assert report.ok, report.to_dict()


def test_a_document_the_ledger_holds_for_review_is_reported(books: TenantLedger) -> None:
    [record] = books.invoices(1)
    books.plan([record])
    [posting] = books.claim()
    books.ledger.mark_needs_review(posting.id, "test", "lookup found nothing (stale)")
    doc = document("SUP00001/X", posting.external_ref, "115.00")
    report = run(books, [doc])
    # Held with a reason, so not lost; but the ERP has it and the ledger does not say posted.
    assert failing(report) == {"unknown_to_ledger": 1}
    assert report.check("unknown_to_ledger").items[0]["ledger_state"] == "needs_review"


def test_approved_invoices_neither_posted_nor_held_are_lost(books: TenantLedger) -> None:
    never, open_, held, vanished, fine = books.invoices(5)
    docs = books.post([fine])
    books.plan([open_, held, vanished])
    claimed = {p.record_id: p for p in books.claim()}
    books.ledger.release_to_planned(claimed[open_.id].id, "test", "nothing was sent")
    books.ledger.mark_needs_review(claimed[held.id].id, "test", "unmapped vendor V-0012")
    books.ledger.mark_posted(claimed[vanished.id].id, "test", "SUP00001/GONE")
    report = run(books, docs)
    assert failing(report) == {"lost": 3}
    by_record = {item["record_id"]: item for item in report.check("lost").items}
    assert set(by_record) == {never.id, open_.id, vanished.id}
    assert by_record[never.id]["state"] is None
    assert by_record[open_.id]["state"] == "planned"
    assert "ERP has no document" in by_record[vanished.id]["message"]
    assert report.counts["held"] == 1 and report.counts["open_postings"] == 1


def test_files_not_terminal_in_the_ledger_or_never_recorded(books: TenantLedger) -> None:
    docs = books.post(books.invoices(1))
    stuck = books.file(name="stuck.csv")
    books.ledger.mark_downloaded(stuck.id, sha256="f" * 64, size=stuck.size, archive_path="/a")
    old = int((NOW - timedelta(minutes=10)).timestamp())
    fresh = int((NOW - timedelta(seconds=3)).timestamp())
    listing = Listing(
        {
            FOLDER: [
                Entry(stuck.name, stuck.size, stuck.mtime),
                Entry("missed.csv", 42, old),
                Entry("arriving.csv", 42, fresh),  # settling: the sensor has not seen it yet
            ]
        },
        refused={FOLDER: [Entry("../evil.csv", 0, 0)]},
    )
    report = run(books, docs, listing=listing)
    assert failing(report) == {"files_not_terminal": 3}
    items = report.check("files_not_terminal").items
    assert [(i["where"], i["name"]) for i in items] == [
        ("ledger", "stuck.csv"),
        ("sftp", "missed.csv"),
        ("sftp", "..\\x2fevil.csv"),
    ]
    assert items[0]["state"] == "downloaded"


def test_unbalanced_documents_and_totals_that_differ_from_the_source(books: TenantLedger) -> None:
    good, wrong_total, unbalanced, credit = books.invoices(4, totals=["115.00"] * 3 + ["-20.00"])
    docs = books.post([good, wrong_total, unbalanced, credit])
    docs[1] = document(docs[1].doc_id, docs[1].external_ref or "", "115.01")
    docs[2] = document(docs[2].doc_id, docs[2].external_ref or "", None, debits="115.00",
                       credits="100.00")  # fmt: skip
    # A credit memo's ERP total is negative, as the source's is; a journal's debits count.
    docs[3] = document(docs[3].doc_id, docs[3].external_ref or "", "-20.00")
    report = run(books, docs)
    assert failing(report) == {"journal_imbalances": 2}
    items = report.check("journal_imbalances").items
    assert {(i["kind"], i["erp_document"]) for i in items} == {
        ("total_differs", docs[1].doc_id),
        ("unbalanced", docs[2].doc_id),
    }
    differs = next(i for i in items if i["kind"] == "total_differs")
    assert (differs["erp_total"], differs["source_total"]) == ("115.01", "115.00")


def test_an_erp_that_cannot_be_listed_is_not_checkable_never_ok(books: TenantLedger) -> None:
    books.post(books.invoices(1))
    report = verify_tenant(
        books.tenant, books.ledger, adapter=UnlistableErp(), sftp=Listing(), now=NOW
    )
    assert not report.ok
    statuses = {name: check.status for name, check in report.checks.items()}
    # No Stampli payment: the payment checks have nothing the ERP could hide (issue 15).
    for name in ("payments_applied", "payments_unknown_to_ledger", "open_balances"):
        assert report.checks[name].ok, report.checks[name]
        del statuses[name]
    assert statuses == {
        "duplicates": CheckStatus.NOT_CHECKABLE,
        "unknown_to_ledger": CheckStatus.NOT_CHECKABLE,
        "lost": CheckStatus.OK,
        "files_not_terminal": CheckStatus.OK,
        "files_need_attention": CheckStatus.OK,
        "journal_imbalances": CheckStatus.NOT_CHECKABLE,
    }
    assert "cannot list" in (report.check("duplicates").note or "")


def test_a_tenant_without_an_erp_skips_the_erp_checks(tmp_path: Path) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    ledger.migrate()
    books = TenantLedger(ledger, tenant_config(erp="none"))
    books.invoices(2)
    report = verify_tenant(books.tenant, ledger, sftp=Listing(), now=NOW)
    assert report.ok
    assert report.check("lost").status == CheckStatus.SKIPPED
    assert report.check("duplicates").status == CheckStatus.SKIPPED


def test_a_day_limits_the_ledger_side_but_strays_show_on_every_day(books: TenantLedger) -> None:
    docs = books.post(books.invoices(2, day=DAY))
    books.invoices(1, day=DAY + timedelta(days=1))  # never posted: lost on that day only
    stray = document("SUP00001/MANUAL", "BP0000000000000000ZZ", "1.00")
    report = run(books, [*docs, stray], day=DAY)
    assert failing(report) == {"unknown_to_ledger": 1}
    assert report.counts["invoices_approved"] == 2 and report.counts["erp_documents"] == 3
    later = run(books, [*docs, stray], day=DAY + timedelta(days=1))
    assert failing(later) == {"unknown_to_ledger": 1, "lost": 1}
    assert later.counts["erp_documents"] == 1


def test_a_posting_held_without_any_reason_is_lost(books: TenantLedger) -> None:
    [record] = books.invoices(1)
    books.plan([record])
    [posting] = books.claim()
    books.ledger.mark_needs_review(posting.id, "test", "")
    report = run(books, [])
    assert books.ledger.get_posting(posting.id).state == PostingState.NEEDS_REVIEW
    assert failing(report) == {"lost": 1}
    assert "without a reason" in report.check("lost").items[0]["message"]


def test_a_day_reads_only_the_erp_documents_of_its_window(books: TenantLedger) -> None:
    """Issue 16.14: `since` is the earliest document date the day needs, not all history."""
    books.post(books.invoices(2, day=DAY))  # invoices dated 2026-05-01, approved on DAY
    erp = ListingErp()
    verify_tenant(books.tenant, books.ledger, day=DAY, adapter=erp, sftp=Listing(), now=NOW)
    assert erp.asked_since == [min(DAY, date(2026, 5, 1))]
    empty_day = DAY + timedelta(days=30)
    verify_tenant(books.tenant, books.ledger, day=empty_day, adapter=erp, sftp=Listing(), now=NOW)
    everything = verify_tenant(books.tenant, books.ledger, adapter=erp, sftp=Listing(), now=NOW)
    assert erp.asked_since[1:] == [empty_day, None]
    assert everything.counts["invoices_approved"] == 2
