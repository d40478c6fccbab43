"""The rows a partner file is made of, read from SYSPRO and typed: money is Decimal."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class GlLine:
    """One GL journal line (`GenJournalDetail`); positive amount = debit, as SYSPRO keeps it."""

    year: int
    period: int
    journal: int
    entry: int
    date: date
    account: str
    cost_centre: str
    amount: Decimal
    reference: str
    comment: str
    changed_at: str


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    """One AP invoice line (`ApInvoiceDetail`), its invoice's header fields repeated."""

    supplier: str
    invoice: str
    line: int
    invoice_date: date
    due_date: date
    currency: str
    purchase_order: str
    stock_code: str
    description: str
    quantity: Decimal
    uom: str
    unit_price: Decimal
    amount: Decimal
    account: str
    cost_centre: str
    changed_at: str


@dataclass(frozen=True, slots=True)
class PoLine:
    """One purchase order line (`PorMasterDetail`)."""

    purchase_order: str
    line: int
    supplier: str
    order_date: date
    due_date: date
    stock_code: str
    description: str
    quantity: Decimal
    uom: str
    price: Decimal
    changed_at: str

    @property
    def amount(self) -> Decimal:
        return (self.quantity * self.price).quantize(Decimal("0.01"))


Row = GlLine | InvoiceLine | PoLine


def row_label(row: Row) -> str:
    """How a message names a SYSPRO row: `journal 12 entry 3`, `invoice SUP1/INV-1 line 2`."""
    if isinstance(row, GlLine):
        return f"journal {row.journal} entry {row.entry}"
    if isinstance(row, InvoiceLine):
        return f"invoice {row.supplier}/{row.invoice} line {row.line}"
    return f"purchase order {row.purchase_order} line {row.line}"
