"""Resolving one Stampli invoice onto ERP codes, or saying exactly why it cannot be."""

from dataclasses import dataclass
from decimal import Decimal

from bridge_pipelines.mapping.tables import MappingTables
from bridge_pipelines.stampli.invoice_record import InvoiceRecord


@dataclass(frozen=True)
class ResolvedLine:
    """An invoice line with the ERP's codes."""

    line_number: int
    description: str
    amount: Decimal
    erp_gl_account: str
    erp_cost_center: str | None


@dataclass(frozen=True)
class Resolution:
    """Either every code resolved (`ok`), or the reasons to hold the invoice for review."""

    erp_vendor: str | None
    lines: tuple[ResolvedLine, ...]
    reasons: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.reasons


def resolve_invoice(invoice: InvoiceRecord, tables: MappingTables) -> Resolution:
    """Map a recorded invoice; every unresolved code becomes one located reason."""
    reasons: list[str] = []
    erp_vendor = tables.lookup("vendors", invoice.vendor_id)
    if erp_vendor is None:
        reasons.append(
            f"vendor {invoice.vendor_id} ({invoice.vendor_name or 'no name'}) has no ERP "
            "supplier: map it in the tenant's mapping file or set ErpVendorCode in Stampli"
        )
    lines: list[ResolvedLine] = []
    for line in invoice.lines:
        number = line.line_number
        erp_gl = tables.lookup("gl_accounts", line.gl_account)
        if erp_gl is None:
            reasons.append(f"line {number}: GL account {line.gl_account} has no ERP ledger code")
        erp_cc: str | None = None
        if line.cost_center:
            erp_cc = tables.lookup("cost_centers", line.cost_center)
            if erp_cc is None:
                reasons.append(
                    f"line {number}: cost center {line.cost_center} has no ERP dimension"
                )
        if erp_gl is not None:
            lines.append(
                ResolvedLine(
                    line_number=number,
                    description=line.description,
                    amount=line.amount,
                    erp_gl_account=erp_gl,
                    erp_cost_center=erp_cc,
                )
            )
    return Resolution(erp_vendor=erp_vendor, lines=tuple(lines), reasons=tuple(reasons))
