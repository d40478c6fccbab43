"""Everything Dagster shows for one tenant, built from its tenant file alone."""

from dataclasses import dataclass, field

import dagster as dg

from bridge_pipelines.defs.aging import ap_aging_assets
from bridge_pipelines.defs.alerts import build_tenant_alerts_sensor
from bridge_pipelines.defs.assets import build_stampli_asset, stampli_asset_key
from bridge_pipelines.defs.masterdata import build_master_data_assets, erp_key, mapping_key
from bridge_pipelines.defs.partitions import build_daily_partitions_def
from bridge_pipelines.defs.payments import posted_payments_assets
from bridge_pipelines.defs.postings import posted_invoices_assets
from bridge_pipelines.defs.reconcile import reconciled_checks
from bridge_pipelines.defs.review import build_review_defs
from bridge_pipelines.defs.sensors import IntakeTargets, build_intake_sensor, intake_targets
from bridge_pipelines.tenants.models import MASTER_KINDS, TRANSACTIONAL_KINDS, TenantConfig


@dataclass(frozen=True)
class TenantDefs:
    """A tenant's assets, checks and sensors, merged by `build_defs` into one `Definitions`.

    `intake` is what the location's shared sensors (`defs.shared_sensors`) need of the tenant
    when its own sensors are not built.
    """

    assets: list[dg.AssetsDefinition]
    sensors: list[dg.SensorDefinition]
    checks: list[dg.AssetChecksDefinition] = field(default_factory=list)
    intake: IntakeTargets | None = None


def build_tenant_defs(tenant: TenantConfig, *, own_sensors: bool = True) -> TenantDefs:
    """Assets keyed `[tenant, stage, entity]` in the tenant's own group, and its sensor.

    No job per tenant: runs target asset selections of the one implicit asset job. Dagster
    resolves every job against the whole asset graph, so a job per tenant made loading
    quadratic in the number of tenants (measured by `python -m bench.defs_load`).
    """
    partitions_def = build_daily_partitions_def(tenant)
    transactional = [build_stampli_asset(tenant, k, partitions_def) for k in TRANSACTIONAL_KINDS]
    master = [build_stampli_asset(tenant, k, None) for k in MASTER_KINDS]
    erp_master = build_master_data_assets(tenant)
    posting = list(
        posted_invoices_assets(
            tenant,
            partitions_def,
            [
                stampli_asset_key(tenant.id, "invoices"),
                *([mapping_key(tenant.id)] if erp_master else []),
            ],
        )
    )
    # Payments after the invoices they settle (issue 15).
    posting += list(posted_payments_assets(tenant, partitions_def))
    posting += list(ap_aging_assets(tenant, partitions_def))
    vendor_sync = [a for a in erp_master if erp_key(tenant.id, "vendor_sync") in a.keys]
    # One run per batch takes the files and posts the day: the blocking checks gate posting.
    # Stampli vendor changes go on to the ERP in the same run that takes them.
    targets = intake_targets(
        tenant, transactional=[*transactional, *posting], master=[*master, *vendor_sync]
    )
    # `bridge verify` for the day, after the postings, in the same run.
    checks = reconciled_checks(tenant, partitions_def) if posting else []
    review_assets, review_sensors = build_review_defs(tenant)
    return TenantDefs(
        assets=[*transactional, *posting, *master, *erp_master, *review_assets],
        sensors=[build_intake_sensor(targets), *review_sensors, build_tenant_alerts_sensor(tenant)]
        if own_sensors
        else [],
        checks=checks,
        intake=targets,
    )
