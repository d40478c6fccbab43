"""Resolving one Stampli invoice onto ERP codes, or saying exactly why it cannot be."""

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bridge_pipelines.mapping.tables import MappingTables


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


def resolve_invoice(payload: Mapping[str, Any], tables: MappingTables) -> Resolution:
    """Map a recorded invoice payload; every unresolved code becomes one located reason."""
    reasons: list[str] = []
    vendor_id = str(payload["vendor_id"])
    erp_vendor = tables.lookup("vendors", vendor_id)
    if erp_vendor is None:
        reasons.append(
            f"vendor {vendor_id} ({payload.get('vendor_name') or 'no name'}) has no ERP supplier: "
            "map it in the tenant's mapping file or set ErpVendorCode in Stampli"
        )
    lines: list[ResolvedLine] = []
    for line in payload["lines"]:
        number = int(line["line_number"])
        gl = str(line["gl_account"])
        erp_gl = tables.lookup("gl_accounts", gl)
        if erp_gl is None:
            reasons.append(f"line {number}: GL account {gl} has no ERP ledger code")
        cost_center = line.get("cost_center")
        erp_cc: str | None = None
        if cost_center:
            erp_cc = tables.lookup("cost_centers", str(cost_center))
            if erp_cc is None:
                reasons.append(f"line {number}: cost center {cost_center} has no ERP dimension")
        if erp_gl is not None:
            lines.append(
                ResolvedLine(
                    line_number=number,
                    description=str(line.get("line_description") or ""),
                    amount=Decimal(str(line["line_amount"])),
                    erp_gl_account=erp_gl,
                    erp_cost_center=erp_cc,
                )
            )
    return Resolution(erp_vendor=erp_vendor, lines=tuple(lines), reasons=tuple(reasons))
