"""The demo company as SAP Business One holds it, and the Stampli -> SAP mapping tables.

Derived from `sandbox.demo_company.DEMO_COMPANY`, deterministically:

- Stampli vendor `V-0007` is business partner `V10007` (`CardType` `cSupplier`); a vendor
  marked `in_erp=False` gets a code by the same rule but is NOT seeded, so an invoice for it is
  refused as an unknown business partner.
- Stampli GL account `6100` is chart-of-accounts `Code` `_SYS00000006100` (B1's internal code,
  `FormatCode` `6100-000`); accounts marked `in_erp=False` are not seeded, inactive ones are
  seeded with `ActiveAccount` `tNO` (no postings).
- Cost center `CC-EAST` is profit center `EAST` in dimension 1 (`CenterCode` max 8 chars).
- Two projects (`P001`, `P002`) and one expired one (`P099`), and a few purchase orders, three
  open and one closed.
"""

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bridge_pipelines.sandbox.demo_company import DEMO_COMPANY, DemoCompany, DemoVendor

AP_CONTROL_GL = "2000"
# The bank account outgoing payments are made from (issue 15): in B1 only, Stampli has none.
BANK_ACCOUNT = "_SYS00000001010"
LOCAL_CURRENCY = "USD"


@dataclass(frozen=True)
class SeedUser:
    """A B1 user allowed to log in to the company."""

    user_name: str
    password: str


@dataclass(frozen=True)
class SeedPurchaseOrder:
    """An open (or closed) purchase order: one service line per (account, amount)."""

    doc_num: int
    card_code: str
    doc_date: str
    num_at_card: str
    status: str
    lines: tuple[tuple[str, str, Decimal], ...]  # (account code, description, line total)


@dataclass(frozen=True)
class SapB1Seed:
    """Everything the sandbox is seeded with, plus the Stampli -> SAP B1 mapping tables."""

    company_db: str
    company_name: str
    users: tuple[SeedUser, ...]
    business_partners: tuple[dict[str, Any], ...]
    accounts: tuple[dict[str, Any], ...]
    profit_centers: tuple[dict[str, Any], ...]
    projects: tuple[dict[str, Any], ...]
    purchase_orders: tuple[SeedPurchaseOrder, ...]
    ap_control_account: str
    supplier_map: dict[str, str] = field(default_factory=dict)
    account_map: dict[str, str] = field(default_factory=dict)
    profit_center_map: dict[str, str] = field(default_factory=dict)
    project_codes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        """The seed as `/_sandbox/seed` shows it (passwords included: demo only)."""
        return {
            "company_db": self.company_db,
            "company_name": self.company_name,
            "users": [{"UserName": u.user_name, "Password": u.password} for u in self.users],
            "suppliers": [bp["CardCode"] for bp in self.business_partners],
            "accounts": [a["Code"] for a in self.accounts],
            "inactive_accounts": [a["Code"] for a in self.accounts if a["ActiveAccount"] == "tNO"],
            "profit_centers": [p["CenterCode"] for p in self.profit_centers],
            "projects": [p["Code"] for p in self.projects],
            "open_purchase_orders": [
                p.doc_num for p in self.purchase_orders if p.status == "bost_Open"
            ],
            "ap_control_account": self.ap_control_account,
            "supplier_map": self.supplier_map,
            "account_map": self.account_map,
            "profit_center_map": self.profit_center_map,
            "project_codes": list(self.project_codes),
        }


def card_code(vendor_id: str) -> str:
    """The business partner code of a Stampli vendor id: `V-0007` -> `V10007`."""
    digits = "".join(c for c in vendor_id if c.isdigit())
    return f"V{10000 + int(digits or 0)}"


def account_code(stampli_gl_code: str) -> str:
    """B1's internal account code of a Stampli GL account: `6100` -> `_SYS00000006100`."""
    return f"_SYS{stampli_gl_code.zfill(11)}"


def profit_center_code(cost_center: str) -> str:
    """`CC-EAST` -> `EAST` (B1 `CenterCode` holds at most 8 characters)."""
    return cost_center.removeprefix("CC-")[:8]


_ACCOUNT_TYPES = {"Expense": "at_Expenses", "Revenue": "at_Revenues"}
_PAY_TERMS = {"Net 15": 2, "Net 30": 3, "Net 45": 4, "Net 60": 5}


def _partner(vendor: DemoVendor) -> dict[str, Any]:
    return {
        "CardCode": card_code(vendor.id),
        "CardName": vendor.name[:100],
        "CardType": "cSupplier",
        "GroupCode": 101,
        "FederalTaxID": vendor.tax_id,
        "Currency": vendor.currency,
        "EmailAddress": vendor.email,
        "Phone1": vendor.phone,
        "Address": vendor.address_line1,
        "City": vendor.city,
        "ZipCode": vendor.postal_code,
        "Country": vendor.country,
        "PayTermsGrpCode": _PAY_TERMS.get(vendor.payment_terms, 3),
        "Valid": "tYES",
        "Frozen": "tNO",
        "BPAddresses": [
            {"AddressName": "Bill to", "Street": vendor.address_line1, "City": vendor.city,
             "ZipCode": vendor.postal_code, "Country": vendor.country,
             "AddressType": "bo_BillTo", "BPCode": card_code(vendor.id), "RowNum": 0}
        ],
        "ContactEmployees": [],
    }  # fmt: skip


def build_seed(company: DemoCompany = DEMO_COMPANY) -> SapB1Seed:
    """The SAP B1 view of `company`."""
    vendors = [v for v in company.vendors if v.in_erp]
    accounts = [a for a in company.gl_accounts if a.in_erp]
    first, second, third = (card_code(v.id) for v in vendors[:3])
    raw, freight, office = (account_code(c) for c in ("6100", "6200", "6300"))
    return SapB1Seed(
        company_db="SBODEMOUS",
        company_name=company.name,
        users=(SeedUser("manager", "B1#Demo1"), SeedUser("bridge", "Bridge#B1")),
        business_partners=tuple(_partner(v) for v in vendors),
        accounts=(
            *(
                {
                    "Code": account_code(a.code),
                    "Name": a.name,
                    "FormatCode": f"{a.code}-000",
                    "AccountType": _ACCOUNT_TYPES.get(a.type, "at_Other"),
                    "ActiveAccount": "tYES" if a.active else "tNO",
                }
                for a in accounts
            ),
            {
                "Code": BANK_ACCOUNT,
                "Name": "Operating Bank Account",
                "FormatCode": "1010-000",
                "AccountType": "at_Other",
                "ActiveAccount": "tYES",
            },
        ),
        profit_centers=tuple(
            {
                "CenterCode": profit_center_code(cc),
                "CenterName": f"Cost center {cc.removeprefix('CC-').title()}",
                "InWhichDimension": 1,
                "Active": "tYES",
            }
            for cc in company.cost_centers
        ),
        projects=(
            {
                "Code": "P001",
                "Name": "Plant expansion",
                "Active": "tYES",
                "ValidFrom": "2024-01-01",
                "ValidTo": None,
            },
            {
                "Code": "P002",
                "Name": "ERP upgrade",
                "Active": "tYES",
                "ValidFrom": "2024-01-01",
                "ValidTo": None,
            },
            {
                "Code": "P099",
                "Name": "Closed pilot",
                "Active": "tNO",
                "ValidFrom": "2022-01-01",
                "ValidTo": "2022-12-31",
            },
        ),
        purchase_orders=(
            SeedPurchaseOrder(
                1,
                first,
                "2024-04-02",
                "PO-REQ-1",
                "bost_Open",
                ((raw, "Steel sheet", Decimal("4200.00")), (freight, "Freight", Decimal("350.00"))),
            ),
            SeedPurchaseOrder(
                2,
                second,
                "2024-04-10",
                "PO-REQ-2",
                "bost_Open",
                ((raw, "Bearings", Decimal("1280.50")),),
            ),
            SeedPurchaseOrder(
                3,
                third,
                "2024-04-15",
                "PO-REQ-3",
                "bost_Open",
                ((office, "Catering", Decimal("640.00")),),
            ),
            SeedPurchaseOrder(
                4,
                first,
                "2024-03-01",
                "PO-REQ-0",
                "bost_Close",
                ((raw, "Aluminium", Decimal("900.00")),),
            ),
        ),
        ap_control_account=account_code(AP_CONTROL_GL),
        supplier_map={v.id: card_code(v.id) for v in vendors},
        account_map={a.code: account_code(a.code) for a in accounts},
        profit_center_map={cc: profit_center_code(cc) for cc in company.cost_centers},
        project_codes=("P001", "P002"),
    )


SAP_B1_SEED = build_seed()
"""The demo company's SAP B1 seed; the mapping step and the demo read its `*_map` tables."""
