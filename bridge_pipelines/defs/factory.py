"""Everything Dagster shows for one tenant, built from its tenant file alone."""

import dagster as dg

from bridge_pipelines.defs.assets import build_stampli_asset
from bridge_pipelines.defs.partitions import build_daily_partitions_def
from bridge_pipelines.defs.sensors import build_intake_sensor
from bridge_pipelines.tenants.models import FILE_KINDS, TenantConfig


def build_tenant_defs(tenant: TenantConfig) -> dg.Definitions:
    """Assets keyed `[tenant, stage, entity]` in the tenant's own group, its job and sensor."""
    partitions_def = build_daily_partitions_def(tenant)
    assets = [build_stampli_asset(tenant, kind, partitions_def) for kind in FILE_KINDS]
    intake_job = dg.define_asset_job(
        name=f"{tenant.id}_intake",
        selection=dg.AssetSelection.assets(*assets),
        partitions_def=partitions_def,
        executor_def=dg.in_process_executor,
        tags={"bridge/tenant": tenant.id},
        description=f"Take {tenant.name}'s pending Stampli files for one day.",
    )
    return dg.Definitions(
        assets=assets,
        jobs=[intake_job],
        sensors=[build_intake_sensor(tenant, intake_job)],
    )
