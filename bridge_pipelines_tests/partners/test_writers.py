"""The writers on their own: CSV formula safety, fixed-width limits, encodings, the calendar."""

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from bridge_pipelines.errors import BadInputError
from bridge_pipelines.partners.models import CloseCalendar, FixedField, PartnerFile
from bridge_pipelines.partners.periods import Period, business_day_after, due_periods
from bridge_pipelines.partners.records import GlLine, PoLine
from bridge_pipelines.partners.translate import Translator, UnmappedCodeError
from bridge_pipelines.partners.writers.delimited import write_csv
from bridge_pipelines.partners.writers.fixed_width import fixed_cell, write_fixed_width


def _po(description: str, supplier: str = "SUP1") -> PoLine:
    return PoLine("PO1", 1, supplier, date(2026, 11, 2), date(2026, 12, 2), "RM-1", description,
                  Decimal("3"), "EA", Decimal("1.50"), "2026-11-02T15:00:00Z")  # fmt: skip


def _gl(account: str = "10-6100", amount: str = "12.50", comment: str = "Accrual") -> GlLine:
    return GlLine(2026, 11, 7, 1, date(2026, 11, 30), account, "CC-EAST", Decimal(amount),
                  "JNL-7", comment, "2026-11-30T18:00:00Z")  # fmt: skip


CSV = PartnerFile(
    dataset="purchase_orders",
    format="csv",
    name="po_{period}_{seq}.csv",
    columns=[
        {"header": "PO", "field": "purchase_order"},
        {"header": "Supplier Name", "field": "supplier_name"},
        {"header": "Description", "field": "description"},
        {"header": "Amount", "field": "amount"},
    ],
)


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised() -> None:
    built = write_csv(
        CSV,
        [_po('=HYPERLINK("http://x")', supplier="SUP1"), _po("-5 units")],
        Translator({}, {}),
        {"SUP1": "@evil"},
        "po.csv",
    )
    text = built.data.decode()
    assert "'=HYPERLINK" in text and "'-5 units" in text and "'@evil" in text
    assert text.splitlines()[1].endswith(",4.50")  # numbers stay numbers
    assert built.totals["amount"] == Decimal("9.00")


def test_fixed_width_refuses_an_identifier_that_does_not_fit_and_cuts_free_text() -> None:
    spec = PartnerFile(
        dataset="gl_journal",
        format="fixed_width",
        name="gl_{seq}.txt",
        fields=[
            {"field": "account", "width": 4},
            {"field": "comment", "width": 5},
            {"field": "amount", "width": 8, "align": "right", "pad": "0", "decimals": 2},
        ],
    )
    translator = Translator({"10-6100": "6100-000"}, {})
    with pytest.raises(BadInputError, match=r"gl\.txt: journal 7 entry 1: field account "):
        write_fixed_width(spec, [_gl()], translator, {}, "gl.txt")
    wide = FixedField(field="comment", width=5)
    assert fixed_cell("Accrual for November", wide, "f", _gl()) == "Accru"
    credit = FixedField(field="amount", width=8, align="right", pad="0", decimals=2)
    assert fixed_cell(Decimal("-12.5"), credit, "f", _gl()) == "-0001250"


def test_a_character_the_encoding_lacks_names_the_row() -> None:
    spec = PartnerFile(
        dataset="gl_journal", format="fixed_width", name="gl_{seq}.txt", encoding="ascii",
        fields=[{"field": "comment", "width": 20}],
    )  # fmt: skip
    with pytest.raises(BadInputError, match="journal 7 entry 1: 'ü' cannot be written in ascii"):
        write_fixed_width(spec, [_gl(comment="Prüfung")], Translator({}, {}), {}, "gl.txt")


def test_unmapped_codes_are_all_named_with_their_first_row() -> None:
    translator = Translator({}, {})
    translator.account("10-6100", _gl())
    translator.cost_centre("CC-WEST", _gl())
    with pytest.raises(UnmappedCodeError) as caught:
        translator.check("gl.txt", "parent_erp")
    assert "account '10-6100' (first at journal 7 entry 1)" in str(caught.value)
    assert "cost centre 'CC-WEST'" in str(caught.value)


def test_a_file_name_needs_a_sequence_and_fields_must_exist() -> None:
    with pytest.raises(ValidationError, match=r"must contain \{seq\}"):
        PartnerFile(dataset="gl_journal", format="csv", name="gl.csv", columns=[])
    with pytest.raises(ValidationError, match="cannot be written as x12_810"):
        PartnerFile(dataset="gl_journal", format="x12_810", name="gl_{seq}.x12")


def test_business_days_after_month_end_skip_the_weekend() -> None:
    assert business_day_after(Period(2026, 10), 1) == date(2026, 11, 2)  # Oct 31 is a Saturday
    assert business_day_after(Period(2026, 11), 3) == date(2026, 12, 3)
    calendar = CloseCalendar(cadence="weekly", weekday="fri")
    friday = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
    assert due_periods(calendar, friday, ZoneInfo("Europe/Berlin")) == [
        Period(2026, 11),
        Period(2026, 12),
    ]
    assert Period.parse("2026-01").previous() == Period(2025, 12)
    with pytest.raises(BadInputError):
        Period.parse("2026-1")


def test_gl_csv_grouped_by_the_partners_cost_centre() -> None:
    spec = PartnerFile(
        dataset="gl_journal",
        format="csv",
        name="gl_{seq}.csv",
        delimiter=";",
        group_by_cost_centre=True,
        columns=[
            {"header": "Centre", "field": "cost_centre"},
            {"header": "Account", "field": "account"},
            {"header": "Debit", "field": "debit"},
            {"header": "Credit", "field": "credit"},
        ],
    )
    lines = [
        GlLine(2026, 11, 1, 1, date(2026, 11, 3), "10-6100", "CC-WEST", Decimal("10.00"), "J1",
               "", "2026-11-03T18:00:00Z"),
        GlLine(2026, 11, 1, 2, date(2026, 11, 3), "10-2000", "CC-EAST", Decimal("-10.00"), "J1",
               "", "2026-11-03T18:00:00Z"),
    ]  # fmt: skip
    translator = Translator(
        {"10-6100": "6100", "10-2000": "2000"}, {"CC-WEST": "W1", "CC-EAST": "E1"}
    )
    built = write_csv(spec, lines, translator, {}, "gl.csv")
    assert built.data.decode().splitlines() == [
        "Centre;Account;Debit;Credit",
        "E1;2000;0.00;10.00",
        "W1;6100;10.00;0.00",
    ]
    assert built.totals["cost_centres"]["W1"]["debits"] == Decimal("10.00")
