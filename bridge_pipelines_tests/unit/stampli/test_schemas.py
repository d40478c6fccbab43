"""pandera models of the canonical frames, and the located failures asset checks show."""

from decimal import Decimal

import polars as pl
import pytest

from bridge_pipelines.stampli.parse import parse_export
from bridge_pipelines.stampli.schemas import schema_for, validate_frame
from bridge_pipelines.tenants.models import FILE_KINDS, FileKind
from bridge_pipelines_tests.support.stampli_builders import (
    GL_CSV,
    INVOICES_CSV,
    PAYMENTS_CSV,
    VENDORS_CSV,
    fixture,
)

FILES: dict[FileKind, str] = {
    "invoices": INVOICES_CSV,
    "payments": PAYMENTS_CSV,
    "vendors": VENDORS_CSV,
    "gl_accounts": GL_CSV,
}


@pytest.mark.parametrize("kind", FILE_KINDS)
def test_parsed_frames_satisfy_their_schema(kind: FileKind) -> None:
    frame = parse_export(kind, fixture(FILES[kind]), source=FILES[kind]).frame
    assert validate_frame(kind, frame, source=FILES[kind]) == []
    schema_for(kind).validate(frame)


@pytest.mark.parametrize("kind", FILE_KINDS)
def test_empty_frames_satisfy_their_schema(kind: FileKind) -> None:
    header = fixture(FILES[kind]).split(b"\n")[0] + b"\n"
    frame = parse_export(kind, header, source=FILES[kind]).frame
    assert frame.height == 0
    assert validate_frame(kind, frame, source=FILES[kind]) == []


def invoices() -> pl.DataFrame:
    return parse_export("invoices", fixture(INVOICES_CSV), source=INVOICES_CSV).frame


def test_a_broken_sum_is_located_by_source_row_and_file() -> None:
    frame = invoices().with_columns(
        pl.when(pl.col("source_row") == 2)
        .then(pl.lit(Decimal("1.00")).cast(pl.Decimal(18, 2)))
        .otherwise(pl.col("line_amount"))
        .alias("line_amount")
    )
    failures = validate_frame("invoices", frame, source="ignored.csv")
    assert {f.row for f in failures} == {1, 2}
    assert all(f.source == INVOICES_CSV for f in failures)
    assert all("invoice rules" in f.message for f in failures)


def test_column_failures_name_the_column() -> None:
    frame = invoices().with_columns(
        pl.when(pl.col("source_row") == 3)
        .then(pl.lit("eur"))
        .otherwise("currency")
        .alias("currency")
    )
    failures = validate_frame("invoices", frame, source=INVOICES_CSV)
    located = [(f.row, f.field) for f in failures]
    assert (3, "currency") in located


def test_strict_schema_refuses_an_extra_column() -> None:
    frame = invoices().with_columns(pl.lit("x").alias("surprise"))
    failures = validate_frame("invoices", frame, source=INVOICES_CSV)
    assert failures and any("surprise" in f.message for f in failures)


def test_wrong_dtype_is_reported() -> None:
    frame = invoices().with_columns(pl.col("line_amount").cast(pl.Float64))
    failures = validate_frame("invoices", frame, source=INVOICES_CSV)
    assert any(f.field == "line_amount" for f in failures)


def test_interleaved_frames_are_checked_exactly() -> None:
    frame = invoices()
    shuffled = frame[[0, 2, 1, 3]]
    assert validate_frame("invoices", shuffled, source=INVOICES_CSV) == []
    broken = shuffled.with_columns(
        pl.when(pl.col("source_row") == 2)
        .then(pl.lit(Decimal("2.00")).cast(pl.Decimal(18, 2)))
        .otherwise(pl.col("line_amount"))
        .alias("line_amount")
    )
    assert {f.row for f in validate_frame("invoices", broken, source=INVOICES_CSV)} == {1, 2}
