"""Stampli vendor payloads turned into ERP supplier maintenance, and where the code comes from."""

from bridge_pipelines.mapping.tables import MappingOverrides
from bridge_pipelines.masterdata.sync import erp_code_for, net_days_terms, vendor_change

PAYLOAD = {
    "vendor_id": "V-0004",
    "vendor_name": "Northwind Traders",
    "tax_id": "04-7000548",
    "email": "ap@northwind.example",
    "address_line1": "128 Commerce Way",
    "address_line2": "",
    "city": "Seattle",
    "region": "WA",
    "postal_code": "98101",
    "country": "US",
    "currency": "USD",
    "payment_terms": "Net 30",
    "status": "Active",
    "erp_vendor_code": "SUP00004",
}


def test_payload_becomes_a_supplier_change_with_positional_address() -> None:
    change = vendor_change("demo", PAYLOAD, "SUP00004")
    assert change.code == "SUP00004" and change.name == "Northwind Traders"
    assert change.address_lines == ("128 Commerce Way", "", "Seattle", "WA", "US")
    assert change.terms_code == "30" and change.currency == "USD" and not change.on_hold
    assert change.stampli_id == "V-0004" and change.postal_code == "98101"


def test_inactive_vendor_is_put_on_hold() -> None:
    assert vendor_change("demo", {**PAYLOAD, "status": "Inactive"}, "SUP00004").on_hold


def test_terms_that_do_not_read_as_a_code_are_left_to_the_erp() -> None:
    assert net_days_terms("Net 45") == "45" and net_days_terms("net30 days") == "30"
    assert net_days_terms("15") == "15"
    assert net_days_terms("2% 10 Net 30") is None and net_days_terms("") is None
    assert vendor_change("demo", {**PAYLOAD, "payment_terms": None}, "X").terms_code is None


def test_mapping_file_wins_over_stampli_code_and_nothing_is_invented() -> None:
    pinned = MappingOverrides(vendors={"V-0004": "NORTH1"})
    assert erp_code_for(PAYLOAD, pinned) == ("NORTH1", "override")
    assert erp_code_for(PAYLOAD, MappingOverrides()) == ("SUP00004", "stampli_erp_code")
    assert erp_code_for({**PAYLOAD, "erp_vendor_code": " "}, MappingOverrides()) == (None, None)
