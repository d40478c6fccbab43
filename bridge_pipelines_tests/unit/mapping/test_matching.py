"""Vendors matched by name when no code links them: exact names only, candidates otherwise."""

from bridge_pipelines.mapping.matching import describe, match_by_name, normalised
from bridge_pipelines.mapping.tables import ErpCodes, build_tables

SUPPLIERS = {
    "NWTRADERS": "Northwind Traders",
    "SUP00001": "Acme Components",
    "SUP00005": "Škoda Parts s.r.o.",
    "SUP00006": "O'Brien Logistics, LLC",
    "SUP00007": "Northwind Trading",
}


def test_names_compare_without_case_accents_punctuation_or_legal_forms() -> None:
    assert normalised("Škoda Parts s.r.o.") == normalised("SKODA PARTS") == "skoda parts"
    assert normalised("Müller & Söhne GmbH") == "muller and sohne"


def test_one_exact_name_matches_and_a_near_one_is_only_a_ranked_candidate() -> None:
    found = {
        m.vendor: m
        for m in match_by_name(
            {"V-0005": "Skoda Parts", "V-0006": "OBrien Logistics", "V-0009": "Nobody Ltd"},
            SUPPLIERS,
        )
    }
    assert found["V-0005"].code == "SUP00005"
    assert found["V-0006"].code is None
    assert [c.code for c in found["V-0006"].candidates][:1] == ["SUP00006"]
    assert "confirm one in the tenant's mapping file" in describe(found["V-0006"])
    assert found["V-0009"].code is None and not found["V-0009"].candidates


def test_an_exact_name_shared_by_two_suppliers_is_not_chosen() -> None:
    suppliers = {**SUPPLIERS, "SUP00008": "Northwind Traders Co."}
    [match] = match_by_name({"V-0004": "Northwind Traders"}, suppliers)
    assert match.code is None
    assert {c.code for c in match.candidates} >= {"NWTRADERS", "SUP00008"}
    [alone] = match_by_name({"V-0004": "Northwind Traders"}, SUPPLIERS)
    assert alone.code == "NWTRADERS"  # "Northwind Trading" (0.82) is no rival


def test_build_tables_tries_codes_first_then_the_name() -> None:
    erp = ErpCodes(frozenset(SUPPLIERS), frozenset(), frozenset())
    tables = build_tables(
        erp,
        stampli_vendors=["V-0001", "V-0005", "V-0006"],
        stampli_vendor_hints={"V-0001": "SUP00001", "V-0005": "SUP99999"},
        vendor_names={"V-0001": "Acme", "V-0005": "Skoda Parts", "V-0006": "OBrien Logistics"},
        erp_vendor_names=SUPPLIERS,
    )
    assert tables.vendors["V-0001"].origin == "stampli_erp_code"
    assert (tables.vendors["V-0005"].erp, tables.vendors["V-0005"].origin) == (
        "SUP00005",
        "name_match",
    )
    assert "V-0006" not in tables.vendors
    assert any("V-0006" in p and "SUP00006" in p for p in tables.problems)
    assert any("SUP99999" in p for p in tables.problems)  # the stale code is still reported
