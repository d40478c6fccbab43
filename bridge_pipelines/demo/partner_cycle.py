"""The demo cycle's partner step: the month just closed, sent to each partner of a tenant.

It materializes the partner assets' partition for last month (tenant's zone), as the close
calendar's schedule would on business day N, and reads back what the ledger says was sent.
"""

from datetime import UTC, datetime

import dagster as dg

from bridge_pipelines.defs.partners import file_asset_key, partition_key
from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.partners.config import load_partners
from bridge_pipelines.partners.periods import Period
from bridge_pipelines.tenants.models import TenantConfig

QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def export_last_month(
    defs: dg.Definitions, tenant: TenantConfig, ledger: Ledger, instance: dg.DagsterInstance
) -> tuple[list[str], list[str]]:
    """(summary lines, problems) of sending last month to each of the tenant's partners."""
    partners = load_partners(tenant).partners
    if not partners:
        return [], []
    period = Period.of(datetime.now(UTC).astimezone(tenant.zone).date()).previous()
    job = defs.resolve_implicit_global_asset_job_def()
    lines: list[str] = []
    problems: list[str] = []
    for partner in partners:
        result = job.execute_in_process(
            asset_selection=[file_asset_key(tenant.id, partner.id, s) for s in partner.files],
            partition_key=partition_key(period),
            instance=instance,
            tags={"bridge/tenant": tenant.id, "bridge/partner": partner.id},
            run_config=QUIET_RUN_CONFIG,
            raise_on_error=False,
        )
        if not result.success:
            problems.append(f"partner {partner.id} {period}: files not sent (`bridge status`)")
        sent = [
            e
            for e in ledger.partner_exports(tenant.id, partner=partner.id, period=str(period))
            if e.state == "delivered"
        ]
        names = ", ".join(f"{e.remote_name} ({e.row_count} rows)" for e in sent)
        lines.append(
            f"{partner.id} {period}: {len(sent)} files on {partner.sftp.host}:"
            f"{partner.sftp.port}{partner.folder}: {names or 'none'}"
        )
    return lines, problems
