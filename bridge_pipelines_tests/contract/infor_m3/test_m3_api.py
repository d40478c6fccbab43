"""M3's REST API v2 as documented: the result shape, errors as HTTP 200, the field table."""

from datetime import date
from typing import Any

import pytest

from bridge_pipelines.sandbox.infor_m3.programs import PROGRAMS
from bridge_pipelines_tests.contract.infor_m3.conftest import IonApi

pytestmark = pytest.mark.contract


def _only(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    [result] = body["results"]
    return result


def test_the_v2_answer_spells_successfull_and_counts_results(m3: IonApi) -> None:
    body = m3.get("CRS620MI", "GetBasicData", SUNO="SUP00001").json()
    assert body["nrOfSuccessfullTransactions"] == 1
    assert body["nrOfFailedTransactions"] == 0 and body["wasTerminated"] is False
    assert body["results"][0]["transaction"] == "GetBasicData"
    assert body["results"][0]["records"][0]["SUNM"] == "Acme Components"


def test_a_refusal_is_http_200_with_server_returned_nok(m3: IonApi) -> None:
    response = m3.get("CRS620MI", "GetBasicData", SUNO="NOSUCH")
    result = _only(response)
    assert result["errorType"] == "ServerReturnedNOK"
    assert result["errorField"] == "SUNO" and "does not exist" in result["errorMessage"]
    assert result["errorCode"]
    assert response.json()["nrOfFailedTransactions"] == 1


def test_a_missing_mandatory_field_is_mandatory_input_field_not_found(m3: IonApi) -> None:
    result = _only(m3.get("APS450MI", "AddHead", SUNO="SUP00001"))
    assert (result["errorType"], result["errorField"]) == ("MandatoryInputFieldNotFound", "IVDT")


def test_a_field_over_its_length_is_input_field_too_long(m3: IonApi) -> None:
    result = _only(m3.get("APS450MI", "AddHead", SUNO="SUP00001", IVDT="20261201", SINO="X" * 25))
    assert (result["errorType"], result["errorField"]) == ("InputFieldTooLong", "SINO")


def test_an_unknown_transaction_is_transaction_not_found(m3: IonApi) -> None:
    result = _only(m3.get("APS450MI", "AddInvoice", SUNO="SUP00001"))
    assert result["errorType"] == "TransactionNotFound"


def test_a_date_not_yyyymmdd_is_refused_on_its_field(m3: IonApi) -> None:
    result = _only(m3.get("APS450MI", "AddHead", SUNO="SUP00001", IVDT="2026-12-01"))
    assert (result["errorType"], result["errorField"]) == ("ServerReturnedNOK", "IVDT")


def test_an_unknown_company_is_not_authorized_xau0008(m3: IonApi) -> None:
    result = _only(m3.get("CRS620MI", "GetBasicData", matrix=";cono=999", SUNO="SUP00001"))
    assert (result["errorCode"], result["errorField"]) == ("XAU0008", "CONO")
    assert "Not authorized for company 999" in result["errorMessage"]


def test_a_call_without_company_fails_on_cono(m3: IonApi) -> None:
    result = _only(m3.get("CRS620MI", "GetBasicData", matrix="", SUNO="SUP00001"))
    assert result["errorField"] == "CONO"


def test_an_unknown_division_fails_on_divi(m3: IonApi) -> None:
    result = _only(m3.get("CRS620MI", "GetBasicData", matrix=";cono=100;divi=ZZZ", SUNO="X"))
    assert result["errorField"] == "DIVI"


def test_matrix_parameters_maxrecs_and_returncols_shape_the_records(m3: IonApi) -> None:
    result = _only(m3.get("CRS620MI", "LstSuppliers", matrix=";cono=100;maxrecs=3;returncols=SUNO"))
    assert len(result["records"]) == 3
    assert all(set(r) == {"SUNO"} for r in result["records"])


def test_bulk_post_runs_each_transaction_and_reports_each_failure(m3: IonApi) -> None:
    body = {
        "program": "CRS620MI",
        "cono": "100",
        "transactions": [
            {"transaction": "GetBasicData", "record": {"SUNO": "SUP00001"}},
            {"transaction": "GetBasicData", "record": {"SUNO": "NOSUCH"}},
        ],
    }
    answer = m3.bulk(body).json()
    assert answer["nrOfSuccessfullTransactions"] == 1 and answer["nrOfFailedTransactions"] == 1
    assert answer["results"][1]["errorType"] == "ServerReturnedNOK"


def test_every_program_of_the_product_is_in_the_field_table() -> None:
    wanted = {
        "APS450MI": {"AddHead", "AddLine", "ApproveInvoice", "LstInvBySupInv", "GetHead"},
        "APS455MI": {"ValidByBatchNo"},
        "APS200MI": {"GetInvTotInfo"},
        "CRS620MI": {"LstSuppliers", "GetBasicData"},
        "CRS630MI": {"LstAccountID"},
    }
    for program, transactions in wanted.items():
        assert transactions <= set(PROGRAMS[program]), program
    assert {f"AO0{n}" for n in range(1, 8)} <= set(PROGRAMS["APS450MI"]["AddLine"])


def _batch(m3: IonApi, token: str, sino: str, amount: str = "100.00") -> str:
    head = _only(m3.get("APS450MI", "AddHead", token=token, SUNO="SUP00001",
                        IVDT=_today(), SINO=sino,
                        CUAM=amount))  # fmt: skip
    return str(head["records"][0]["INBN"])


def _today() -> str:
    return f"{date.today():%Y%m%d}"


def test_a_duplicate_supplier_invoice_number_is_refused_at_validation(m3: IonApi) -> None:
    token = m3.token()["access_token"]
    for attempt in range(2):
        inbn = _batch(m3, token, "DUP-1")
        _only(m3.get("APS450MI", "AddLine", token=token, INBN=inbn, RDTP="8", NLAM="100.00",
                     AO01="6100"))  # fmt: skip
        result = _only(m3.get("APS455MI", "ValidByBatchNo", token=token, INBN=inbn))
        if attempt == 0:
            assert "errorMessage" not in result
    assert result["errorField"] == "SINO" and "already exists" in result["errorMessage"]


def test_an_unbalanced_batch_is_refused_at_validation(m3: IonApi) -> None:
    token = m3.token()["access_token"]
    inbn = _batch(m3, token, "UNBAL-1")
    _only(m3.get("APS450MI", "AddLine", token=token, INBN=inbn, RDTP="8", NLAM="90.00",
                 AO01="6100"))  # fmt: skip
    result = _only(m3.get("APS455MI", "ValidByBatchNo", token=token, INBN=inbn))
    assert result["errorField"] == "CUAM" and "not balanced" in result["errorMessage"]


def test_an_accounting_line_needs_a_known_account_in_ao01(m3: IonApi) -> None:
    token = m3.token()["access_token"]
    inbn = _batch(m3, token, "AO-1")
    result = _only(m3.get("APS450MI", "AddLine", token=token, INBN=inbn, RDTP="8",
                          NLAM="100.00", AO01="6950"))  # fmt: skip
    assert result["errorField"] == "AO01" and "does not exist" in result["errorMessage"]
