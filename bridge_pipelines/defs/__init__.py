"""The Dagster layer: thin wiring over the domain packages. Nothing else imports dagster."""

from collections.abc import Sequence

import dagster as dg

from bridge_pipelines.defs.alerts import run_failure_alerts
from bridge_pipelines.defs.broken import broken_files, build_broken_tenant_defs
from bridge_pipelines.defs.factory import build_tenant_defs
from bridge_pipelines.defs.masterdata import build_master_data_defs
from bridge_pipelines.defs.partners import build_partner_defs, build_partner_schedule
from bridge_pipelines.defs.resources import BridgeResource
from bridge_pipelines.defs.review import REVIEW_JOBS
from bridge_pipelines.defs.shared_sensors import build_shared_sensors
from bridge_pipelines.errors import FieldProblem
from bridge_pipelines.settings import get_settings
from bridge_pipelines.tenants.loader import inspect_tenants
from bridge_pipelines.tenants.models import TenantConfig
from bridge_pipelines.tenants.shards import Shard, configured_shard, select


def build_defs(
    tenants: Sequence[TenantConfig] | None = None,
    problems: Sequence[FieldProblem] = (),
    shard: Shard | None = None,
) -> dg.Definitions:
    """All tenants' definitions; a tenant file that does not load stops only itself.

    Without `tenants`, every file of the tenants folder: the ones that validate become their
    tenant's definitions, each one that does not a failing placeholder naming file, field and
    problem (`defs.broken`), so one typo never takes the other tenants down.

    Intake runs use the in-process executor: a run is one batch for one tenant, and a fresh
    process per step would cost more than the work (architecture.md, "Dagster model").

    With `shard` (else `BRIDGE_SHARD` when reading the folder), only that shard's tenants and
    broken files (`tenants.shards`): one of K code locations.
    """
    if tenants is None:
        check = inspect_tenants()
        tenants, problems = check.tenants, check.problems
        shard = shard or configured_shard()
    if shard is not None:
        tenants, problems = select(shard, tenants, problems)
    assets: list[dg.AssetsDefinition] = []
    sensors: list[dg.SensorDefinition] = []
    checks: list[dg.AssetChecksDefinition] = []
    for name, found in broken_files(problems, {t.id for t in tenants}).items():
        placeholder, sensor = build_broken_tenant_defs(name, found)
        assets.append(placeholder)
        sensors.append(sensor)
    shared = get_settings().sensors == "shared"  # BRIDGE_SENSORS; defs.shared_sensors
    targets = []
    for tenant in tenants:
        built = build_tenant_defs(tenant, own_sensors=not shared)
        assets.extend(built.assets)
        sensors.extend(built.sensors)
        checks.extend(built.checks)
        targets += [built.intake] if built.intake is not None else []
    if shared:
        sensors.extend(build_shared_sensors(tenants, targets))
    sensors.append(run_failure_alerts)
    master_data = build_master_data_defs(tenants)
    partners = build_partner_defs(tenants)
    partner_schedule = build_partner_schedule(partners)
    return dg.Definitions(
        assets=[*assets, *partners.assets],
        asset_checks=checks,
        sensors=sensors,
        schedules=[
            *(master_data.schedules or []),
            *([partner_schedule] if partner_schedule else []),
        ],
        jobs=[*REVIEW_JOBS, *(master_data.jobs or [])] if master_data.jobs else [],
        resources={"bridge": BridgeResource()},
        executor=dg.in_process_executor,
    )
