"""Everything Dagster shows for one tenant, built from its tenant file alone."""

import dagster as dg

from bridge_pipelines.defs.assets import build_stampli_asset
from bridge_pipelines.defs.partitions import build_daily_partitions_def
from bridge_pipelines.defs.sensors import build_intake_sensor
from bridge_pipelines.tenants.models import MASTER_KINDS, TRANSACTIONAL_KINDS, TenantConfig


def build_tenant_defs(tenant: TenantConfig) -> dg.Definitions:
    """Assets keyed `[tenant, stage, entity]` in the tenant's own group, its jobs and sensor."""
    partitions_def = build_daily_partitions_def(tenant)
    transactional = [build_stampli_asset(tenant, k, partitions_def) for k in TRANSACTIONAL_KINDS]
    master = [build_stampli_asset(tenant, k, None) for k in MASTER_KINDS]
    intake_job = dg.define_asset_job(
        name=f"{tenant.id}_intake",
        selection=dg.AssetSelection.assets(*transactional),
        executor_def=dg.in_process_executor,
        tags={"bridge/tenant": tenant.id},
        description=f"Take {tenant.name}'s pending Stampli invoices and payments for one day.",
    )
    master_job = dg.define_asset_job(
        name=f"{tenant.id}_master_intake",
        selection=dg.AssetSelection.assets(*master),
        executor_def=dg.in_process_executor,
        tags={"bridge/tenant": tenant.id},
        description=f"Take {tenant.name}'s pending Stampli vendor and GL account files.",
    )
    return dg.Definitions(
        assets=[*transactional, *master],
        jobs=[intake_job, master_job],
        sensors=[build_intake_sensor(tenant, intake_job, master_job)],
    )
