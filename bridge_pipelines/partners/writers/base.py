"""What every writer returns, and the per-row field values the layouts pick from."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from bridge_pipelines.errors import BadInputError
from bridge_pipelines.partners.records import GlLine, InvoiceLine, PoLine, Row, row_label
from bridge_pipelines.partners.translate import Translator

Cell = str | int | Decimal | date

LINE_ENDINGS = {"lf": "\n", "crlf": "\r\n"}


@dataclass(frozen=True)
class BuiltFile:
    """A partner file's bytes and what it holds (for the audit and the Dagster metadata)."""

    data: bytes
    rows: int
    totals: Mapping[str, Any] = field(default_factory=dict)


def field_values(
    row: Row, needed: frozenset[str], translator: Translator, suppliers: Mapping[str, str]
) -> dict[str, Cell]:
    """The dataset fields a layout uses, translated codes included (misses noted)."""
    values: dict[str, Cell] = {}
    if isinstance(row, GlLine):
        values = {
            "year": row.year,
            "period": row.period,
            "journal": row.journal,
            "entry": row.entry,
            "date": row.date,
            "syspro_account": row.account,
            "syspro_cost_centre": row.cost_centre,
            "amount": row.amount,
            "debit": row.amount if row.amount > 0 else Decimal("0.00"),
            "credit": -row.amount if row.amount < 0 else Decimal("0.00"),
            "reference": row.reference,
            "comment": row.comment,
        }
    elif isinstance(row, InvoiceLine):
        values = {
            "supplier": row.supplier,
            "invoice": row.invoice,
            "line": row.line,
            "invoice_date": row.invoice_date,
            "due_date": row.due_date,
            "currency": row.currency,
            "purchase_order": row.purchase_order,
            "stock_code": row.stock_code,
            "description": row.description,
            "quantity": row.quantity,
            "uom": row.uom,
            "unit_price": row.unit_price,
            "amount": row.amount,
        }
    elif isinstance(row, PoLine):
        values = {
            "purchase_order": row.purchase_order,
            "line": row.line,
            "supplier": row.supplier,
            "order_date": row.order_date,
            "due_date": row.due_date,
            "stock_code": row.stock_code,
            "description": row.description,
            "quantity": row.quantity,
            "uom": row.uom,
            "price": row.price,
            "amount": row.amount,
        }
    if "supplier_name" in needed and not isinstance(row, GlLine):
        values["supplier_name"] = suppliers.get(row.supplier, "")
    if "account" in needed and not isinstance(row, PoLine):
        values["account"] = translator.account(row.account, row)
    if "cost_centre" in needed and not isinstance(row, PoLine):
        values["cost_centre"] = translator.cost_centre(row.cost_centre, row)
    return values


def encode_line(text: str, encoding: str, file: str, row: Row | None) -> bytes:
    """`text` in the file's encoding; a character it cannot hold is an error naming the row.

    Raises:
        BadInputError: the text has a character the encoding lacks.
    """
    try:
        return text.encode(encoding)
    except UnicodeEncodeError as exc:
        where = row_label(row) if row is not None else "the header"
        bad = exc.object[exc.start : exc.end]
        raise BadInputError(
            f"{file}: {where}: {bad!r} cannot be written in {encoding}; "
            "change the file's encoding in the partners file or the text in SYSPRO"
        ) from None
