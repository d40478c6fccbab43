"""The demo company as Acumatica holds it: a mid-sized construction firm with job costing.

Summit Ridge Builders (about 200 staff, Denver) runs AP with job-cost dimensions: branches per
region, projects per job, subaccounts per cost center. Derived from
`sandbox.demo_company.DEMO_COMPANY` so the Stampli simulator's invoices land on codes it has:

- Stampli vendor `V-0007` is Acumatica vendor `VEND0007`; a vendor marked `in_erp=False` is
  not seeded (its invoices are held as unmapped). Four subcontractors only Acumatica knows
  are added (they go to Stampli through the vendor export).
- Stampli GL account `6100` is Acumatica account `61000` (five digits, as Acumatica's demo
  data numbers them); inactive ones are seeded inactive, missing ones are not seeded.
- Stampli cost center `CC-EAST` is subaccount `100-000`; the others likewise. Subaccounts are
  the firm's cost centers; branches and projects are their own dimensions.
- Open purchase orders (subcontracts and material orders) on active jobs, one closed.
"""

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bridge_pipelines.sandbox.demo_company import DEMO_COMPANY, DemoVendor

TENANT = "SummitRidge"
COMPANY_NAME = "Summit Ridge Builders, Inc."
DEFAULT_BRANCH = "HQ"
API_USER = "bridge"
API_PASSWORD = "Summit-Ridge-API-2026!"  # demo only; the tenant file holds it encrypted
CLIENT_ID = "5A1C7E0B-3D2F-4B6A-9C8E-71D0F4A2B9C3@" + TENANT
CLIENT_SECRET = "kq3V9wXz-Summit-Ridge-Client-Secret"  # demo only
CENTER_SUBACCOUNTS = {
    "CC-EAST": "100-000",
    "CC-WEST": "200-000",
    "CC-HQ": "300-000",
    "CC-RND": "400-000",
}
_TERMS = {"Net 15": "15D", "Net 30": "30D", "Net 45": "45D", "Net 60": "60D"}


def vendor_code(vendor_id: str) -> str:
    """`V-0007` -> `VEND0007`."""
    digits = "".join(c for c in vendor_id if c.isdigit())
    return f"VEND{int(digits or 0):04d}"


def account_code(stampli_code: str) -> str:
    """`6100` -> `61000`."""
    return f"{stampli_code}0"


def _vendor(v: DemoVendor) -> dict[str, Any]:
    return {
        "VendorID": vendor_code(v.id),
        "VendorName": v.name,
        "VendorClass": "SUBCON" if v.currency == "USD" else "FOREIGN",
        "Status": "Active",
        "Terms": _TERMS.get(v.payment_terms, "30D"),
        "CurrencyID": v.currency,
        "TaxRegistrationID": v.tax_id,
        "MainContact": {
            "DisplayName": v.name,
            "Email": v.email,
            "Phone1": v.phone,
            "Address": {
                "AddressLine1": v.address_line1,
                "AddressLine2": v.address_line2,
                "City": v.city,
                "State": v.region,
                "PostalCode": v.postal_code,
                "Country": v.country,
            },
        },
    }


_EXTRA_VENDORS = (
    ("RMCONCRETE", "Rocky Mountain Concrete Co.", "SUBCON"),
    ("PEAKELEC", "Peak Electrical Contractors", "SUBCON"),
    ("FRSTEEL", "Front Range Steel Erectors", "SUBCON"),
    ("ALPINERENT", "Alpine Equipment Rental", "RENTAL"),
)
_EXTRA_ACCOUNTS = (
    ("10100", "Operating Cash", "Asset", True),
    ("20100", "Retainage Payable", "Liability", True),
    ("51000", "Subcontractor Costs", "Expense", True),
    ("52000", "Job Materials", "Expense", True),
    ("53000", "Equipment Rental", "Expense", True),
    ("54000", "Permits & Fees", "Expense", True),
)
BRANCHES = (
    ("HQ", "Summit Ridge Headquarters (Denver)", True),
    ("NORTH", "North Region (Fort Collins)", True),
    ("SOUTH", "South Region (Colorado Springs)", True),
    ("WEST", "Western Slope (closed 2024)", False),
)
SUBACCOUNTS = (
    ("000-000", "Default", True),
    ("100-000", "East Region Jobs", True),
    ("200-000", "West Region Jobs", True),
    ("300-000", "Corporate Overhead", True),
    ("400-000", "Estimating & Preconstruction", True),
    ("500-000", "Equipment Yard (retired)", False),
)
PROJECTS = (
    ("X", "Non-Project Code", "Active", "", "HQ"),
    ("RIVERSIDE", "Riverside Condominiums, 84 units", "Active", "RIVERDEV", "HQ"),
    ("HWY36BRIDGE", "Highway 36 Overpass Rehabilitation", "Active", "CDOT", "NORTH"),
    ("MERCYCLINIC", "Mercy Clinic Expansion, Phase 2", "Active", "MERCYHLTH", "SOUTH"),
    ("OLDTOWNLOFTS", "Old Town Lofts (closed out)", "Completed", "OTLLC", "HQ"),
)


@dataclass(frozen=True)
class SeedPurchaseOrder:
    """A purchase order: (account, subaccount, project, description, qty, unit cost) lines."""

    number: str
    vendor: str
    date: str
    status: str
    branch: str
    lines: tuple[tuple[str, str, str, str, Decimal, Decimal], ...]


PURCHASE_ORDERS = (
    SeedPurchaseOrder(
        "PO004512", "VEND0001", "2026-10-05", "Open", "HQ",
        (("52000", "100-000", "RIVERSIDE", "Rebar #5 grade 60, tons", Decimal(40),
          Decimal("1125.00")),
         ("52000", "100-000", "RIVERSIDE", "Tie wire, coils", Decimal(120), Decimal("8.75"))),
    ),
    SeedPurchaseOrder(
        "PO004518", "VEND0004", "2026-10-19", "Open", "NORTH",
        (("51000", "200-000", "HWY36BRIDGE", "Deck formwork subcontract", Decimal(1),
          Decimal("48500.00")),),
    ),
    SeedPurchaseOrder(
        "PO004527", "VEND0011", "2026-11-02", "Open", "SOUTH",
        (("53000", "300-000", "MERCYCLINIC", "Scissor lift rental, weeks", Decimal(6),
          Decimal("640.00")),
         ("53000", "300-000", "MERCYCLINIC", "Delivery and pickup", Decimal(1),
          Decimal("180.00"))),
    ),
    SeedPurchaseOrder(
        "PO004390", "VEND0001", "2026-06-12", "Closed", "HQ",
        (("52000", "100-000", "OLDTOWNLOFTS", "Drywall, sheets", Decimal(800),
          Decimal("14.20")),),
    ),
)  # fmt: skip


@dataclass(frozen=True)
class AcumaticaSeed:
    """Everything the sandbox is seeded with, plus the Stampli -> Acumatica mapping tables."""

    vendors: tuple[dict[str, Any], ...]
    accounts: tuple[dict[str, Any], ...]
    subaccounts: tuple[dict[str, Any], ...]
    branches: tuple[dict[str, Any], ...]
    projects: tuple[dict[str, Any], ...]
    purchase_orders: tuple[SeedPurchaseOrder, ...]
    vendor_map: dict[str, str] = field(default_factory=dict)
    account_map: dict[str, str] = field(default_factory=dict)
    cost_center_map: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        """The seed as `/_sandbox/seed` shows it (credentials included: demo only)."""
        return {
            "tenant": TENANT,
            "company": COMPANY_NAME,
            "user": {"name": API_USER, "password": API_PASSWORD},
            "oauth_client": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
            "vendors": [v["VendorID"] for v in self.vendors],
            "accounts": [a["AccountCD"] for a in self.accounts],
            "subaccounts": [s["SubaccountCD"] for s in self.subaccounts],
            "branches": [b["BranchID"] for b in self.branches],
            "projects": [p["ProjectID"] for p in self.projects],
            "open_purchase_orders": [p.number for p in self.purchase_orders if p.status == "Open"],
            "vendor_map": self.vendor_map,
            "account_map": self.account_map,
            "cost_center_map": self.cost_center_map,
        }


def _build() -> AcumaticaSeed:
    company = DEMO_COMPANY
    vendors = [_vendor(v) for v in company.vendors if v.in_erp]
    vendors += [
        {"VendorID": code, "VendorName": name, "VendorClass": cls, "Status": "Active",
         "Terms": "30D", "CurrencyID": "USD",
         "MainContact": {"DisplayName": name, "Email": f"ap@{code.lower()}.example"}}
        for code, name, cls in _EXTRA_VENDORS
    ]  # fmt: skip
    accounts = [
        {
            "AccountCD": account_code(a.code),
            "Description": a.name,
            "Type": "Income" if a.type == "Revenue" else a.type,
            "Active": a.active,
            "PostOption": "Summary",
            "CurrencyID": "USD",
            "AccountClass": a.type.upper(),
        }
        for a in company.gl_accounts
        if a.in_erp
    ]
    accounts += [
        {"AccountCD": code, "Description": name, "Type": kind, "Active": active,
         "PostOption": "Summary", "CurrencyID": "USD", "AccountClass": kind.upper()}
        for code, name, kind, active in _EXTRA_ACCOUNTS
    ]  # fmt: skip
    return AcumaticaSeed(
        vendors=tuple(vendors),
        accounts=tuple(accounts),
        subaccounts=tuple(
            {"SubaccountCD": c, "Description": d, "Active": a} for c, d, a in SUBACCOUNTS
        ),
        branches=tuple({"BranchID": c, "BranchName": n, "Active": a} for c, n, a in BRANCHES),
        projects=tuple(
            {
                "ProjectID": c,
                "Description": d,
                "Status": s,
                "Customer": cu,
                "Branch": b,
                "NonProject": c == "X",
            }
            for c, d, s, cu, b in PROJECTS
        ),
        purchase_orders=PURCHASE_ORDERS,
        vendor_map={v.id: vendor_code(v.id) for v in company.vendors if v.in_erp},
        account_map={a.code: account_code(a.code) for a in company.gl_accounts if a.in_erp},
        cost_center_map=dict(CENTER_SUBACCOUNTS),
    )


ACUMATICA_SEED = _build()
