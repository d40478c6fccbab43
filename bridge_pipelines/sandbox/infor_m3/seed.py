"""The demo company as Infor M3 holds it, the `.ionapi` credentials, and the mapping tables.

Derived from `sandbox.demo_company.DEMO_COMPANY`, deterministically:

- Company (CONO) `100`, division (DIVI) `AAA`, local currency USD, tenant `BRIDGEDEMO_TST`.
- Stampli vendor `V-0001` is supplier (SUNO) `SUP00001`, the vendor's `ErpVendorCode`, so the
  external-id match finds it; except Northwind Traders (`V-0004`), which M3 keeps as
  `NWTRADERS`: Stampli's code is stale, and only the name match finds it (a ranked candidate,
  confirmed in the mapping file). A vendor marked `in_erp=False` is not seeded.
- Stampli GL account `6100` is accounting identity (AITP 1) `6100`; an inactive one is seeded
  closed (`AT01` 0 [I]); accounts marked `in_erp=False` are not seeded.
- Cost center `CC-EAST` is accounting dimension 2 (AITP 2) identity `EAST`.
"""

from dataclasses import dataclass, field
from typing import Any

from bridge_pipelines.sandbox.demo_company import DEMO_COMPANY, DemoVendor

TENANT = "BRIDGEDEMO_TST"
COMPANY = "100"
DIVISION = "AAA"
LOCAL_CURRENCY = "USD"
CLIENT_ID = f"{TENANT}~bridge-stampli-app"
CLIENT_SECRET = "demo-client-secret-7fQ2nV9xLk"
SERVICE_KEY = f"{TENANT}#SVC-BRIDGE-STAMPLI-KEY"
SERVICE_SECRET = "demo-service-secret-Rw4ZpT8sMc"
RENAMED = {"V-0004": "NWTRADERS"}  # M3's own code, unlike Stampli's ErpVendorCode


def supplier_code(vendor: DemoVendor) -> str:
    """M3's SUNO of a demo vendor: its ErpVendorCode (`SUP00001`), or M3's own where renamed."""
    digits = "".join(c for c in vendor.id if c.isdigit())
    return RENAMED.get(vendor.id, f"SUP{int(digits or 0):05d}")


def cost_center_code(cost_center: str) -> str:
    """`CC-EAST` -> `EAST` (an accounting identity holds at most 10 characters)."""
    return cost_center.removeprefix("CC-")[:10]


@dataclass(frozen=True)
class InforM3Seed:
    """Everything the sandbox is seeded with, plus the Stampli -> M3 mapping tables."""

    tenant: str
    company: str
    division: str
    suppliers: tuple[dict[str, Any], ...]
    accounts: tuple[dict[str, Any], ...]
    cost_centers: tuple[dict[str, Any], ...]
    supplier_map: dict[str, str] = field(default_factory=dict)
    account_map: dict[str, str] = field(default_factory=dict)
    cost_center_map: dict[str, str] = field(default_factory=dict)

    def ionapi(self, base_url: str) -> dict[str, str]:
        """The `.ionapi` file the ION API Gateway issues for the bridge's app [C field list]."""
        root = base_url.rstrip("/")
        return {
            "ti": self.tenant,
            "cn": "Bridge Stampli integration",
            "dt": "12",
            "ci": CLIENT_ID,
            "cs": CLIENT_SECRET,
            "iu": root,
            "pu": f"{root}/{self.tenant}/as/",
            "oa": "authorization.oauth2",
            "ot": "token.oauth2",
            "or": "revoke_token.oauth2",
            "ev": "U000000001",
            "v": "1.0",
            "saak": SERVICE_KEY,
            "sask": SERVICE_SECRET,
        }

    def to_json(self) -> dict[str, object]:
        """The seed as `/_sandbox/seed` shows it (credentials included: demo only)."""
        return {
            "tenant": self.tenant,
            "company": self.company,
            "division": self.division,
            "client_id": CLIENT_ID,
            "service_account": SERVICE_KEY,
            "suppliers": [s["SUNO"] for s in self.suppliers],
            "accounts": [a["AITM"] for a in self.accounts],
            "cost_centers": [c["AITM"] for c in self.cost_centers],
            "supplier_map": self.supplier_map,
            "account_map": self.account_map,
            "cost_center_map": self.cost_center_map,
        }


def _supplier(vendor: DemoVendor) -> dict[str, Any]:
    days = "".join(c for c in vendor.payment_terms if c.isdigit()) or "30"
    return {
        "SUNO": supplier_code(vendor),
        "SUNM": vendor.name[:36],
        "STAT": "20",  # [I] 20 = definite (active), 90 = blocked
        "CUCD": vendor.currency,
        "TEPY": days[:3],
        "VRNO": vendor.tax_id[:16],
        "MEAL": vendor.email,
        "CSCD": vendor.country,
        "PHNO": vendor.phone[:16],
    }


def _build() -> InforM3Seed:
    vendors = [v for v in DEMO_COMPANY.vendors if v.in_erp]
    accounts = [a for a in DEMO_COMPANY.gl_accounts if a.in_erp]
    return InforM3Seed(
        tenant=TENANT,
        company=COMPANY,
        division=DIVISION,
        suppliers=tuple(_supplier(v) for v in vendors),
        accounts=tuple(
            {
                "AITP": 1,
                "AITM": a.code,
                "TX40": a.name[:40],
                "TX15": a.name[:15],
                "AT01": 1 if a.active else 0,
                "ACGR": a.type,
            }
            for a in accounts
        ),
        cost_centers=tuple(
            {
                "AITP": 2,
                "AITM": cost_center_code(c),
                "TX40": f"Cost center {c}",
                "TX15": c[:15],
                "AT01": 1,
            }
            for c in DEMO_COMPANY.cost_centers
        ),
        supplier_map={v.id: supplier_code(v) for v in vendors},
        account_map={a.code: a.code for a in accounts if a.active},
        cost_center_map={c: cost_center_code(c) for c in DEMO_COMPANY.cost_centers},
    )


INFOR_M3_SEED = _build()
