"""The simulator's exports follow the default templates of stampli-files.md exactly."""

import csv
import io
import re
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from bridge_pipelines.sandbox.demo_company import DEMO_COMPANY
from bridge_pipelines.sandbox.stampli_sim import StampliSimulator

# Copied from stampli-files.md, not imported from the simulator: the test must be able to fail.
INVOICE_HEADER = [
    "InvoiceId", "InvoiceNumber", "VendorId", "VendorName", "InvoiceDate", "DueDate",
    "PostingDate", "Currency", "InvoiceTotal", "TaxAmount", "PONumber", "LineNumber",
    "LineDescription", "GLAccount", "CostCenter", "LineAmount", "ApprovedBy", "ApprovedAt",
    "DocumentType",
]  # fmt: skip
PAYMENT_HEADER = [
    "PaymentId", "InvoiceId", "InvoiceNumber", "VendorId", "PaymentDate", "Amount", "Currency",
    "Method", "Reference",
]  # fmt: skip
VENDOR_HEADER = [
    "VendorId", "VendorName", "TaxId", "Email", "Phone", "AddressLine1", "AddressLine2", "City",
    "Region", "PostalCode", "Country", "Currency", "PaymentTerms", "Status", "ErpVendorCode",
    "ModifiedAt",
]  # fmt: skip
GL_HEADER = ["AccountCode", "AccountName", "AccountType", "Active"]
NAME_RE = re.compile(
    r"^(approved_invoices|payments|vendors|gl_accounts)_\d{8}_\d{6}(_\d+)?\.(csv|xml)$"
)
MONEY_RE = re.compile(r"^-?\d+\.\d{2}$")


def _rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    text = path.read_bytes().decode("utf-8-sig")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header = next(reader)
    return header, [dict(zip(header, row, strict=True)) for row in reader]


def _check_invoice(lines: list[dict[str, str]]) -> bool:
    """The template's rules; returns whether lines + tax == total."""
    first = lines[0]
    assert len({line["Currency"] for line in lines}) == 1
    assert len({(line["InvoiceTotal"], line["TaxAmount"]) for line in lines}) == 1
    numbers = [int(line["LineNumber"]) for line in lines]
    assert len(numbers) == len(set(numbers)) and min(numbers) >= 1
    for line in lines:
        for column in ("InvoiceTotal", "TaxAmount", "LineAmount"):
            assert MONEY_RE.match(line[column]), line[column]
    invoice_date = date.fromisoformat(first["InvoiceDate"])
    assert date.fromisoformat(first["DueDate"]) >= invoice_date
    if first["PostingDate"]:
        date.fromisoformat(first["PostingDate"])
    approved = datetime.fromisoformat(first["ApprovedAt"])
    assert approved.tzinfo is not None and re.search(r"[+-]\d{2}:\d{2}$", first["ApprovedAt"])
    assert first["DocumentType"] in ("Invoice", "CreditMemo")
    assert 1 <= len(first["InvoiceNumber"]) <= 30
    total = Decimal(first["InvoiceTotal"])
    if first["DocumentType"] == "CreditMemo":
        assert total < 0 and all(Decimal(line["LineAmount"]) < 0 for line in lines)
    net = sum((Decimal(line["LineAmount"]) for line in lines), Decimal(0))
    return net + Decimal(first["TaxAmount"]) == total


def _by_invoice(rows: list[dict[str, str]]) -> dict[str, list[dict[str, str]]]:
    grouped: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        grouped[row["InvoiceId"]].append(row)
    return grouped


def test_invoice_csv_follows_the_template(tmp_path: Path) -> None:
    sim = StampliSimulator(tmp_path, seed=7)
    path = sim.write_invoices(40, lines=(1, 5))
    assert path.parent == tmp_path / "outbound" / "invoices"
    assert NAME_RE.match(path.name)
    header, rows = _rows(path)
    assert header == INVOICE_HEADER
    invoices = _by_invoice(rows)
    assert len(invoices) == 40
    assert all(_check_invoice(lines) for lines in invoices.values())
    vendors = {v.id: v for v in DEMO_COMPANY.vendors}
    accounts = {a.code for a in DEMO_COMPANY.gl_accounts}
    for row in rows:
        assert vendors[row["VendorId"]].name == row["VendorName"]
        assert row["GLAccount"] in accounts
        assert row["CostCenter"] in (*DEMO_COMPANY.cost_centers, "")


def test_bad_invoices_are_the_only_ones_not_adding_up(tmp_path: Path) -> None:
    sim = StampliSimulator(tmp_path, seed=3)
    _, rows = _rows(sim.write_invoices(10, bad_invoices=2))
    results = [_check_invoice(lines) for lines in _by_invoice(rows).values()]
    assert results.count(False) == 2


def test_messy_files_still_parse_as_rfc4180(tmp_path: Path) -> None:
    sim = StampliSimulator(tmp_path, seed=11)
    paths = [sim.write_invoices(6) for _ in range(12)]
    raw = b"".join(p.read_bytes() for p in paths)
    assert any(p.read_bytes().startswith(b"\xef\xbb\xbf") for p in paths)
    assert any(b"\r\n" in p.read_bytes() for p in paths)
    assert any(not p.read_bytes().startswith(b"\xef\xbb\xbf") for p in paths)
    assert b'""' in raw  # an escaped quote inside a field
    descriptions = [row["LineDescription"] for p in paths for row in _rows(p)[1]]
    assert any("\n" in d for d in descriptions)
    assert any("," in d for d in descriptions)
    assert any(not d.isascii() for d in descriptions)
    assert all(_rows(p)[0] == INVOICE_HEADER for p in paths)


def test_invoice_xml_follows_the_template(tmp_path: Path) -> None:
    sim = StampliSimulator(tmp_path, seed=5)
    path = sim.write_invoices(8, fmt="xml", bad_invoices=1)
    assert path.suffix == ".xml" and NAME_RE.match(path.name)
    assert b"<!DOCTYPE" not in path.read_bytes()
    root = ET.fromstring(path.read_bytes())
    assert root.tag == "StampliExport" and root.get("kind") == "ApprovedInvoices"
    adds_up = []
    for invoice in root.findall("Invoice"):
        assert invoice.get("type") in ("Invoice", "CreditMemo")
        assert invoice.find("Vendor").get("id").startswith("V-")
        date.fromisoformat(invoice.findtext("InvoiceDate"))
        amounts = [Decimal(line.findtext("Amount")) for line in invoice.iter("Line")]
        numbers = [line.get("number") for line in invoice.iter("Line")]
        assert len(numbers) == len(set(numbers))
        total = Decimal(invoice.findtext("Total"))
        adds_up.append(sum(amounts, Decimal(0)) + Decimal(invoice.findtext("Tax")) == total)
        assert datetime.fromisoformat(invoice.find("Approval").get("at")).tzinfo is not None
    assert adds_up.count(False) == 1


def test_master_data_and_payments_follow_the_templates(tmp_path: Path) -> None:
    sim = StampliSimulator(tmp_path, seed=9)
    header, vendors = _rows(sim.write_vendors())
    assert header == VENDOR_HEADER
    assert [v["VendorId"] for v in vendors] == [v.id for v in DEMO_COMPANY.vendors]
    assert {v["Status"] for v in vendors} == {"Active"}
    header, accounts = _rows(sim.write_gl_accounts())
    assert header == GL_HEADER
    assert {a["Active"] for a in accounts} <= {"true", "false"}
    assert {a["AccountType"] for a in accounts} <= {
        "Expense", "Asset", "Liability", "Revenue", "Equity"
    }  # fmt: skip

    _, invoice_rows = _rows(sim.write_invoices(6, messy=False))
    header, payments = _rows(sim.write_payments())
    assert header == PAYMENT_HEADER
    issued = {r["InvoiceId"]: r for r in invoice_rows}
    assert payments and {p["InvoiceId"] for p in payments} <= set(issued)
    for payment in payments:
        invoice = issued[payment["InvoiceId"]]
        assert payment["Currency"] == invoice["Currency"]
        assert MONEY_RE.match(payment["Amount"].lstrip("-"))
        # A credit memo is taken negative, as it was exported; never more than its total.
        assert (Decimal(payment["Amount"]) < 0) == (invoice["DocumentType"] == "CreditMemo")
        assert abs(Decimal(payment["Amount"])) <= abs(Decimal(invoice["InvoiceTotal"]))
        assert payment["Method"] in ("ACH", "Check", "Wire", "Card", "Other")


def test_payments_never_pay_more_than_is_open_and_group_a_vendors_invoices(
    tmp_path: Path,
) -> None:
    sim = StampliSimulator(tmp_path, seed=4)
    _, invoice_rows = _rows(sim.write_invoices(30, messy=False, bad_invoices=2))
    totals = {r["InvoiceId"]: Decimal(r["InvoiceTotal"]) for r in invoice_rows}
    paid: dict[str, Decimal] = {}
    grouped: dict[str, set[str]] = {}
    for _ in range(4):  # partial payments are finished by later ones
        _, rows = _rows(sim.write_payments(messy=False))
        for row in rows:
            paid[row["InvoiceId"]] = paid.get(row["InvoiceId"], Decimal(0)) + Decimal(row["Amount"])
            grouped.setdefault(row["PaymentId"], set()).add(row["InvoiceId"])
    for invoice_id, amount in paid.items():
        assert abs(amount) <= abs(totals[invoice_id]), invoice_id
    assert any(len(invoices) > 1 for invoices in grouped.values())


def test_redelivery_is_the_same_bytes_under_a_new_name(tmp_path: Path) -> None:
    sim = StampliSimulator(tmp_path, seed=1)
    first = sim.write_invoices(3)
    again = sim.redeliver(first)
    assert again != first and again.parent == first.parent
    assert NAME_RE.match(again.name)
    assert again.read_bytes() == first.read_bytes()


def test_growing_file_is_written_in_pieces(tmp_path: Path) -> None:
    sim = StampliSimulator(tmp_path, seed=1)
    path = sim.write_growing("invoices", seconds=0.2, chunks=4)
    header, rows = _rows(path)
    assert header == INVOICE_HEADER and rows


@pytest.mark.parametrize("seed", [1, 2])
def test_tick_writes_valid_exports(tmp_path: Path, seed: int) -> None:
    sim = StampliSimulator(tmp_path, seed=seed)
    written = [p for _ in range(5) for p in sim.tick()]
    sim.wait()
    assert written and all(NAME_RE.match(p.name) for p in written)
    assert len(set(written)) == len(written)
    for path in written:
        if path.name.startswith("approved_invoices") and path.suffix == ".csv":
            assert _rows(path)[0] == INVOICE_HEADER


def test_same_seed_same_content(tmp_path: Path) -> None:
    a = StampliSimulator(tmp_path / "a", seed=42).write_vendors()
    b = StampliSimulator(tmp_path / "b", seed=42).write_vendors()
    assert _rows(a)[1][0]["VendorName"] == _rows(b)[1][0]["VendorName"]
