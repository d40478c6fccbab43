"""Payments, vendors and GL accounts: good files flow, bad rows are located and refused."""

from datetime import UTC, date, datetime
from decimal import Decimal

import polars as pl
import pytest

from bridge_pipelines.errors import FileRejectedError
from bridge_pipelines.stampli.parse import ParseResult, parse_export
from bridge_pipelines.tenants.models import FileKind, FileTemplate
from bridge_pipelines_tests.support.stampli_builders import (
    GL_CSV,
    PAYMENTS_CSV,
    VENDORS_CSV,
    fixture,
    rows_of,
    to_csv,
    with_changes,
)


def parse(kind: FileKind, data: bytes, name: str, **kwargs: object) -> ParseResult:
    result = parse_export(kind, data, source=name, **kwargs)  # type: ignore[arg-type]
    assert result.rows_total == result.rows_accepted + result.rows_rejected
    return result


def test_good_payments() -> None:
    result = parse("payments", fixture(PAYMENTS_CSV), PAYMENTS_CSV)
    assert result.errors == []
    assert result.frame.schema["amount"] == pl.Decimal(18, 2)
    docs = result.documents
    assert [d.identity for d in docs] == [
        "PAY-501|STI-1001",
        "PAY-502|STI-1002",
        "PAY-503|STI-1003",
    ]
    assert docs[0].amount == Decimal("1140.00") and docs[0].currency == "USD"
    assert docs[0].document_day == date(2026, 11, 25)
    assert docs[1].payload["reference"] == 'Ref "SEPA" 118'


def test_bad_payments_are_located() -> None:
    rows = with_changes(rows_of(PAYMENTS_CSV), 0, Amount="1,140.00", Method="Cash")
    rows[1]["PaymentDate"] = "2026-11-31"
    result = parse("payments", to_csv(rows), PAYMENTS_CSV)
    assert result.rows_accepted == 1
    found = {(e.row, e.field) for e in result.errors}
    assert found == {(1, "Amount"), (1, "Method"), (2, "PaymentDate")}
    method = next(e for e in result.errors if e.field == "Method")
    assert "'Cash' is not one of ACH, Check, Wire, Card, Other" in method.message
    assert method.document == "payment PAY-501|STI-1001"


def test_duplicate_payment_rows_are_both_refused() -> None:
    rows = rows_of(PAYMENTS_CSV)
    rows.append(dict(rows[0], Amount="1.00"))
    result = parse("payments", to_csv(rows), PAYMENTS_CSV)
    assert result.rows_accepted == 2
    assert {e.row for e in result.errors} == {1, 4}
    assert all("appears more than once" in e.message for e in result.errors)


def test_good_vendors() -> None:
    result = parse("vendors", fixture(VENDORS_CSV), VENDORS_CSV)
    assert result.errors == []
    first = result.frame.row(0, named=True)
    assert first["modified_at"] == datetime(2026, 11, 21, 15, 0, tzinfo=UTC)
    assert first["address_line2"] == "Suite 5, 2nd floor"
    docs = result.documents
    assert docs[0].identity == "V-0042|2026-11-21T15:00:00+00:00"
    assert docs[1].payload["vendor_name"] == 'Müller & Söhne "Präzision" GmbH'
    assert docs[2].payload["erp_vendor_code"] == "OLD300"


def test_bad_vendors_are_located() -> None:
    rows = with_changes(rows_of(VENDORS_CSV), 0, Status="Deleted", Email="not-an-email")
    rows[2]["ModifiedAt"] = "yesterday"
    rows[1]["Country"] = "Germany"
    result = parse("vendors", to_csv(rows), VENDORS_CSV)
    assert result.rows_accepted == 0
    found = {(e.row, e.field) for e in result.errors}
    assert found == {(1, "Status"), (1, "Email"), (2, "Country"), (3, "ModifiedAt")}


def test_vendor_erp_code_column_is_optional() -> None:
    rows = rows_of(VENDORS_CSV)
    header = [c for c in rows[0] if c != "ErpVendorCode"]
    result = parse("vendors", to_csv(rows, header), VENDORS_CSV)
    assert result.errors == [] and result.frame.get_column("erp_vendor_code").null_count() == 3


def test_good_gl_accounts() -> None:
    result = parse("gl_accounts", fixture(GL_CSV), GL_CSV)
    assert result.errors == []
    assert result.frame.get_column("active").to_list() == [True, True, False, True]
    assert [d.identity for d in result.documents] == ["6100", "6200", "1200", "2000"]


def test_bad_gl_accounts_are_located() -> None:
    rows = with_changes(rows_of(GL_CSV), 1, AccountType="Cost", Active="yes")
    rows[3]["AccountCode"] = ""
    result = parse("gl_accounts", to_csv(rows), GL_CSV)
    assert result.rows_accepted == 2
    messages = {(e.row, e.field): e.message for e in result.errors}
    assert "'yes' is not true or false" in messages[(2, "Active")]
    assert "'Cost' is not one of" in messages[(2, "AccountType")]
    assert "required" in messages[(4, "AccountCode")]
    assert str(next(e for e in result.errors if e.row == 2)).startswith(f"{GL_CSV} row 2, field")


def test_gl_template_rename() -> None:
    rows = [
        {("Code" if k == "AccountCode" else k): v for k, v in r.items()} for r in rows_of(GL_CSV)
    ]
    rows[0]["Code"] = ""
    template = FileTemplate(columns={"Code": "AccountCode"})
    result = parse("gl_accounts", to_csv(rows), GL_CSV, template=template)
    assert [e.field for e in result.errors] == ["Code"]
    # Without the template, the tenant's column is unknown (and AccountCode missing).
    with pytest.raises(FileRejectedError, match=r"unknown column.*'Code'"):
        parse_export("gl_accounts", to_csv(rows), source=GL_CSV)


def test_gl_unknown_column() -> None:
    rows = [dict(r, Parent="x") for r in rows_of(GL_CSV)]
    with pytest.raises(FileRejectedError, match=r"gl_accounts_20261121_141500.csv: unknown column"):
        parse_export("gl_accounts", to_csv(rows), source=GL_CSV)
