"""Tenant-day partitions: transactional assets are partitioned by day in the tenant's zone."""

import dagster as dg

from bridge_pipelines.tenants.models import TenantConfig


def build_daily_partitions_def(tenant: TenantConfig) -> dg.DailyPartitionsDefinition:
    """Days in the tenant's own zone; `end_offset=1` so today's files have a partition."""
    return dg.DailyPartitionsDefinition(
        start_date=tenant.partitions_start.isoformat(), timezone=tenant.timezone, end_offset=1
    )
