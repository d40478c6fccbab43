"""How the demo runs a tenant on the SAP B1 sandbox: its `erp:` block, mapping and PO file."""

from collections.abc import Callable

from bridge_pipelines.erps.plugin import DemoSeed
from bridge_pipelines.sandbox.sap_b1.app import SERVICE_ROOT
from bridge_pipelines.sandbox.sap_b1.seed import SAP_B1_SEED

DEMO_USER = "bridge"  # the integration user; `manager` stays the admin's


def _erp_section(base_url: str, encrypt: Callable[[str, str], str]) -> dict[str, object]:
    user = next(u for u in SAP_B1_SEED.users if u.user_name == DEMO_USER)
    return {
        "kind": "sap_b1",
        "base_url": f"{base_url}{SERVICE_ROOT}/v1",
        "company": SAP_B1_SEED.company_db,
        "username": user.user_name,
        "password": encrypt("erp.password", user.password),
        "sap_b1_posting_mode": "service_invoice",
    }


DEMO_SEED = DemoSeed(
    erp_section=_erp_section,
    mapping={
        "vendors": SAP_B1_SEED.supplier_map,
        "gl_accounts": SAP_B1_SEED.account_map,
        "cost_centers": SAP_B1_SEED.profit_center_map,
    },
    api_root=f"{SERVICE_ROOT}/v1",
    # Stampli's PO file: from the ERP that has purchase orders, every 2 hours.
    schedules={"open_purchase_orders_cron": "15 */2 * * *"},
)
