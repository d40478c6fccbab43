"""pandera (polars) models of the canonical frames, and located validation for asset checks.

The parser guarantees these properties already; the schemas state them once more, in a form
Dagster asset checks and reviewers can read, and catch a regression in the parser itself. Every
check is a vectorized polars expression (group rules use window expressions), so validating a
million lines stays a fraction of a second. Models are strict: an unexpected column fails.
"""

from typing import Annotated

import pandera.polars as pa
import polars as pl
from pandera.api.polars.types import PolarsData
from pandera.errors import SchemaError, SchemaErrors

from bridge_pipelines.stampli.grouping import RUN, with_runs
from bridge_pipelines.stampli.models import RowError
from bridge_pipelines.tenants.models import FileKind

Money = Annotated[pl.Decimal, 18, 2]
UtcTimestamp = Annotated[pl.Datetime, "us", "UTC"]
_CURRENCY = r"^[A-Z]{3}$"
_INVOICE_HEADER = (
    "invoice_number",
    "vendor_id",
    "invoice_date",
    "due_date",
    "posting_date",
    "currency",
    "invoice_total",
    "tax_amount",
    "approved_at",
    "document_type",
)


def _rows(data: PolarsData, expr: pl.Expr) -> pl.LazyFrame:
    return data.lazyframe.select(expr.fill_null(False).alias("check"))


class _Source(pa.DataFrameModel):
    source_file: str = pa.Field(str_length={"min_value": 1})
    source_row: pl.Int64 = pa.Field(ge=1)


class InvoiceLinesSchema(_Source):
    """One row per invoice line; header fields repeated on every line of an invoice."""

    invoice_id: str = pa.Field(str_length={"min_value": 1})
    invoice_number: str = pa.Field(str_length={"min_value": 1, "max_value": 30})
    vendor_id: str = pa.Field(str_length={"min_value": 1})
    vendor_name: str = pa.Field(nullable=True)
    invoice_date: pl.Date
    due_date: pl.Date
    posting_date: pl.Date
    currency: str = pa.Field(str_matches=_CURRENCY)
    invoice_total: Money
    tax_amount: Money
    po_number: str = pa.Field(nullable=True)
    line_number: pl.Int32 = pa.Field(ge=1)
    line_description: str = pa.Field(nullable=True)
    gl_account: str = pa.Field(str_length={"min_value": 1})
    cost_center: str = pa.Field(nullable=True)
    line_amount: Money
    approved_by: str = pa.Field(str_length={"min_value": 1})
    approved_at: UtcTimestamp
    document_type: str = pa.Field(isin=["Invoice", "CreditMemo"])

    class Config:  # noqa: D106 - pandera model options
        strict = True
        coerce = False

    @pa.dataframe_check(error="due_date is before invoice_date")
    @classmethod
    def due_not_before_invoice(cls, data: PolarsData) -> pl.LazyFrame:
        return _rows(data, pl.col("due_date") >= pl.col("invoice_date"))

    @pa.dataframe_check(error="sign does not match document_type (CreditMemo negative)")
    @classmethod
    def sign_matches_type(cls, data: PolarsData) -> pl.LazyFrame:
        credit = pl.col("document_type") == "CreditMemo"
        ok = (
            pl.when(credit)
            .then((pl.col("invoice_total") < 0) & (pl.col("line_amount") <= 0))
            .otherwise((pl.col("invoice_total") > 0) & (pl.col("line_amount") >= 0))
        )
        return _rows(data, ok)

    @pa.dataframe_check(
        error="invoice rules: lines + tax_amount = invoice_total, one header per invoice, "
        "unique line_number"
    )
    @classmethod
    def invoice_rules(cls, data: PolarsData) -> pl.LazyFrame:
        return invoice_rules_ok(data.lazyframe.collect()).lazy()


class PaymentsSchema(_Source):
    """One row per payment applied to one invoice."""

    payment_id: str = pa.Field(str_length={"min_value": 1})
    invoice_id: str = pa.Field(str_length={"min_value": 1})
    invoice_number: str = pa.Field(nullable=True, str_length={"max_value": 30})
    vendor_id: str = pa.Field(str_length={"min_value": 1})
    payment_date: pl.Date
    amount: Money
    currency: str = pa.Field(str_matches=_CURRENCY)
    method: str = pa.Field(isin=["ACH", "Check", "Wire", "Card", "Other"])
    reference: str = pa.Field(nullable=True)

    class Config:  # noqa: D106 - pandera model options
        strict = True
        coerce = False

    @pa.dataframe_check(error="payment_id + invoice_id repeated")
    @classmethod
    def unique_identity(cls, data: PolarsData) -> pl.LazyFrame:
        return _rows(data, ~pl.struct("payment_id", "invoice_id").is_duplicated())


class VendorsSchema(_Source):
    """Vendor changes; one row per vendor and modification time."""

    vendor_id: str = pa.Field(str_length={"min_value": 1})
    vendor_name: str = pa.Field(str_length={"min_value": 1})
    tax_id: str = pa.Field(nullable=True)
    email: str = pa.Field(nullable=True, str_matches=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    phone: str = pa.Field(nullable=True)
    address_line1: str = pa.Field(nullable=True)
    address_line2: str = pa.Field(nullable=True)
    city: str = pa.Field(nullable=True)
    region: str = pa.Field(nullable=True)
    postal_code: str = pa.Field(nullable=True)
    country: str = pa.Field(nullable=True, str_matches=r"^[A-Z]{2}$")
    currency: str = pa.Field(nullable=True, str_matches=_CURRENCY)
    payment_terms: str = pa.Field(nullable=True)
    status: str = pa.Field(isin=["Active", "Inactive"])
    erp_vendor_code: str = pa.Field(nullable=True)
    modified_at: UtcTimestamp

    class Config:  # noqa: D106 - pandera model options
        strict = True
        coerce = False

    @pa.dataframe_check(error="vendor_id + modified_at repeated")
    @classmethod
    def unique_identity(cls, data: PolarsData) -> pl.LazyFrame:
        return _rows(data, ~pl.struct("vendor_id", "modified_at").is_duplicated())


class GlAccountsSchema(_Source):
    """GL accounts known to Stampli."""

    account_code: str = pa.Field(str_length={"min_value": 1}, unique=True)
    account_name: str = pa.Field(str_length={"min_value": 1})
    account_type: str = pa.Field(isin=["Expense", "Asset", "Liability", "Revenue", "Equity"])
    active: bool

    class Config:  # noqa: D106 - pandera model options
        strict = True
        coerce = False


def invoice_rules_ok(frame: pl.DataFrame) -> pl.DataFrame:
    """Per row: its invoice adds up, has one header and unique line numbers (column `check`).

    Exact for any row order: rows are grouped by adjacent runs (reordered first if the
    frame interleaves invoices) and the per-invoice verdict is gathered back to each row.
    """
    if frame.height == 0:
        return pl.DataFrame({"check": pl.Series([], dtype=pl.Boolean)})
    grouped = with_runs(frame.with_row_index("__order"), "invoice_id")
    same = pl.col(RUN) == pl.col(RUN).shift(1)
    changed = pl.any_horizontal(pl.col(c).ne_missing(pl.col(c).shift(1)) for c in _INVOICE_HEADER)
    per_invoice = (
        grouped.lazy()
        .with_columns((same & changed).fill_null(False).alias("__changed"))
        .group_by(RUN, maintain_order=True)
        .agg(
            (
                (pl.col("line_amount").sum() + pl.col("tax_amount").first())
                == pl.col("invoice_total").first()
            ).alias("adds_up"),
            (~pl.col("__changed").any()).alias("one_header"),
            (pl.col("line_number").n_unique() == pl.len()).alias("unique_lines"),
        )
        .select(pl.all_horizontal("adds_up", "one_header", "unique_lines").fill_null(False))
        .collect()
        .to_series()
    )
    verdict = grouped.select(
        pl.col("__order"), per_invoice.gather(grouped.get_column(RUN)).alias("check")
    )
    return verdict.sort("__order").select("check")


_SCHEMAS: dict[str, type[pa.DataFrameModel]] = {
    "invoices": InvoiceLinesSchema,
    "payments": PaymentsSchema,
    "vendors": VendorsSchema,
    "gl_accounts": GlAccountsSchema,
}


def schema_for(kind: FileKind) -> type[pa.DataFrameModel]:
    """The pandera model of the canonical frame of `kind`."""
    return _SCHEMAS[kind]


def validate_frame(kind: FileKind, frame: pl.DataFrame, *, source: str) -> list[RowError]:
    """Validate a canonical frame (lazy: all failures) and locate each failure.

    Returns:
        One RowError per failure case: `row` is the frame's `source_row` at the failing index
        (None for column-wide failures such as a wrong dtype), `field` the canonical column,
        `source` the row's `source_file` when the frame has one.
    """
    try:
        schema_for(kind).validate(frame, lazy=True)
    except SchemaErrors as exc:
        return _locate(exc.failure_cases, frame, source)
    except SchemaError as exc:
        return [RowError(source, None, None, f"schema check failed: {exc}")]
    return []


def _locate(cases: pl.DataFrame, frame: pl.DataFrame, source: str) -> list[RowError]:
    rows = frame.get_column("source_row") if "source_row" in frame.columns else None
    files = frame.get_column("source_file") if "source_file" in frame.columns else None
    errors: list[RowError] = []
    for case in cases.iter_rows(named=True):
        index = case.get("index")
        row = file = None
        if index is not None and 0 <= int(index) < frame.height:
            row = int(rows[int(index)]) if rows is not None else int(index) + 1
            file = str(files[int(index)]) if files is not None else None
        column = case.get("column")
        field = None if column in (None, "", "InvoiceLinesSchema") else str(column)
        errors.append(
            RowError(
                source=file or source,
                row=row,
                field=field if field in frame.columns else None,
                message=f"schema check {case.get('check')!s} failed: {case.get('failure_case')!s}",
            )
        )
    return errors
