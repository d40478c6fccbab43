"""APSTIN (PostApInvoice): posting, SYSPRO's numbers, and every refusal inside the XML."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from bridge_pipelines_tests.contract.syspro import payloads
from bridge_pipelines_tests.contract.syspro.xml import errors, first, parse

pytestmark = pytest.mark.contract


def _post(sandbox, xml_in: str, **parameters: str):
    user_id = sandbox.logon()
    return sandbox.post(user_id, xml_in, xml_parameters=payloads.post_parameters(**parameters))


def _refused(sandbox, xml_in: str, **parameters: str) -> list[str]:
    response = _post(sandbox, xml_in, **parameters)
    assert response.status_code == 200
    assert first(response.content, "ItemsInvalid") == "000001"
    assert sandbox.admin.documents() == []
    return errors(response.content)


def test_syspro_apstin_posts_invoice_with_journal_numbers(syspro_sandbox):
    response = _post(syspro_sandbox, payloads.ap_invoice())
    assert response.status_code == 200
    root = parse(response.content)
    assert root.tag == "postapinvoice"
    now = datetime.now(UTC)
    key = root.find("Item/Transaction/Key")
    assert key is not None
    assert key.findtext("TrnYear") == str(now.year)
    assert key.findtext("TrnMonth") == str(now.month)
    assert key.findtext("Journal") == "1" and key.findtext("EntryNumber") == "1"
    assert root.findtext("Item/Transaction/Invoice") == "INV-1001"
    assert root.findtext("StatusOfItems/GlJournal/GlJournal") == "1"
    assert root.findtext("StatusOfItems/ItemsProcessed") == "000001"
    assert root.find("Item/ErrorDescription") is None
    second = _post(syspro_sandbox, payloads.ap_invoice(invoice="INV-1002"))
    assert first(second.content, "Journal") == "2"
    [doc, _] = syspro_sandbox.admin.documents()
    assert doc["Supplier"] == "SUP00001" and doc["Invoice"] == "INV-1001"
    assert doc["document_number"] == f"{now.year:04d}-{now.month:02d}/1/1"
    assert doc["OrigInvValue"] == "1150.00" and doc["Reference"] == "BRG-REF-0001"


def test_syspro_apstin_journal_balances_debits_and_credits(syspro_sandbox):
    xml_in = payloads.ap_invoice(
        value="1234.56",
        tax="34.56",
        lines=(("10-6100", "1000.00", "CC-EAST"), ("10-6200", "200.00", None)),
    )
    _post(syspro_sandbox, xml_in)
    [doc] = syspro_sandbox.admin.documents()
    debit = sum(Decimal(line["debit"]) for line in doc["lines"])
    credit = sum(Decimal(line["credit"]) for line in doc["lines"])
    assert debit == credit == Decimal("1234.56")
    by_code = {line["ledger_code"]: line for line in doc["lines"]}
    assert by_code["10-2000"]["credit"] == "1234.56"  # AP control
    assert by_code["10-2310"]["debit"] == "34.56"  # tax control
    assert by_code["10-6100"]["analysis"] == [
        {"AnalysisCode1": "CC-EAST", "EntryAmount": "1000.00"}
    ]


def test_syspro_apstin_unknown_supplier_is_refused_in_xml(syspro_sandbox):
    assert _refused(syspro_sandbox, payloads.ap_invoice(supplier="SUP00012")) == [
        "Supplier 'SUP00012' not found"
    ]


def test_syspro_apstin_unknown_ledger_code_is_refused(syspro_sandbox):
    xml_in = payloads.ap_invoice(value="1000.00", tax=None, lines=(("10-6950", "1000.00", None),))
    assert _refused(syspro_sandbox, xml_in) == ["Ledger code '10-6950' not found"]


def test_syspro_apstin_ledger_code_on_hold_is_refused(syspro_sandbox):
    xml_in = payloads.ap_invoice(value="1000.00", tax=None, lines=(("10-6900", "1000.00", None),))
    assert _refused(syspro_sandbox, xml_in) == ["Ledger code '10-6900' is on hold"]


def test_syspro_apstin_unknown_analysis_code_is_refused(syspro_sandbox):
    xml_in = payloads.ap_invoice(lines=(("10-6100", "1000.00", "CC-MARS"),))
    assert _refused(syspro_sandbox, xml_in) == ["Analysis code 'CC-MARS' not found"]


def test_syspro_apstin_closed_period_is_refused(syspro_sandbox):
    now = datetime.now(UTC)
    syspro_sandbox.admin.configure(closed_periods=[f"{now.year:04d}-{now.month:02d}"])
    [message] = _refused(syspro_sandbox, payloads.ap_invoice())
    assert message == f"Posting period {now.year:04d}/{now.month:02d} is closed"


def test_syspro_apstin_invoice_date_in_closed_period_is_refused(syspro_sandbox):
    syspro_sandbox.admin.configure(posting_period_source="invoice_date", closed_periods=["2026-03"])
    [message] = _refused(syspro_sandbox, payloads.ap_invoice(invoice_date="2026-03-15"))
    assert "is closed" in message
    [old] = _refused(syspro_sandbox, payloads.ap_invoice(invoice_date="2019-01-15"))
    assert old == "Posting period 2019/01 is closed"


def test_syspro_apstin_value_must_equal_distribution_plus_tax(syspro_sandbox):
    [message] = _refused(syspro_sandbox, payloads.ap_invoice(value="1150.01"))
    assert "does not equal the distribution total 1000.00 plus tax 150.00" in message
    response = _post(syspro_sandbox, payloads.ap_invoice(value="1000.00", tax=None))
    assert first(response.content, "ItemsProcessed") == "000001"


def test_syspro_apstin_duplicate_invoice_per_supplier_is_refused(syspro_sandbox):
    _post(syspro_sandbox, payloads.ap_invoice())
    response = _post(syspro_sandbox, payloads.ap_invoice(reference="OTHER"))
    assert errors(response.content) == ["Invoice 'INV-1001' already exists for supplier 'SUP00001'"]
    other_supplier = _post(syspro_sandbox, payloads.ap_invoice(supplier="SUP00004"))
    assert first(other_supplier.content, "ItemsProcessed") == "000001"
    assert len(syspro_sandbox.admin.documents()) == 2


def test_syspro_apstin_whole_document_not_applied_when_one_item_invalid(syspro_sandbox):
    good = payloads.ap_item(
        supplier="SUP00001", invoice="A-1", value="10.00", tax=None, reference="R1",
        invoice_date=None, lines=(("10-6300", "10.00", None),),
    )  # fmt: skip
    bad = payloads.ap_item(
        supplier="NOPE", invoice="A-2", value="10.00", tax=None, reference="R2",
        invoice_date=None, lines=(("10-6300", "10.00", None),),
    )  # fmt: skip
    xml_in = f"<PostApInvoice>{good}{bad}</PostApInvoice>"
    response = _post(syspro_sandbox, xml_in, whole="Y")
    assert first(response.content, "ItemsProcessed") == "000000"
    assert syspro_sandbox.admin.documents() == []
    partial = _post(syspro_sandbox, xml_in, whole="N")
    assert first(partial.content, "ItemsProcessed") == "000001"
    assert [d["Invoice"] for d in syspro_sandbox.admin.documents()] == ["A-1"]


def test_syspro_apstin_validate_only_posts_nothing(syspro_sandbox):
    response = _post(syspro_sandbox, payloads.ap_invoice(), validate="Y")
    assert errors(response.content) == []
    assert first(response.content, "ItemsProcessed") == "000000"
    assert syspro_sandbox.admin.documents() == []


def test_syspro_apstin_malformed_xmlin_is_an_error_answer(syspro_sandbox):
    response = _post(syspro_sandbox, "<PostApInvoice><Item>")
    assert response.status_code == 200 and response.text.startswith("ERROR")


def test_syspro_xmlin_with_doctype_or_entities_is_refused(syspro_sandbox):
    xxe = (
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        "<PostApInvoice><Item><Supplier>&e;</Supplier></Item></PostApInvoice>"
    )
    response = _post(syspro_sandbox, xxe)
    assert response.text.startswith("ERROR") and "DOCTYPE" in response.text
    assert "root:" not in response.text


def test_syspro_responses_declared_and_encoded_windows_1252(syspro_sandbox):
    user_id = syspro_sandbox.logon()
    query = payloads.comfnd("ApSupplier", [("Supplier", "EQ", "SUP00002")], ("SupplierName",))
    response = syspro_sandbox.query(user_id, query)
    assert response.headers["content-type"].lower() == "text/xml; charset=windows-1252"
    assert response.content.startswith(b'<?xml version="1.0" encoding="Windows-1252"?>')
    assert "Müller & Söhne GmbH".encode("cp1252").replace(b"&", b"&amp;") in response.content
    assert first(response.content, "SupplierName") == "Müller & Söhne GmbH"
    japanese = syspro_sandbox.query(
        user_id, payloads.comfnd("ApSupplier", [("Supplier", "EQ", "SUP00007")], ("SupplierName",))
    )
    assert b"&#26481;" in japanese.content  # outside Windows-1252: a character reference
    assert first(japanese.content, "SupplierName") == "東京精密株式会社"
