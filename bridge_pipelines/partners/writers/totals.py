"""Control totals of a file: rows, debits and credits (GL, per cost centre too), amounts."""

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from bridge_pipelines.partners.records import GlLine, InvoiceLine, PoLine, Row

ZERO = Decimal("0.00")


class Totals:
    """Running totals as rows are written; `as_dict()` goes to the ledger and the metadata."""

    def __init__(self, dataset: str) -> None:
        self.dataset = dataset
        self.rows = 0
        self.debits = ZERO
        self.credits = ZERO
        self.amount = ZERO
        self.documents: set[str] = set()
        self.by_centre: dict[str, list[Decimal]] = {}

    def add(self, row: Row, values: Mapping[str, Any]) -> None:
        self.rows += 1
        if isinstance(row, GlLine):
            if row.amount > 0:
                self.debits += row.amount
            else:
                self.credits -= row.amount
            centre = str(values.get("cost_centre") or row.cost_centre)
            sums = self.by_centre.setdefault(centre, [ZERO, ZERO])
            sums[0 if row.amount > 0 else 1] += abs(row.amount)
        elif isinstance(row, InvoiceLine):
            self.amount += row.amount
            self.documents.add(f"{row.supplier}/{row.invoice}")
        elif isinstance(row, PoLine):
            self.amount += row.amount
            self.documents.add(row.purchase_order)

    def as_dict(self) -> dict[str, Any]:
        if self.dataset == "gl_journal":
            return {
                "lines": self.rows,
                "debits": self.debits,
                "credits": self.credits,
                "cost_centres": {
                    c: {"debits": d, "credits": k} for c, (d, k) in sorted(self.by_centre.items())
                },
            }
        return {"lines": self.rows, "documents": len(self.documents), "amount": self.amount}
