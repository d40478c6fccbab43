"""e.net calls beyond Post/Query/Setup: GENTJL, Browse, Fetch, GetVersion, PostLD, path case."""

from datetime import date
from xml.sax.saxutils import escape

import pytest

from bridge_pipelines_tests.contract.syspro import payloads
from bridge_pipelines_tests.contract.syspro.xml import errors, first, parse

pytestmark = pytest.mark.contract


def _journal(*lines: tuple[str, str], reference: str = "JNL-1", journal_date: str | None = None,
             period: str | None = None, year: str | None = None) -> str:  # fmt: skip
    day = journal_date or date.today().isoformat()
    head = f"<JournalType>N</JournalType><JournalDate>{day}</JournalDate>"
    head += f"<JournalReference>{escape(reference)}</JournalReference><Notation>Accrual</Notation>"
    if period:
        head += f"<PostingPeriod>{period}</PostingPeriod><PostingYear>{year}</PostingYear>"
    details = "".join(
        f"<JournalDetails><LedgerCode>{code}</LedgerCode><EntryAmount>{amount}</EntryAmount>"
        f"<Reference>{escape(reference)}</Reference><Comment>line</Comment></JournalDetails>"
        for code, amount in lines
    )
    return f"<PostGlJournal><Item>{head}{details}</Item></PostGlJournal>"


JOURNAL_PARAMETERS = (
    "<PostGlJournal><Parameters><IgnoreWarnings>N</IgnoreWarnings>"
    "<ApplyIfEntireDocumentValid>Y</ApplyIfEntireDocumentValid><ValidateOnly>N</ValidateOnly>"
    "<ActionType>A</ActionType></Parameters></PostGlJournal>"
)


def _post_journal(sandbox, user_id: str, xml_in: str):
    return sandbox.post(
        user_id, xml_in, business_object="GENTJL", xml_parameters=JOURNAL_PARAMETERS
    )


# --- GENTJL ----------------------------------------------------------------------------------


def test_syspro_gentjl_is_licensed_and_posts_a_balanced_journal(syspro_sandbox):
    user_id = syspro_sandbox.logon()
    response = _post_journal(syspro_sandbox, user_id,
                             _journal(("10-6100", "250.00"), ("10-2000", "-250.00")))  # fmt: skip
    assert response.status_code == 200
    root = parse(response.content)
    assert root.tag == "postgljournal" and errors(response.content) == []
    today = date.today()
    key = root.find("Item/Transaction/Key")
    assert key is not None
    assert (key.findtext("GlYear"), key.findtext("GlPeriod")) == (str(today.year), str(today.month))
    assert key.findtext("GlJournal") == "1"
    assert root.findtext("StatusOfItems/JournalsProcessed") == "000001"
    assert root.findtext("StatusOfItems/JournalsInvalid") == "000000"


def test_syspro_gentjl_shares_the_gl_journal_sequence_with_apstin(syspro_sandbox):
    user_id = syspro_sandbox.logon()
    syspro_sandbox.post(user_id, payloads.ap_invoice())
    response = _post_journal(syspro_sandbox, user_id,
                             _journal(("10-6100", "1.00"), ("10-2000", "-1.00")))  # fmt: skip
    assert first(response.content, "GlJournal") == "2"


def test_syspro_gentjl_unbalanced_journal_is_refused_in_xml(syspro_sandbox):
    user_id = syspro_sandbox.logon()
    response = _post_journal(syspro_sandbox, user_id,
                             _journal(("10-6100", "250.00"), ("10-2000", "-200.00")))  # fmt: skip
    assert response.status_code == 200
    assert any("does not balance" in e for e in errors(response.content))
    assert first(response.content, "JournalsProcessed") == "000000"
    assert first(response.content, "JournalsInvalid") == "000001"


def test_syspro_gentjl_unknown_or_on_hold_ledger_code_is_refused(syspro_sandbox):
    user_id = syspro_sandbox.logon()
    unknown = _post_journal(syspro_sandbox, user_id,
                            _journal(("10-6950", "5.00"), ("10-2000", "-5.00")))  # fmt: skip
    assert any("not found" in e for e in errors(unknown.content))
    on_hold = _post_journal(syspro_sandbox, user_id,
                            _journal(("10-6900", "5.00"), ("10-2000", "-5.00")))  # fmt: skip
    assert any("on hold" in e for e in errors(on_hold.content))


def test_syspro_gentjl_closed_period_is_refused(syspro_sandbox):
    user_id = syspro_sandbox.logon()
    year = date.today().year - 1
    response = _post_journal(syspro_sandbox, user_id, _journal(
        ("10-6100", "5.00"), ("10-2000", "-5.00"), period="1", year=str(year)))  # fmt: skip
    assert any("is closed" in e for e in errors(response.content))


def test_syspro_gentjl_validate_only_posts_nothing(syspro_sandbox):
    user_id = syspro_sandbox.logon()
    parameters = JOURNAL_PARAMETERS.replace("<ValidateOnly>N", "<ValidateOnly>Y")
    xml_in = _journal(("10-6100", "5.00"), ("10-2000", "-5.00"))
    checked = syspro_sandbox.post(user_id, xml_in, business_object="GENTJL",
                                  xml_parameters=parameters)  # fmt: skip
    assert errors(checked.content) == [] and first(checked.content, "JournalsProcessed") == "000000"
    posted = _post_journal(syspro_sandbox, user_id, xml_in)
    assert first(posted.content, "GlJournal") == "1"


# --- counts ----------------------------------------------------------------------------------


def test_syspro_business_object_counts_are_zero_padded(syspro_sandbox):
    user_id = syspro_sandbox.logon()
    response = syspro_sandbox.post(user_id, payloads.ap_invoice())
    assert first(response.content, "ItemsProcessed") == "000001"
    assert first(response.content, "ItemsInvalid") == "000000"


# --- Browse / Fetch --------------------------------------------------------------------------


def _browse(table: str, rows: int, start: str = "", filters: str = "") -> str:
    return (
        f"<Browse><BrowseName>{table}</BrowseName><StartAtKey>{start}</StartAtKey>"
        f"<StartCondition/><ReturnRows>{rows}</ReturnRows>{filters}<BrowseDetails>"
        f"<TableName>{table}</TableName><Title>Suppliers</Title>"
        "<Column><ColumnName>Supplier</ColumnName></Column>"
        "<Column><ColumnName>SupplierName</ColumnName></Column></BrowseDetails></Browse>"
    )


def test_syspro_query_browse_pages_a_table_in_key_order(syspro_sandbox):
    user_id = syspro_sandbox.logon()
    response = syspro_sandbox.call("Query/Browse", UserId=user_id, XmlIn=_browse("ApSupplier", 3))
    assert response.status_code == 200
    root = parse(response.content)
    assert root.findtext("Title") == "Suppliers"
    rows = root.findall("Row")
    assert [r.findtext("Supplier/Value") for r in rows] == ["SUP00001", "SUP00002", "SUP00003"]
    assert rows[0].findtext("Supplier/DataType") == "String"
    following = root.findtext("NextPrevKey/NextKey")
    assert following == "SUP00004"
    second = syspro_sandbox.call("Query/Browse", UserId=user_id,
                                 XmlIn=_browse("ApSupplier", 3, start=following))  # fmt: skip
    assert parse(second.content).find("Row/Supplier/Value").text == "SUP00004"


def test_syspro_query_browse_filters_by_column(syspro_sandbox):
    user_id = syspro_sandbox.logon()
    filters = "<Filter><ColumnFilterName>Currency</ColumnFilterName>"
    filters += "<ColumnFilterValue>EUR</ColumnFilterValue></Filter>"
    response = syspro_sandbox.call("Query/Browse", UserId=user_id,
                                   XmlIn=_browse("ApSupplier", 50, filters=filters))  # fmt: skip
    assert "SUP00002" in [
        r.findtext("Supplier/Value") for r in parse(response.content).findall("Row")
    ]


def test_syspro_query_fetch_reads_one_record_by_key(syspro_sandbox):
    user_id = syspro_sandbox.logon()
    xml_in = "<Fetch><TableName>ApSupplier</TableName><Key>SUP00001</Key></Fetch>"
    response = syspro_sandbox.call("Query/Fetch", UserId=user_id, XmlIn=xml_in)
    root = parse(response.content)
    assert root.tag == "ApSupplier" and root.findtext("Supplier") == "SUP00001"
    assert root.findtext("SupplierName")


def test_syspro_query_fetch_composite_key_and_missing_record(syspro_sandbox):
    user_id = syspro_sandbox.logon()
    found = syspro_sandbox.call("Query/Fetch", UserId=user_id, XmlIn=(
        "<Fetch><TableName>GenAnalysisCode</TableName><Key>1</Key>"
        "<OptionalKey1>CC-EAST</OptionalKey1></Fetch>"))  # fmt: skip
    assert parse(found.content).findtext("AnalysisCode") == "CC-EAST"
    missing = syspro_sandbox.call(
        "Query/Fetch",
        UserId=user_id,
        XmlIn="<Fetch><TableName>ApSupplier</TableName><Key>NOPE</Key></Fetch>",
    )
    assert missing.status_code == 200 and missing.text.startswith("ERROR")


def test_syspro_browse_and_fetch_need_a_session(syspro_sandbox):
    response = syspro_sandbox.call("Query/Browse", UserId="not-a-session",
                                   XmlIn=_browse("ApSupplier", 3))  # fmt: skip
    assert response.status_code == 200 and response.text.startswith("ERROR")


# --- GetVersion, PostLD, path case -----------------------------------------------------------


def test_syspro_get_version_answers_the_version(syspro_sandbox):
    response = syspro_sandbox.call("GetVersion")
    assert response.status_code == 200
    assert response.text.strip('"').startswith("8.")


def test_syspro_post_ld_posts_the_four_parameters_in_an_xml_body(syspro_sandbox):
    user_id = syspro_sandbox.logon()
    body = (f'<TransactionPostLD xmlns="http://SYSPROWcfService"><UserId>{user_id}</UserId>'
            "<BusinessObject>APSTIN</BusinessObject>"
            f"<XmlParameters><![CDATA[{payloads.post_parameters()}]]></XmlParameters>"
            f"<XmlIn><![CDATA[{payloads.ap_invoice()}]]></XmlIn></TransactionPostLD>")  # fmt: skip
    response = syspro_sandbox.http.post(f"{syspro_sandbox.rest_url}/Transaction/PostLD",
                                        content=body.encode(),
                                        headers={"Content-Type": "application/xml"})  # fmt: skip
    assert response.status_code == 200
    assert first(response.content, "ItemsProcessed") == "000001"
    assert syspro_sandbox.admin.documents()[0]["Invoice"] == "INV-1001"


def test_syspro_post_ld_is_post_only_and_needs_every_parameter(syspro_sandbox):
    assert syspro_sandbox.call("Transaction/PostLD").status_code == 405
    response = syspro_sandbox.http.post(
        f"{syspro_sandbox.rest_url}/Transaction/PostLD",
        content=b'<TransactionPostLD xmlns="http://SYSPROWcfService"><UserId>x</UserId>'
        b"</TransactionPostLD>",
        headers={"Content-Type": "application/xml"},
    )
    assert response.status_code == 400 and response.text.startswith("ERROR: Missing parameter")


def test_syspro_rest_paths_match_whatever_their_case(syspro_sandbox):
    params = {"Operator": syspro_sandbox.operator, "OperatorPassword": syspro_sandbox.password,
              "CompanyId": syspro_sandbox.company, "CompanyPassword": ""}  # fmt: skip
    lower = syspro_sandbox.http.get(f"{syspro_sandbox.base_url}/sysprowcfservice/rest/logon",
                                    params=params)  # fmt: skip
    assert lower.status_code == 200 and not lower.text.startswith("ERROR")
    user_id = lower.text.strip('"')
    upper = syspro_sandbox.http.get(
        f"{syspro_sandbox.base_url}/SYSPROWCFSERVICE/REST/QUERY/QUERY",
        params={
            "UserId": user_id,
            "BusinessObject": "COMFND",
            "XmlIn": payloads.comfnd("ApSupplier", [("OnHold", "EQ", "N")]),
        },
    )
    assert upper.status_code == 200 and parse(upper.content).tag == "ApSupplier"


def test_syspro_unknown_rest_path_is_endpoint_not_found(syspro_sandbox):
    response = syspro_sandbox.call("Transaction/Nope")
    assert response.status_code == 404 and response.text == "Endpoint not found."


# --- APSSSP rows of erp-facts not held elsewhere ---------------------------------------------


def test_syspro_apsssp_add_defaults_supplier_type_on_hold_and_grn_matching(syspro_sandbox):
    user_id = syspro_sandbox.logon()
    added = syspro_sandbox.setup("Add", user_id, payloads.supplier(
        "SUP00020", SupplierName="Defaults Ltd", Currency="USD"))  # fmt: skip
    assert errors(added.content) == []
    fetched = syspro_sandbox.call("Query/Fetch", UserId=user_id, XmlIn=(
        "<Fetch><TableName>ApSupplier</TableName><Key>SUP00020</Key></Fetch>"))  # fmt: skip
    root = parse(fetched.content)
    assert (root.findtext("SupplierType"), root.findtext("OnHold"), root.findtext("GrnMatchReqd")) \
        == ("P", "N", "Y")  # fmt: skip


def test_syspro_apsssp_setup_delete_removes_a_supplier_without_transactions(syspro_sandbox):
    user_id = syspro_sandbox.logon()
    syspro_sandbox.setup("Add", user_id, payloads.supplier(
        "SUP00021", SupplierName="Short Lived", Currency="USD"))  # fmt: skip
    deleted = syspro_sandbox.setup("Delete", user_id, payloads.supplier("SUP00021"))
    assert errors(deleted.content) == [] and first(deleted.content, "ItemsProcessed") == "000001"
    gone = syspro_sandbox.call("Query/Fetch", UserId=user_id, XmlIn=(
        "<Fetch><TableName>ApSupplier</TableName><Key>SUP00021</Key></Fetch>"))  # fmt: skip
    assert gone.text.startswith("ERROR")
    syspro_sandbox.post(user_id, payloads.ap_invoice())
    refused = syspro_sandbox.setup("Delete", user_id, payloads.supplier("SUP00001"))
    assert any("has transactions" in e for e in errors(refused.content))
