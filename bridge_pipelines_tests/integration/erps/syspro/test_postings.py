"""Posting through the adapter: refusals keep SYSPRO's message; uncertain answers are looked up."""

import time
from datetime import date

import pytest

from bridge_pipelines.erps.base import DocumentType
from bridge_pipelines.errors import BadInputError, NeedsLookupError, RejectedByErpError
from bridge_pipelines_tests.integration.erps.syspro.helpers import (
    adapter_for,
    calls,
    documents,
    invoice,
)

POST = "*/Transaction/Post"


def test_posted_invoice_carries_amounts_lines_and_reference(syspro_sandbox):
    with adapter_for(syspro_sandbox) as adapter:
        ref = adapter.post_invoice(invoice(ref="BRG-0001"))
        found = adapter.find_by_external_ref(invoice(ref="BRG-0001").ref)
    assert ref.doc_id == "SUP00001/INV-1001" and ref.complete
    assert [f.doc_id for f in found] == [ref.doc_id]
    [doc] = syspro_sandbox.admin.documents()
    assert doc["Reference"] == "BRG-0001" and doc["OrigInvValue"] == "1150.00"
    assert [(line["ledger_code"], line["debit"], line["credit"]) for line in doc["lines"]] == [
        ("10-6100", "1150.00", "0.00"),  # tax expensed with the line (issue 16)
        ("10-2000", "0.00", "1150.00"),
    ]
    assert doc["lines"][0]["analysis"] == [{"AnalysisCode1": "CC-EAST", "EntryAmount": "1150.00"}]


def test_long_external_ref_is_written_hashed_and_found_again(syspro_sandbox):
    long_ref = "f" * 64
    with adapter_for(syspro_sandbox) as adapter:
        adapter.post_invoice(invoice(ref=long_ref))
        assert len(adapter.find_by_external_ref(invoice(ref=long_ref).ref)) == 1
        assert adapter.find_by_external_ref(invoice(ref="e" * 64).ref) == []
    [doc] = syspro_sandbox.admin.documents()
    assert len(doc["Reference"]) == 30 and doc["Reference"].startswith("BRG")


def test_credit_memo_posts_with_transaction_code_c(syspro_sandbox):
    with adapter_for(syspro_sandbox) as adapter:
        # Stampli's credit memos are negative; SYSPRO gets positive values and code C.
        adapter.post_invoice(
            invoice("CM-1", total="-1150.00", tax="-150.00", document_type=DocumentType.CREDIT_MEMO)
        )
    [doc] = syspro_sandbox.admin.documents()
    assert doc["TransactionCode"] == "C" and doc["OrigInvValue"] == "-1150.00"


def test_markup_in_values_stays_text(syspro_sandbox):
    with adapter_for(syspro_sandbox) as adapter:
        adapter.post_invoice(invoice("A&B</Invoice>"))
    assert documents(syspro_sandbox) == [("SUP00001", "A&B</Invoice>")]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"vendor": "SUP09999"}, "Supplier 'SUP09999' not found"),
        ({"ledger": "10-9999"}, "Ledger code '10-9999' not found"),
        ({"cost_center": "CC-NOPE"}, "Analysis code 'CC-NOPE' not found"),
    ],
)
def test_business_error_is_rejected_with_syspros_message(syspro_sandbox, bad, message):
    with adapter_for(syspro_sandbox) as adapter, pytest.raises(RejectedByErpError) as caught:
        adapter.post_invoice(invoice(**bad))
    assert message in str(caught.value)
    assert message in caught.value.response and "<ErrorDescription>" in caught.value.response
    assert documents(syspro_sandbox) == []


def test_closed_period_is_rejected(syspro_sandbox):
    today = date.today()
    syspro_sandbox.admin.configure(closed_periods=[f"{today.year:04d}-{today.month:02d}"])
    with adapter_for(syspro_sandbox) as adapter, pytest.raises(RejectedByErpError) as caught:
        adapter.post_invoice(invoice())
    assert "is closed" in str(caught.value)


def test_duplicate_invoice_number_is_rejected_not_posted_twice(syspro_sandbox):
    with adapter_for(syspro_sandbox) as adapter:
        adapter.post_invoice(invoice(ref="R1"))
        # Same supplier and number, another reference: not ours, so the lookup says none...
        assert adapter.find_by_external_ref(invoice(ref="R2").ref) == []
        # ...and SYSPRO refuses the second invoice instead of posting it twice.
        with pytest.raises(RejectedByErpError) as caught:
            adapter.post_invoice(invoice(ref="R2"))
    assert "already exists" in str(caught.value)
    assert len(documents(syspro_sandbox)) == 1


def test_validation_fault_is_rejected(syspro_sandbox):
    syspro_sandbox.admin.arm_fault("validation", path=POST, message="Amount mismatch")
    with adapter_for(syspro_sandbox) as adapter, pytest.raises(RejectedByErpError) as caught:
        adapter.post_invoice(invoice())
    assert "Amount mismatch" in str(caught.value)


def test_invoice_number_too_long_for_syspro_is_bad_input_and_not_sent(syspro_sandbox):
    with adapter_for(syspro_sandbox) as adapter, pytest.raises(BadInputError):
        adapter.post_invoice(invoice("X" * 21))
    assert calls(syspro_sandbox, "/Transaction/Post") == []


def test_sub_cent_amount_is_bad_input(syspro_sandbox):
    with adapter_for(syspro_sandbox) as adapter, pytest.raises(BadInputError):
        adapter.post_invoice(invoice(total="100.005", tax="0.005"))


@pytest.mark.parametrize(
    ("action", "spec"),
    [
        ("error_after_commit", {"status": 500}),
        ("error_after_commit", {"status": 503}),
        ("reset_after_commit", {}),
        ("hang_after_commit", {"seconds": 30}),
        ("garbage", {}),
    ],
)
def test_uncertain_answer_needs_lookup_and_lookup_finds_exactly_one(syspro_sandbox, action, spec):
    syspro_sandbox.admin.arm_fault(action, path=POST, **spec)
    started = time.monotonic()
    with adapter_for(syspro_sandbox) as adapter:
        with pytest.raises(NeedsLookupError):
            adapter.post_invoice(invoice())
        assert time.monotonic() - started < 5  # the deadline, not the 30 s hang
        found = adapter.find_by_external_ref(invoice().ref)
    assert [f.doc_id for f in found] == ["SUP00001/INV-1001"]
    assert len(calls(syspro_sandbox, "/Transaction/Post")) == 1  # never resent blindly
    assert documents(syspro_sandbox) == [("SUP00001", "INV-1001")]


def test_error_before_commit_lookup_misses_and_the_resend_posts_once(syspro_sandbox):
    syspro_sandbox.admin.arm_fault("error_before_commit", path=POST, status=502)
    with adapter_for(syspro_sandbox) as adapter:
        with pytest.raises(NeedsLookupError):
            adapter.post_invoice(invoice())
        assert adapter.find_by_external_ref(invoice().ref) == []
        adapter.post_invoice(invoice())
        assert len(adapter.find_by_external_ref(invoice().ref)) == 1
    assert documents(syspro_sandbox) == [("SUP00001", "INV-1001")]


def test_expired_session_on_a_post_looks_up_then_sends_once(syspro_sandbox):
    syspro_sandbox.admin.arm_fault("expire_session", path=POST)
    with adapter_for(syspro_sandbox) as adapter:
        adapter.post_invoice(invoice())
    assert len(calls(syspro_sandbox, "/Logon")) == 2
    assert len(calls(syspro_sandbox, "/Query/Query")) == 1  # the lookup before the resend
    assert documents(syspro_sandbox) == [("SUP00001", "INV-1001")]


@pytest.mark.parametrize("retry_after", [None, 1])
def test_rate_limit_backs_off_and_posts_once(syspro_sandbox, retry_after):
    syspro_sandbox.admin.arm_fault("rate_limit", path=POST, count=2, retry_after=retry_after)
    started = time.monotonic()
    with adapter_for(syspro_sandbox) as adapter:
        adapter.post_invoice(invoice())
    elapsed = time.monotonic() - started
    outcomes = [r["outcome"] for r in calls(syspro_sandbox, "/Transaction/Post")]
    assert outcomes == ["rate_limit", "rate_limit", "ok"]
    if retry_after:
        assert elapsed >= 2 * retry_after  # Retry-After honoured
    assert documents(syspro_sandbox) == [("SUP00001", "INV-1001")]


def test_configured_rate_limit_is_ridden_out_by_backoff(syspro_sandbox):
    syspro_sandbox.admin.configure(requests_per_minute=600, burst=2, rate_limit_retry_after=False)
    with adapter_for(syspro_sandbox) as adapter:
        for n in range(6):
            adapter.post_invoice(invoice(f"INV-{n}"))
    assert len(documents(syspro_sandbox)) == 6


def test_paced_client_stays_under_the_limit_without_refusals(syspro_sandbox):
    syspro_sandbox.admin.configure(requests_per_minute=1200, burst=2)
    with adapter_for(syspro_sandbox, max_requests_per_minute=1200) as adapter:
        for n in range(8):
            adapter.post_invoice(invoice(f"INV-{n}"))
    outcomes = [r["outcome"] for r in syspro_sandbox.admin.requests()]
    assert outcomes.count("rate_limited") == 0 and len(outcomes) == 10
    assert len(documents(syspro_sandbox)) == 8


def test_windows_1252_answer_is_decoded(syspro_sandbox):
    with adapter_for(syspro_sandbox) as adapter, pytest.raises(RejectedByErpError) as caught:
        adapter.post_invoice(invoice(vendor="SUPÉ€"))
    assert "Supplier 'SUPÉ€' not found" in str(caught.value)
