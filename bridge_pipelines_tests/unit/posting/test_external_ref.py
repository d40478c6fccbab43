"""External references: deterministic, short, ERP-field-safe, and sensitive to every field."""

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge_pipelines.erps.base import DocumentType, PostableInvoiceLine
from bridge_pipelines.erps.external_ref import LENGTH, external_ref, is_external_ref
from bridge_pipelines.posting.payload_hash import payload_hash
from bridge_pipelines_tests.support.fake_erp import build_invoice

BASE = dict(
    tenant="acme",
    vendor="V-100",
    invoice_number="INV-1001",
    document_type=DocumentType.INVOICE,
    invoice_date=date(2025, 3, 1),
    currency="USD",
    gross=Decimal("1150.00"),
)


def test_the_same_invoice_always_gets_the_same_short_uppercase_reference() -> None:
    ref = external_ref(**BASE)
    assert ref == external_ref(**BASE)
    assert len(ref) == LENGTH == 20
    assert ref.startswith("BP") and ref.isalnum() and ref.upper() == ref
    assert is_external_ref(ref)
    assert ref == "BPBV7ZNXDH22JW52WNK4"  # pinned: a change would re-post every open invoice


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tenant", "globex"),
        ("vendor", "V-101"),
        ("invoice_number", "INV-1002"),
        ("document_type", DocumentType.CREDIT_MEMO),
        ("invoice_date", date(2025, 3, 2)),
        ("currency", "EUR"),
        ("gross", Decimal("1150.01")),
    ],
)
def test_every_identifying_field_changes_the_reference(field: str, value) -> None:
    assert external_ref(**{**BASE, field: value}) != external_ref(**BASE)


def test_equal_amounts_and_padded_text_give_the_same_reference() -> None:
    same = {**BASE, "gross": Decimal("1150.0"), "vendor": " V-100 ", "currency": "usd"}
    assert external_ref(**same) == external_ref(**BASE)


def test_floats_and_empty_fields_are_refused() -> None:
    with pytest.raises(TypeError):
        external_ref(**{**BASE, "gross": 1150.0})
    with pytest.raises(ValueError):
        external_ref(**{**BASE, "invoice_number": "  "})


@given(st.lists(st.text(min_size=1, max_size=12).filter(str.strip), min_size=2, max_size=40))
def test_distinct_invoice_numbers_get_distinct_valid_references(numbers: list[str]) -> None:
    unique = {n.strip() for n in numbers}
    refs = {external_ref(**{**BASE, "invoice_number": n}) for n in unique}
    assert len(refs) == len(unique)
    assert all(is_external_ref(r) for r in refs)


def test_payload_hash_follows_what_the_erp_would_receive(tmp_path) -> None:
    from bridge_pipelines.ledger.models import RecordRow

    record = RecordRow(
        id=7,
        tenant="acme",
        kind="invoice",
        identity="V-1|INV-1|Invoice",
        content_hash="h",
        state="accepted",
        file_id=1,
        rows=(2,),
        payload={
            "vendor": "V-1",
            "number": "INV-1",
            "date": "2025-03-01",
            "total": "110.00",
            "tax": "10.00",
            "currency": "USD",
            "file": "a.csv",
        },
        amount=Decimal("110.00"),
        currency="USD",
        partition_day=None,
        duplicate_of=None,
        reason=None,
        created_at=None,
    )
    invoice = build_invoice(record)
    assert payload_hash(invoice) == payload_hash(build_invoice(record))
    moved = replace(invoice, record_id=8, lineage=replace(invoice.lineage, file_name="b.csv"))
    assert payload_hash(moved) == payload_hash(invoice)  # where it came from is not sent
    line = invoice.lines[0]
    remapped = replace(invoice, lines=(PostableInvoiceLine("6100", line.amount, line.description),))
    assert payload_hash(remapped) != payload_hash(invoice)
