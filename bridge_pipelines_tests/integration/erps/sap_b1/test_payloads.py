"""SAP B1 wire formats without a server: error shapes, exact amounts, balanced journal entries."""

import json
from decimal import Decimal

import pytest

from bridge_pipelines.erps.base import DocumentType
from bridge_pipelines.erps.sap_b1 import errors, payloads
from bridge_pipelines.errors import BadInputError, ConfigError, RejectedByErpError
from bridge_pipelines_tests.integration.erps.sap_b1.helpers import invoice

V1 = json.dumps(
    {
        "error": {
            "code": -1000,
            "message": {"lang": "en-us", "value": "Property 'Foo' of 'BusinessPartner' is invalid"},
        }
    }
)
V2 = json.dumps(
    {
        "error": {
            "code": "-5002",
            "message": "Code undefined [OCRD.CardCode]",
            "details": [{"code": "", "message": ""}],
        }
    }
)


def test_v1_and_v2_error_bodies_give_a_located_message():
    one, two = errors.parse_error(V1), errors.parse_error(V2)
    assert (one.code, one.field) == (-1000, "Foo")
    assert one.located() == "Foo: Property 'Foo' of 'BusinessPartner' is invalid (-1000)"
    assert (two.code, two.field) == (-5002, "CardCode")
    assert two.located() == "CardCode: Code undefined [OCRD.CardCode] (-5002)"


def test_non_json_error_body_is_kept_as_text():
    assert errors.parse_error("<html>Bad Gateway</html>").message == "<html>Bad Gateway</html>"


def test_rejection_keeps_code_field_and_body():
    exc = errors.rejected("PurchaseInvoices", errors.parse_error(V2), V2)
    assert isinstance(exc, RejectedByErpError)
    assert "CardCode: Code undefined" in str(exc) and exc.response == V2
    assert exc.sap_code == -5002 and exc.field == "CardCode"


def test_wrong_password_is_a_config_error_with_a_hint():
    message = {"lang": "en-us", "value": "Fail to NONE-SSO login from SLD."}
    body = json.dumps({"error": {"code": -304, "message": message}})
    exc = errors.login_refused("manager", "SBODEMOUS", errors.parse_error(body))
    assert isinstance(exc, ConfigError) and "erp.password" in str(exc)


def test_amounts_are_exact_json_numbers_never_floats():
    body = payloads.service_document(invoice(total="0.30", tax="0.10"), tax_account="_SYS9")
    text = payloads.dumps(body)
    assert '"LineTotal":0.20' in text and '"LineTotal":0.10' in text
    parsed = json.loads(text, parse_float=Decimal)
    assert sum(line["LineTotal"] for line in parsed["DocumentLines"]) == Decimal("0.30")
    with pytest.raises(TypeError):
        payloads.dumps({"x": 0.1})


def test_service_invoice_carries_our_reference_and_service_type():
    inv = invoice(cost_center="CC01")
    body = json.loads(payloads.dumps(payloads.service_document(inv)), parse_float=Decimal)
    assert body["DocType"] == "dDocument_Service"
    assert body["NumAtCard"] == inv.invoice_number and body["CardCode"] == "V10001"
    assert body["JournalMemo"] == inv.external_ref
    assert body["DocDate"] == "2026-05-02" and body["TaxDate"] == "2026-05-01"
    assert body["DocumentLines"][0] == {
        "ItemDescription": "Office supplies",
        "AccountCode": "_SYS00000006100",
        "LineTotal": Decimal("1150.00"),  # the tax expensed with the line (issue 16)
        "CostingCode": "CC01",
    }


@pytest.mark.parametrize("kind", [DocumentType.INVOICE, DocumentType.CREDIT_MEMO])
def test_journal_entry_balances_and_credits_the_supplier(kind):
    inv = invoice(document_type=kind)
    body = payloads.journal_entry(inv, tax_account="2300")
    lines = body["JournalEntryLines"]
    assert sum(line["Debit"] for line in lines) == sum(line["Credit"] for line in lines)
    supplier = lines[-1]
    assert supplier["ShortName"] == "V10001" and body["Reference"] == inv.external_ref
    side = "Credit" if kind == DocumentType.INVOICE else "Debit"
    assert supplier[side] == Decimal("1150.00")
    assert [line["AccountCode"] for line in lines[:-1]] == ["_SYS00000006100", "2300"]


def test_credit_memo_goes_to_credit_notes_in_service_mode():
    memo = invoice(document_type=DocumentType.CREDIT_MEMO)
    assert payloads.entity_set_for(memo, "service_invoice") == "PurchaseCreditNotes"
    assert payloads.entity_set_for(memo, "journal_entry") == "JournalEntries"


def test_sub_cent_amount_and_long_card_code_are_refused_before_sending():
    with pytest.raises(BadInputError):
        payloads.service_document(invoice(total="10.005", tax="0.005"))
    with pytest.raises(BadInputError):
        payloads.service_document(invoice(vendor="V" * 16))


def test_filter_literals_double_quotes():
    assert payloads.document_filter("O'B", "R1") == (
        "CardCode eq 'O''B' and (JournalMemo eq 'R1' or NumAtCard eq 'R1') and Cancelled eq 'tNO'"
    )
