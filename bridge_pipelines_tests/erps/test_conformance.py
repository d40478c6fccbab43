"""The conformance suite: what every connector does, each against its own sandbox.

Every test runs once per registered kind that ships a sandbox (the `erp` fixture), through
`tenants.erp.build_adapter` as the product builds adapters, and asserts what a user would see:
the documents in the ERP (`/_sandbox/documents`, in the profile's one shape) and the requests
it received. ERP-specific behaviour stays in `contract/` and `integration/erps/`.
"""

import itertools
import math
from collections import Counter
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from bridge_pipelines.erps.base import DimensionType, ErpAdapter, VendorChange
from bridge_pipelines.errors import (
    ConfigError,
    NeedsLookupError,
    NotSupportedError,
)
from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.ledger.states import PostingState
from bridge_pipelines_tests.erps.harness import TENANT, TODAY, ErpUnderTest, matches

pytestmark = pytest.mark.conformance

SMALL_PAGE = 2
_vendor_codes = itertools.count(1)


def assert_posted_once(erp: ErpUnderTest, ledger: Ledger, expected: int) -> None:
    """Every posting is `posted`, on the one ERP document carrying its reference."""
    postings = ledger.postings(TENANT)
    assert len(postings) == expected
    assert [p.state for p in postings] == [PostingState.POSTED] * expected, postings
    for posting in postings:
        assert [d.doc_id for d in erp.documents(posting.external_ref)] == [posting.erp_doc_id]
    assert len(erp.documents()) == expected


# --- postings --------------------------------------------------------------------------------


def test_posted_invoice_is_found_by_its_reference(erp: ErpUnderTest) -> None:
    invoice = erp.invoice()
    with erp.adapter() as adapter:
        posted = adapter.post_invoice(invoice)
        found = adapter.find_by_external_ref(invoice.ref)
    assert [(f.doc_id, f.external_ref) for f in found] == [(posted.doc_id, invoice.external_ref)]
    [document] = erp.documents(invoice.external_ref)
    assert document.doc_id == posted.doc_id
    assert (document.vendor_code, document.total) == (invoice.vendor_code, invoice.total)
    assert document.balanced, document
    assert len(erp.documents()) == 1


def test_credit_memo_is_posted_and_found(erp: ErpUnderTest) -> None:
    memo = erp.credit_memo()
    with erp.adapter() as adapter:
        posted = adapter.post_invoice(memo)
        found = adapter.find_by_external_ref(memo.ref)
    assert [f.doc_id for f in found] == [posted.doc_id]
    [document] = erp.documents(memo.external_ref)
    assert document.doc_id == posted.doc_id
    assert document.total == abs(memo.total) and document.balanced, document


def test_credit_memo_with_positive_amounts_is_posted(erp: ErpUnderTest) -> None:
    memo = erp.credit_memo(positive=True)
    with erp.adapter() as adapter:
        posted = adapter.post_invoice(memo)
    [document] = erp.documents(memo.external_ref)
    assert document.doc_id == posted.doc_id
    assert document.total == memo.total and document.balanced, document


def test_a_taxed_multi_line_invoice_with_long_text_posts_at_its_total(erp: ErpUnderTest) -> None:
    """Issue 16: tax booked by the shared rule, every text fitted, whatever the connector."""
    base = erp.invoice(total="100.01", tax="7.01")
    [line] = base.lines
    text = "Replacement of the loading dock doors,\r\nincluding labour and travel. " * 8
    invoice = replace(
        base,
        lines=(
            replace(line, amount=Decimal("62.00"), description=text),
            replace(line, amount=Decimal("31.00"), description="Freight\nand handling"),
        ),
    )
    with erp.adapter() as adapter:
        posted = adapter.post_invoice(invoice)
    [document] = erp.documents(invoice.external_ref)
    assert document.doc_id == posted.doc_id
    assert document.total == Decimal("100.01") and document.balanced, document


def test_the_same_invoice_planned_and_run_twice_posts_once(
    erp: ErpUnderTest, ledger: Ledger
) -> None:
    records = erp.seed(ledger)
    [planned] = erp.plan_records(ledger, records)
    [again] = erp.plan_records(ledger, records)
    assert again.id == planned.id
    mark = erp.mark()
    erp.post_pending(ledger)
    [second_run] = erp.post_pending(ledger)
    assert second_run.claimed == 0
    assert_posted_once(erp, ledger, 1)
    assert len(erp.writes(mark)) == 1


def test_expired_session_mid_batch_logs_in_again_and_posts_each_once(erp: ErpUnderTest) -> None:
    first, second = erp.invoice(), erp.invoice()
    mark = erp.mark()
    with erp.adapter() as adapter:
        one = adapter.post_invoice(first)
        erp.admin.arm_fault("expire_session", count=1, **erp.profile.write_match)
        two = adapter.post_invoice(second)
    assert erp.admin.faults() == []  # the write took the fault
    assert [d.doc_id for d in erp.documents(first.external_ref)] == [one.doc_id]
    assert [d.doc_id for d in erp.documents(second.external_ref)] == [two.doc_id]
    assert len(erp.documents()) == 2
    assert len(erp.logins(mark)) == 2


def test_error_after_commit_needs_a_lookup_which_finds_the_document(erp: ErpUnderTest) -> None:
    invoice = erp.invoice()
    erp.admin.arm_fault("error_after_commit", count=1, **erp.profile.write_match)
    with erp.adapter() as adapter:
        with pytest.raises(NeedsLookupError):
            adapter.post_invoice(invoice)
        found = adapter.find_by_external_ref(invoice.ref)
    [document] = erp.documents(invoice.external_ref)
    assert [f.doc_id for f in found] == [document.doc_id]
    assert len(erp.documents()) == 1


def test_error_after_commit_through_the_engine_posts_once(
    erp: ErpUnderTest, ledger: Ledger
) -> None:
    erp.plan(ledger)
    mark = erp.mark()
    erp.admin.arm_fault("error_after_commit", count=1, **erp.profile.write_match)
    erp.post_pending(ledger)
    assert erp.admin.faults() == []
    assert_posted_once(erp, ledger, 1)
    assert len(erp.writes(mark)) == 1  # looked up, never sent again


TRANSIENT: dict[str, tuple[str, dict[str, Any]]] = {
    # faults.py: `retry_after` seconds is sent as Retry-After; unset, no header.
    "429-retry-after": ("rate_limit", {"retry_after": 1}),
    "429-no-retry-after": ("rate_limit", {}),
    "503-before-commit": ("error_before_commit", {"status": 503}),
}


@pytest.mark.parametrize("fault", list(TRANSIENT.values()), ids=list(TRANSIENT))
def test_a_refused_write_is_posted_once_through_the_engine(
    erp: ErpUnderTest, ledger: Ledger, fault: tuple[str, dict[str, Any]]
) -> None:
    action, spec = fault
    erp.plan(ledger, 2)
    mark = erp.mark()
    erp.admin.arm_fault(action, count=1, **erp.profile.write_match, **spec)
    erp.post_pending(ledger)
    assert [r["outcome"] for r in erp.writes(mark)].count(action) == 1
    assert_posted_once(erp, ledger, 2)


# --- posting periods ---------------------------------------------------------------------------


def test_an_invoice_dated_in_last_month_lands_in_last_months_period(erp: ErpUnderTest) -> None:
    last_month = TODAY.replace(day=1) - timedelta(days=1)
    invoice = erp.invoice(day=last_month)
    with erp.adapter() as adapter:
        adapter.post_invoice(invoice)
    [document] = erp.documents(invoice.external_ref)
    assert document.period == f"{last_month:%Y-%m}" != f"{TODAY:%Y-%m}"


def test_a_closed_period_is_held_for_review_with_the_erps_reason_never_re_dated(
    erp: ErpUnderTest, ledger: Ledger
) -> None:
    period = f"{TODAY:%Y-%m}"
    erp.admin.set_period(period, "closed")
    [planned] = erp.plan(ledger, 1)
    erp.post_pending(ledger)
    [held] = ledger.postings(TENANT)
    assert held.state is PostingState.NEEDS_REVIEW, held
    assert held.reason and f"posting period {period} refused by the ERP" in held.reason
    assert held.last_response, "the ERP's answer is kept"
    assert erp.documents() == []
    # Once the period is open again, the operator's resolution posts it, in that same period.
    erp.admin.set_period(period, "open")
    ledger.resolve_posting(
        planned.id, PostingState.PLANNED, reason="period reopened", actor="conformance"
    )
    erp.post_pending(ledger)
    assert_posted_once(erp, ledger, 1)
    assert [d.period for d in erp.documents()] == [period]


def test_wrong_password_is_one_config_error_after_one_login(erp: ErpUnderTest) -> None:
    wrong = erp.encrypt("erp.password", erp.profile.wrong_password)
    mark = erp.mark()
    with erp.adapter(erp.tenant(password=wrong)) as adapter, pytest.raises(ConfigError):
        adapter.post_invoice(erp.invoice())
    assert len(erp.logins(mark)) == 1
    assert erp.writes(mark) == []
    assert erp.documents() == []


# --- master data -----------------------------------------------------------------------------


def test_master_data_lists_every_mapped_code(erp: ErpUnderTest) -> None:
    mapping = erp.profile.mapping
    with erp.adapter() as adapter:
        vendors = {v.code for v in adapter.read_vendors()}
        accounts = {a.code for a in adapter.read_gl_accounts()}
        dimensions = list(adapter.read_dimensions())
    assert set(mapping["vendors"].values()) - vendors == set()
    assert set(mapping["gl_accounts"].values()) - accounts == set()
    centers = {d.code for d in dimensions if d.type is DimensionType.COST_CENTER}
    assert set(mapping.get("cost_centers", {}).values()) - centers == set()


def _small_pages(erp: ErpUnderTest, size: int) -> tuple[ErpAdapter, bool]:
    """An adapter reading `size` rows a page, and whether pages could be made that small.

    The adapter's own `page_size` setting when its factory takes one; else the sandbox's
    page size setting (a `*page_size` key of `/_sandbox/config`) when it has one.
    """
    try:
        return erp.adapter(page_size=size), True
    except TypeError:  # the connector's client settings have no page size
        pass
    keys = [key for key in erp.admin.config() if key.endswith("page_size")]
    if keys:
        erp.admin.configure(**dict.fromkeys(keys, size))
    return erp.adapter(), bool(keys)


@pytest.mark.parametrize("listing", ["read_vendors", "read_gl_accounts"])
def test_small_pages_list_the_same_rows(erp: ErpUnderTest, listing: str) -> None:
    with erp.adapter() as adapter:
        whole = sorted(getattr(adapter, listing)(), key=lambda row: row.code)
    paging, small = _small_pages(erp, SMALL_PAGE)
    with paging:
        mark = erp.mark()
        paged = sorted(getattr(paging, listing)(), key=lambda row: row.code)
        pages = [r for r in erp.requests(mark) if not matches(erp.profile.login_match, r)]
    assert paged == whole
    assert len({row.code for row in paged}) == len(paged)
    if small:
        assert len(pages) >= math.ceil(len(whole) / SMALL_PAGE) > 1


def test_vendor_upsert_creates_then_updates(erp: ErpUnderTest) -> None:
    code = f"ZZ{next(_vendor_codes):05d}"
    change = VendorChange(tenant=TENANT, name="Conformance Supplies", code=code, currency="USD")
    renamed = VendorChange(tenant=TENANT, name="Conformance Supplies Two", code=code)
    with erp.adapter() as adapter:
        created = adapter.upsert_vendor(change)
        updated = adapter.upsert_vendor(renamed)
        listed = {v.code: v for v in adapter.read_vendors()}
    assert (created.code, created.created) == (code, True)
    assert (updated.code, updated.created) == (code, False)
    assert listed[code].name == renamed.name


# --- reconciliation --------------------------------------------------------------------------


def test_posted_documents_list_our_references_with_signed_totals(erp: ErpUnderTest) -> None:
    invoice, memo = erp.invoice(), erp.credit_memo()
    with erp.adapter() as adapter:
        adapter.post_invoice(invoice)
        adapter.post_invoice(memo)
        try:
            listed = list(adapter.read_posted_documents())
        except NotSupportedError as exc:
            pytest.skip(f"{erp.kind} cannot list posted documents: {exc}")
    counts = Counter(d.external_ref for d in listed)
    assert counts == {invoice.external_ref: 1, memo.external_ref: 1}
    totals = {d.external_ref: d.total for d in listed}
    if totals[invoice.external_ref] is not None:
        assert totals[invoice.external_ref] == invoice.total
    if totals[memo.external_ref] is not None:
        assert totals[memo.external_ref] == -abs(memo.total)
