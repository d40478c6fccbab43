"""The Dagster layer: thin wiring over the domain packages. Nothing else imports dagster."""

from collections.abc import Sequence

import dagster as dg

from bridge_pipelines.defs.factory import build_tenant_defs
from bridge_pipelines.defs.masterdata import build_master_data_schedule
from bridge_pipelines.defs.partners import build_partner_defs, build_partner_schedule
from bridge_pipelines.defs.resources import BridgeResource
from bridge_pipelines.tenants.loader import load_tenants
from bridge_pipelines.tenants.models import TenantConfig


def build_defs(tenants: Sequence[TenantConfig] | None = None) -> dg.Definitions:
    """All tenants' definitions; a bad tenant file fails the load naming file and field.

    Intake runs use the in-process executor: a run is one batch for one tenant, and a fresh
    process per step would cost more than the work (architecture.md, "Dagster model").
    """
    if tenants is None:
        tenants = load_tenants()
    assets: list[dg.AssetsDefinition] = []
    sensors: list[dg.SensorDefinition] = []
    checks: list[dg.AssetChecksDefinition] = []
    for tenant in tenants:
        built = build_tenant_defs(tenant)
        assets.extend(built.assets)
        sensors.extend(built.sensors)
        checks.extend(built.checks)
    schedule = build_master_data_schedule(tenants)
    partners = build_partner_defs(tenants)
    partner_schedule = build_partner_schedule(partners)
    return dg.Definitions(
        assets=[*assets, *partners.assets],
        asset_checks=checks,
        sensors=sensors,
        schedules=[s for s in (schedule, partner_schedule) if s is not None],
        resources={"bridge": BridgeResource()},
        executor=dg.in_process_executor,
    )
