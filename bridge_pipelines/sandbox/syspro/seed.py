"""The demo company as SYSPRO holds it, and the mapping tables the demo's mapping step reads.

Derived from `sandbox.demo_company.DEMO_COMPANY`, deterministically:

- Stampli vendor `V-0001` is SYSPRO supplier `SUP00001` (the vendor's `erp_vendor_code`); a
  vendor marked `in_erp=False` gets a code by the same rule but is NOT seeded, so posting to it
  is refused as an unknown supplier.
- Stampli GL account `6100` is SYSPRO ledger code `10-6100` (`LEDGER_PREFIX` + code); accounts
  marked `in_erp=False` are not seeded; inactive ones are seeded on hold (no postings).
- Cost centers are GL analysis codes of analysis type 1, with the same code (`CC-EAST`).
- Payment terms "Net 30" are terms code `30`.
"""

from dataclasses import dataclass, field

from bridge_pipelines.sandbox.demo_company import DEMO_COMPANY, DemoCompany, DemoVendor

LEDGER_PREFIX = "10-"
AP_CONTROL_ACCOUNT = "10-2000"
TAX_CONTROL_ACCOUNT = "10-2310"
COST_CENTER_ANALYSIS_TYPE = 1
LOCAL_CURRENCY = "USD"


@dataclass(frozen=True)
class Operator:
    """A SYSPRO operator allowed to log on to a company (and, if enabled, to OData)."""

    operator: str
    password: str
    company: str
    odata_enabled: bool = True


@dataclass(frozen=True)
class SeedSupplier:
    """An `ApSupplier` row."""

    supplier: str
    name: str
    short_name: str
    currency: str
    terms_code: str
    tax_regn_num: str
    email: str
    telephone: str
    address: tuple[str, str, str, str, str]
    postal_code: str
    on_hold: bool = False


@dataclass(frozen=True)
class SeedLedgerCode:
    """A `GenMaster` row: a GL ledger code."""

    gl_code: str
    description: str
    account_type: str
    on_hold: bool = False


@dataclass(frozen=True)
class SysproSeed:
    """Everything the sandbox is seeded with, plus the Stampli → SYSPRO mapping tables."""

    company_id: str
    company_password: str
    company_name: str
    operators: tuple[Operator, ...]
    currencies: tuple[str, ...]
    terms: dict[str, int]
    suppliers: tuple[SeedSupplier, ...]
    ledger_codes: tuple[SeedLedgerCode, ...]
    analysis_codes: dict[str, str]
    supplier_map: dict[str, str] = field(default_factory=dict)
    ledger_map: dict[str, str] = field(default_factory=dict)
    analysis_map: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        """The seed as `/_sandbox/seed` shows it (operator passwords included: demo only)."""
        return {
            "company_id": self.company_id,
            "company_name": self.company_name,
            "operators": [
                {"operator": o.operator, "company": o.company, "odata_enabled": o.odata_enabled}
                for o in self.operators
            ],
            "currencies": list(self.currencies),
            "terms": self.terms,
            "suppliers": [s.supplier for s in self.suppliers],
            "ledger_codes": [c.gl_code for c in self.ledger_codes],
            "ledger_codes_on_hold": [c.gl_code for c in self.ledger_codes if c.on_hold],
            "analysis_codes": self.analysis_codes,
            "ap_control_account": AP_CONTROL_ACCOUNT,
            "tax_control_account": TAX_CONTROL_ACCOUNT,
            "supplier_map": self.supplier_map,
            "ledger_map": self.ledger_map,
            "analysis_map": self.analysis_map,
        }


def supplier_code(vendor_id: str) -> str:
    """The SYSPRO supplier code of a Stampli vendor id: `V-0007` -> `SUP00007`."""
    digits = "".join(c for c in vendor_id if c.isdigit())
    return f"SUP{int(digits or 0):05d}"


def ledger_code(stampli_gl_code: str) -> str:
    """The SYSPRO ledger code of a Stampli GL account: `6100` -> `10-6100`."""
    return f"{LEDGER_PREFIX}{stampli_gl_code}"


def terms_code(payment_terms: str) -> str:
    """`Net 30` -> `30` (SYSPRO terms codes are two characters)."""
    digits = "".join(c for c in payment_terms if c.isdigit())
    return digits[:2] or "30"


_ACCOUNT_TYPES = {"Asset": "A", "Liability": "L", "Revenue": "R", "Expense": "E", "Equity": "C"}


def _supplier(vendor: DemoVendor) -> SeedSupplier:
    return SeedSupplier(
        supplier=supplier_code(vendor.id),
        name=vendor.name[:50],
        short_name=vendor.name[:20],
        currency=vendor.currency,
        terms_code=terms_code(vendor.payment_terms),
        tax_regn_num=vendor.tax_id,
        email=vendor.email,
        telephone=vendor.phone,
        address=(
            vendor.address_line1,
            vendor.address_line2,
            vendor.city,
            vendor.region,
            vendor.country,
        ),
        postal_code=vendor.postal_code,
    )


def build_seed(company: DemoCompany = DEMO_COMPANY) -> SysproSeed:
    """The SYSPRO view of `company`."""
    vendors = [v for v in company.vendors if v.in_erp]
    accounts = [a for a in company.gl_accounts if a.in_erp]
    ledger = [
        SeedLedgerCode(ledger_code(a.code), a.name, _ACCOUNT_TYPES.get(a.type, "E"), not a.active)
        for a in accounts
    ]
    ledger.append(SeedLedgerCode(TAX_CONTROL_ACCOUNT, "Purchase Tax Control", "L"))
    return SysproSeed(
        company_id="DEMO",
        company_password="",
        company_name=company.name,
        operators=(
            Operator("BRIDGE", "Bridge#Demo1", "DEMO", odata_enabled=True),
            Operator("CLERK", "Clerk#Demo1", "DEMO", odata_enabled=False),
        ),
        currencies=("USD", "EUR", "CAD", "GBP", "JPY"),
        terms={"15": 15, "30": 30, "45": 45, "60": 60},
        suppliers=tuple(_supplier(v) for v in vendors),
        ledger_codes=tuple(ledger),
        analysis_codes={
            cc: f"Cost center {cc.removeprefix('CC-').title()}" for cc in company.cost_centers
        },
        supplier_map={v.id: supplier_code(v.id) for v in vendors},
        ledger_map={a.code: ledger_code(a.code) for a in accounts},
        analysis_map={cc: cc for cc in company.cost_centers},
    )


SYSPRO_SEED = build_seed()
"""The demo company's SYSPRO seed; the mapping step and the demo read its `*_map` tables."""
