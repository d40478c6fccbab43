"""Mapping: what resolves, from where, and what is held with a reason (never a guess)."""

from pathlib import Path

import pytest

from bridge_pipelines.errors import TenantConfigError
from bridge_pipelines.mapping.resolve import resolve_invoice
from bridge_pipelines.mapping.tables import ErpCodes, build_tables, load_overrides
from bridge_pipelines.stampli.invoice_record import InvoiceRecord

ERP = ErpCodes(
    vendors=frozenset({"0000001", "0000002", "V-0003"}),
    gl_accounts=frozenset({"6100", "10-6200"}),
    cost_centers=frozenset({"EAST", "CC-HQ"}),
)


def invoice(vendor: str = "V-0001", gl: str = "6100", cc: str | None = "CC-HQ") -> dict:
    return {
        "vendor_id": vendor,
        "vendor_name": "Acme",
        "invoice_number": "INV-1",
        "document_type": "Invoice",
        "invoice_date": "2026-03-02",
        "currency": "USD",
        "invoice_total": "10.00",
        "tax_amount": "0.00",
        "lines": [
            {
                "line_number": 1,
                "line_description": "x",
                "gl_account": gl,
                "cost_center": cc,
                "line_amount": "10.00",
            }
        ],
    }


def test_override_then_stampli_hint_then_same_code(tmp_path: Path) -> None:
    path = tmp_path / "acme.yaml"
    path.write_text("vendors:\n  V-0001: '0000001'\ngl_accounts:\n  '6200': 10-6200\n")
    tables = build_tables(
        ERP,
        stampli_vendors=["V-0001", "V-0002", "V-0003"],
        stampli_vendor_hints={"V-0002": "0000002"},
        stampli_gl_accounts=["6100", "6200"],
        overrides=load_overrides(path),
    )
    assert tables.vendors["V-0001"].origin == "override"
    assert tables.vendors["V-0002"].origin == "stampli_erp_code"
    assert tables.vendors["V-0003"].origin == "same_code"
    assert tables.lookup("gl_accounts", "6200") == "10-6200"
    assert tables.problems == ()


def test_override_to_a_code_the_erp_lacks_is_a_problem_not_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "acme.yaml"
    path.write_text("vendors:\n  V-0001: '9999999'\n")
    tables = build_tables(ERP, stampli_vendors=["V-0001"], overrides=load_overrides(path))
    assert tables.lookup("vendors", "V-0001") is None
    assert any(
        "9999999" in p and "acme.yaml" in p and "missing or inactive" in p for p in tables.problems
    )


def test_unmapped_vendor_gl_and_cost_center_each_give_a_reason() -> None:
    tables = build_tables(ERP, stampli_vendors=["V-0001"])
    resolution = resolve_invoice(
        InvoiceRecord.from_payload(invoice(vendor="V-0001", gl="7000", cc="CC-NOWHERE")), tables
    )
    assert not resolution.ok
    text = " | ".join(resolution.reasons)
    assert "vendor V-0001" in text and "GL account 7000" in text and "CC-NOWHERE" in text


def test_fully_mapped_invoice_resolves_with_exact_amounts() -> None:
    tables = build_tables(
        ERP,
        stampli_vendors=["V-0003"],
        stampli_gl_accounts=["6100"],
        stampli_cost_centers=["CC-HQ"],
    )
    resolution = resolve_invoice(InvoiceRecord.from_payload(invoice(vendor="V-0003")), tables)
    assert resolution.ok and resolution.erp_vendor == "V-0003"
    assert resolution.lines[0].erp_gl_account == "6100"
    assert str(resolution.lines[0].amount) == "10.00"


def test_bad_mapping_file_names_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "acme.yaml"
    path.write_text("vendor:\n  V-1: x\ngl_accounts: [1, 2]\n")
    with pytest.raises(TenantConfigError) as info:
        load_overrides(path)
    text = str(info.value)
    assert "acme.yaml: vendor: unknown" in text and "acme.yaml: gl_accounts" in text
