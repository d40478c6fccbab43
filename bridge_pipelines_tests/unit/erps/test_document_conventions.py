"""Issue 16: one sign convention, one tax booking and one text fitting for every connector."""

import hashlib
import json
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge_pipelines.erps.base import (
    DocumentType,
    PostableInvoice,
    PostableInvoiceLine,
    SourceLineage,
    allocate,
)
from bridge_pipelines.erps.values import fit_text
from bridge_pipelines.errors import BadInputError
from bridge_pipelines.posting.payload_hash import payload_hash

D = Decimal


def make(
    *amounts: str,
    tax: str = "0.00",
    kind: DocumentType = DocumentType.INVOICE,
) -> PostableInvoice:
    lines = tuple(
        PostableInvoiceLine(f"60{n}", D(a), f"line {n}", {"cost_center": f"CC{n}"})
        for n, a in enumerate(amounts)
    )
    total = sum((line.amount for line in lines), D(0)) + D(tax)
    return PostableInvoice(
        tenant="t",
        external_ref="BP0123456789ABCDEFGH",
        record_id=1,
        vendor_code="V1",
        invoice_number="INV-1",
        document_type=kind,
        invoice_date=date(2026, 5, 1),
        due_date=None,
        posting_date=date(2026, 5, 1),
        currency="USD",
        total=total,
        tax=D(tax),
        lines=lines,
        lineage=SourceLineage("f.csv", (2,)),
    )


# --- point 4: one sign convention -----------------------------------------------------------


def test_a_credit_memo_signed_as_stampli_exports_it_holds_positive_amounts() -> None:
    memo = make("-100.00", "-15.00", tax="-8.05", kind=DocumentType.CREDIT_MEMO)
    assert memo.total == D("123.05") and memo.tax == D("8.05")
    assert [line.amount for line in memo.lines] == [D("100.00"), D("15.00")]


def test_a_credit_memo_given_positive_is_the_same_document() -> None:
    negative = make("-100.00", tax="-8.00", kind=DocumentType.CREDIT_MEMO)
    positive = make("100.00", tax="8.00", kind=DocumentType.CREDIT_MEMO)
    assert negative == positive


def test_a_correction_line_inside_a_credit_memo_keeps_its_direction() -> None:
    memo = make("-100.00", "10.00", kind=DocumentType.CREDIT_MEMO)
    assert memo.total == D("90.00")
    assert [line.amount for line in memo.lines] == [D("100.00"), D("-10.00")]


def test_a_negative_invoice_is_refused_not_posted_in_the_wrong_direction() -> None:
    with pytest.raises(BadInputError, match="credit memo"):
        make("-100.00", kind=DocumentType.INVOICE)


def test_normalising_is_idempotent_under_replace() -> None:
    memo = make("-100.00", tax="-5.00", kind=DocumentType.CREDIT_MEMO)
    assert replace(memo, record_id=7).total == D("105.00")


def _hash_before_issue_16(
    invoice: PostableInvoice, sign: Decimal, tax_text: str | None = None
) -> str:
    """payload_hash as it was, over the amounts the posting run passed (Stampli's signs)."""
    document = {
        "tenant": invoice.tenant,
        "external_ref": invoice.external_ref,
        "vendor_code": invoice.vendor_code,
        "invoice_number": invoice.invoice_number,
        "document_type": invoice.document_type.value,
        "invoice_date": invoice.invoice_date.isoformat(),
        "due_date": None,
        "posting_date": invoice.posting_date.isoformat(),
        "currency": invoice.currency,
        "total": str(sign * invoice.total),
        "tax": tax_text or str(sign * invoice.tax),
        "lines": [
            {
                "ledger_code": line.ledger_code,
                "amount": str(sign * line.amount),
                "description": line.description,
                "dimensions": dict(sorted(line.dimensions.items())),
                "po_number": None,
            }
            for line in invoice.lines
        ],
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_planned_postings_keep_their_payload_hash_across_the_sign_change() -> None:
    memo = make("-100.00", tax="-5.00", kind=DocumentType.CREDIT_MEMO)
    assert payload_hash(memo) == _hash_before_issue_16(memo, D(-1))
    invoice = make("100.00", tax="5.00")
    assert payload_hash(invoice) == _hash_before_issue_16(invoice, D(1))


def test_a_zero_tax_credit_memo_hashes_its_tax_as_before() -> None:
    memo = make("-100.00", kind=DocumentType.CREDIT_MEMO)  # Stampli's tax "0.00", not "-0.00"
    assert payload_hash(memo) == _hash_before_issue_16(memo, D(-1), tax_text="0.00")


# --- point 3: tax booked the same way everywhere ---------------------------------------------


def test_tax_is_expensed_with_the_lines_in_proportion_by_default() -> None:
    inv = make("100.00", "300.00", tax="8.00")
    lines = inv.expense_lines()
    assert [line.amount for line in lines] == [D("102.00"), D("306.00")]
    assert [line.ledger_code for line in lines] == ["600", "601"]  # no extra line
    assert lines[0].dimensions == {"cost_center": "CC0"}


def test_expensed_tax_adds_up_to_the_total_to_the_cent() -> None:
    inv = make("10.00", "10.00", "10.00", tax="1.00")
    lines = inv.expense_lines()
    assert [line.amount for line in lines] == [D("10.34"), D("10.33"), D("10.33")]
    assert sum(line.amount for line in lines) == inv.total


def test_with_a_tax_account_the_tax_is_one_explained_line() -> None:
    lines = make("100.00", tax="8.00").expense_lines("2300")
    assert [(ln.ledger_code, ln.amount, ln.description) for ln in lines] == [
        ("600", D("100.00"), "line 0"),
        ("2300", D("8.00"), "Sales tax"),
    ]
    assert lines[-1].dimensions == {}


def test_no_tax_leaves_the_lines_alone() -> None:
    inv = make("100.00", "5.00")
    assert inv.expense_lines() == inv.lines and inv.expense_lines("2300") == inv.lines


def test_a_discount_line_takes_its_negative_share() -> None:
    assert allocate(D("9.00"), [D("100.00"), D("-10.00")]) == [D("10.00"), D("-1.00")]


def test_lines_that_cancel_out_put_the_tax_on_the_largest() -> None:
    assert allocate(D("5.00"), [D("10.00"), D("-20.00"), D("10.00")]) == [
        D(0),
        D("5.00"),
        D(0),
    ]


@given(
    st.decimals(min_value=0, max_value=10_000, places=2),
    st.lists(st.decimals(min_value="0.01", max_value=100_000, places=2), min_size=1, max_size=8),
)
def test_allocation_always_adds_up_exactly(tax: Decimal, weights: list[Decimal]) -> None:
    parts = allocate(tax, weights)
    assert sum(parts, D(0)) == tax
    assert all(p >= 0 and p.as_tuple().exponent >= -2 for p in parts)


# --- point 5: free text fitted the same way --------------------------------------------------


def test_newlines_and_tabs_fold_to_single_spaces() -> None:
    assert fit_text("Office chairs\r\n  for the\tnew floor\n", 100) == (
        "Office chairs for the new floor"
    )


def test_long_text_is_cut_on_a_word_boundary() -> None:
    assert fit_text("Office chairs for the new floor", 20) == "Office chairs for"
    assert fit_text("Office chairs for the new floor", 17) == "Office chairs for"


def test_a_single_word_longer_than_the_limit_is_cut_at_the_limit() -> None:
    assert fit_text("Supercalifragilistic", 10) == "Supercalif"


def test_text_that_fits_and_no_text() -> None:
    assert fit_text("Steel", 5) == "Steel" and fit_text(None, 5) == "" and fit_text("", 5) == ""


@given(st.text(), st.integers(min_value=1, max_value=300))
def test_fitted_text_is_one_line_within_the_limit(text: str, limit: int) -> None:
    fitted = fit_text(text, limit)
    assert len(fitted) <= limit and "\n" not in fitted and "\r" not in fitted
    assert fitted == fitted.strip()
