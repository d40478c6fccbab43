"""How the demo runs a tenant on the SYSPRO sandbox: its `erp:` block and its mapping."""

from collections.abc import Callable

from bridge_pipelines.erps.plugin import DemoSeed
from bridge_pipelines.sandbox.syspro.app import REST_ROOT
from bridge_pipelines.sandbox.syspro.odata import ODATA_ROOT
from bridge_pipelines.sandbox.syspro.seed import SYSPRO_SEED


def _erp_section(base_url: str, encrypt: Callable[[str, str], str]) -> dict[str, object]:
    operator = next(o for o in SYSPRO_SEED.operators if o.odata_enabled)
    return {
        "kind": "syspro",
        "base_url": f"{base_url}{REST_ROOT}",
        "odata_url": f"{base_url}{ODATA_ROOT}",
        "company": SYSPRO_SEED.company_id,
        "username": operator.operator,
        "password": encrypt("erp.password", operator.password),
    }


DEMO_SEED = DemoSeed(
    erp_section=_erp_section,
    mapping={
        "vendors": SYSPRO_SEED.supplier_map,
        "gl_accounts": SYSPRO_SEED.ledger_map,
        "cost_centers": SYSPRO_SEED.analysis_map,
    },
    api_root=REST_ROOT,
)
