"""Partner exports in Dagster: one asset per partner file, partitioned by month, on a calendar.

- `[tenant, syspro, gl_journal|ap_invoices|purchase_orders]`: the SYSPRO datasets the files are
  read from (external assets: SYSPRO changes them, not Dagster), for lineage.
- `[tenant, partners, <partner>, <dataset>_<format>]`: one per file a partner receives, built
  by one multi-asset per partner (one SFTP session delivers the partner's files together),
  partitioned by month in the tenant's zone. Metadata: rows, totals, sha256, remote name,
  how the delivery was verified. Materializing a partition from the UI is the on-demand run
  (`bridge export` is the same from the command line).
- One schedule for every tenant (`partner_close_calendar`, every 15 minutes): a partner whose
  close calendar is due (business day N after month end, or its weekday, at its time in the
  tenant's zone) gets a run for that month. A schedule per tenant would be a job per tenant.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from bridge_pipelines.defs.metadata import markdown_table
from bridge_pipelines.defs.resources import BridgeResource
from bridge_pipelines.partners.build import file_key
from bridge_pipelines.partners.config import load_partners
from bridge_pipelines.partners.export import PartnerRun
from bridge_pipelines.partners.models import Partner, PartnerFile
from bridge_pipelines.partners.periods import Period, due_periods
from bridge_pipelines.tenants.models import TenantConfig

SCHEDULE_CRON = "*/15 * * * *"
SYSPRO_DATASETS = ("gl_journal", "ap_invoices", "purchase_orders")


@dataclass(frozen=True)
class PartnerDefs:
    """The partner assets of every tenant, and what the schedule needs to request runs."""

    assets: list[dg.AssetsDefinition | dg.AssetSpec]
    targets: list[tuple[TenantConfig, Partner]]


def source_key(tenant_id: str, dataset: str) -> dg.AssetKey:
    """`[tenant, syspro, dataset]`: a SYSPRO dataset a partner file is read from."""
    return dg.AssetKey([tenant_id, "syspro", dataset])


def file_asset_key(tenant_id: str, partner_id: str, spec: PartnerFile) -> dg.AssetKey:
    """`[tenant, partners, partner, dataset_format]`."""
    return dg.AssetKey([tenant_id, "partners", partner_id, file_key(spec).replace(".", "_")])


def monthly_partitions(tenant: TenantConfig) -> dg.MonthlyPartitionsDefinition:
    """Months in the tenant's zone from its onboarding month.

    The current month is included (`end_offset=1`) for weekly partners: they send the month to
    date.
    """
    start = tenant.partitions_start.replace(day=1)
    return dg.MonthlyPartitionsDefinition(
        start_date=start.isoformat(), timezone=tenant.timezone, end_offset=1
    )


def partition_key(period: Period) -> str:
    """The monthly partition of a period (`2026-11` -> `2026-11-01`)."""
    return period.first_day.isoformat()


def _partner_asset(
    tenant: TenantConfig, partner: Partner, partitions: dg.MonthlyPartitionsDefinition
) -> dg.AssetsDefinition:
    keys = {file_key(spec): file_asset_key(tenant.id, partner.id, spec) for spec in partner.files}

    @dg.multi_asset(
        name=f"{tenant.id}__partner_{partner.id}",
        specs=[
            dg.AssetSpec(
                keys[file_key(spec)],
                group_name=tenant.id,
                deps=[source_key(tenant.id, spec.dataset)],
                kinds={"sftp", "x12" if spec.format.startswith("x12") else "csv"},
                tags={"bridge/tenant": tenant.id},
                skippable=True,
                description=(
                    f"{spec.dataset.replace('_', ' ')} as {spec.format} for {partner.name} "
                    f"(`{spec.name}` in `{partner.folder}`)"
                ),
            )
            for spec in partner.files
        ],
        partitions_def=partitions,
        can_subset=False,
    )
    def _asset(
        context: dg.AssetExecutionContext, bridge: BridgeResource
    ) -> Iterator[dg.MaterializeResult[None]]:
        period = Period.parse(context.partition_key[:7])
        runtime = bridge.intake()
        run = PartnerRun(tenant, partner, runtime.ledger, runtime.keyring)
        try:
            outcomes = run.run(period)
        finally:
            run.close()
        failed = []
        for outcome in outcomes:
            if outcome.status == "failed":
                failed.append(f"{outcome.file}: {outcome.error}")
                continue
            if outcome.status == "nothing_new":
                continue
            yield dg.MaterializeResult(
                asset_key=keys[outcome.file],
                metadata=_metadata(outcome.__dict__),
            )
        if failed:
            raise dg.Failure(
                description=f"partner {partner.id} {period}: {len(failed)} file(s) not sent",
                metadata={
                    "failures": dg.MetadataValue.md(markdown_table([{"file": f} for f in failed]))
                },
            )

    return _asset


def _metadata(outcome: dict[str, Any]) -> dict[str, Any]:
    totals = {k: str(v) for k, v in outcome["totals"].items() if not isinstance(v, dict)}
    return {
        "status": outcome["status"],
        "remote_name": outcome["remote_name"],
        "rows": dg.MetadataValue.int(outcome["rows"]),
        "sha256": outcome["sha256"],
        "verified": outcome["verified"] or "",
        **{f"total_{k}": v for k, v in totals.items()},
    }


def build_partner_defs(tenants: Sequence[TenantConfig]) -> PartnerDefs:
    """Every tenant's partner assets (a partners file that does not validate fails the load)."""
    assets: list[dg.AssetsDefinition | dg.AssetSpec] = []
    targets: list[tuple[TenantConfig, Partner]] = []
    for tenant in tenants:
        partners = load_partners(tenant).partners
        if not partners:
            continue
        partitions = monthly_partitions(tenant)
        used = sorted({spec.dataset for p in partners for spec in p.files})
        assets.extend(
            dg.AssetSpec(
                source_key(tenant.id, dataset),
                group_name=tenant.id,
                kinds={"syspro"},
                tags={"bridge/tenant": tenant.id},
                description=f"SYSPRO {dataset.replace('_', ' ')} (read over OData by ChangedAt)",
            )
            for dataset in used
        )
        for partner in partners:
            assets.append(_partner_asset(tenant, partner, partitions))
            targets.append((tenant, partner))
    return PartnerDefs(assets, targets)


def partner_run_requests(
    tenant: TenantConfig, partner: Partner, tick: datetime
) -> list[dg.RunRequest]:
    """The runs a partner's close calendar asks for at `tick` (one per month due)."""
    day = tick.astimezone(tenant.zone).date().isoformat()
    return [
        dg.RunRequest(
            run_key=f"{tenant.id}-partner-{partner.id}-{period}-{day}",
            asset_selection=[file_asset_key(tenant.id, partner.id, s) for s in partner.files],
            partition_key=partition_key(period),
            tags={"bridge/tenant": tenant.id, "bridge/partner": partner.id},
        )
        for period in due_periods(partner.calendar, tick, tenant.zone)
    ]


def build_partner_schedule(defs: PartnerDefs) -> dg.ScheduleDefinition | None:
    """One schedule for every partner of every tenant, each on its own close calendar."""
    if not defs.targets:
        return None
    selection = [file_asset_key(t.id, p.id, spec) for t, p in defs.targets for spec in p.files]
    targets = defs.targets

    @dg.schedule(
        name="partner_close_calendar",
        cron_schedule=SCHEDULE_CRON,
        target=dg.AssetSelection.assets(*selection),
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Every 15 minutes, each partner whose close calendar is due (business day "
        "N after month end, or its weekday, at its time in the tenant's zone) gets its files "
        "for that month; the run key is per partner, month and day, so it runs once a day.",
    )
    def _schedule(context: dg.ScheduleEvaluationContext) -> Iterator[dg.RunRequest]:
        tick = context.scheduled_execution_time or datetime.now(UTC)
        for tenant, partner in targets:
            yield from partner_run_requests(tenant, partner, tick)

    return _schedule
