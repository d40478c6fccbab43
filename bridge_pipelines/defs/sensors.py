"""One sensor per tenant: list its folders, let the ledger decide what is stable, request runs.

The sensor never downloads or posts. Its run key is the ledger's batch id, so a sensor that
fires twice (Dagster #26404) or a cursor saved late (#6941) cannot take a file twice.
"""

from collections.abc import Iterator

import dagster as dg

from bridge_pipelines.defs.resources import BridgeResource
from bridge_pipelines.intake.scan import group_by_day, scan_tenant
from bridge_pipelines.tenants.models import MASTER_KINDS, TenantConfig


def build_intake_sensor(
    tenant: TenantConfig,
    *,
    transactional: list[dg.AssetsDefinition],
    master: list[dg.AssetsDefinition],
) -> dg.SensorDefinition:
    """The tenant's watcher; it requests intake runs and never touches file contents."""
    transactional_keys = [a.key for a in transactional]
    master_keys = [a.key for a in master]

    @dg.sensor(
        name=f"{tenant.id}_stampli_files",
        asset_selection=dg.AssetSelection.assets(*transactional, *master),
        minimum_interval_seconds=tenant.schedules.sensor_interval_s,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            f"Lists {tenant.name}'s Stampli folders; a file is taken once its size and mtime are "
            f"unchanged for {tenant.sftp.settle_seconds:g} s. Requests one run per batch of "
            "newly stable files (run key = ledger batch id)."
        ),
    )
    def _sensor(
        context: dg.SensorEvaluationContext, bridge: BridgeResource
    ) -> Iterator[dg.RunRequest | dg.SkipReason]:
        ctx = bridge.intake()
        with ctx.sftp(tenant) as client:
            result = scan_tenant(tenant, client, ctx.ledger)
        # Files stable but not yet in a batch: new ones, and any left while a run was active.
        waiting = [row for row in ctx.ledger.pending_files(tenant.id) if row.batch_id is None]
        requested = False
        if waiting and _tenant_run_active(context.instance, tenant.id):
            # One run per tenant per cycle: the active run takes whatever is pending for its
            # day; what is left gets a batch on a later tick.
            yield dg.SkipReason(f"{len(waiting)} files wait for the tenant's active run")
            return
        master_files = [row for row in waiting if row.kind in MASTER_KINDS]
        if master_files:
            batch_id = ctx.ledger.create_batch(tenant.id, [row.id for row in master_files])
            requested = True
            yield dg.RunRequest(
                run_key=batch_id,
                asset_selection=master_keys,
                tags={"bridge/tenant": tenant.id, "bridge/batch": batch_id},
            )
        day_files = [row for row in waiting if row.kind not in MASTER_KINDS]
        for day, rows in sorted(group_by_day(day_files).items()):
            batch_id = ctx.ledger.create_batch(tenant.id, [row.id for row in rows])
            requested = True
            yield dg.RunRequest(
                run_key=batch_id,
                asset_selection=transactional_keys,
                partition_key=day.isoformat(),
                tags={"bridge/tenant": tenant.id, "bridge/batch": batch_id},
            )
        if not requested:
            yield dg.SkipReason(
                f"listed {result.listed} files; none newly stable"
                + (
                    f"; refused names: {result.quarantined_names}"
                    if result.quarantined_names
                    else ""
                )
            )

    return _sensor


ACTIVE_STATUSES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def _tenant_run_active(instance: dg.DagsterInstance, tenant_id: str) -> bool:
    records = instance.get_run_records(
        filters=dg.RunsFilter(tags={"bridge/tenant": tenant_id}, statuses=ACTIVE_STATUSES),
        limit=1,
    )
    return bool(records)
