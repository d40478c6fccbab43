"""`[tenant, erp, ap_aging]`: the day's AP aging, Stampli beside the ERP, for a controller.

Partitioned like the postings (a day in the tenant's zone is the "as of" date) and
materialized by each of the day's runs after the payments, so the day's last run leaves the
day's picture. Read-only: it changes nothing in the ERP or the ledger.
"""

from collections.abc import Iterator
from datetime import date

import dagster as dg

from bridge_pipelines.defs.metadata import markdown_table
from bridge_pipelines.defs.payments import posted_payments_key
from bridge_pipelines.defs.resources import BridgeResource
from bridge_pipelines.tenants.erp import build_adapter
from bridge_pipelines.tenants.models import TenantConfig
from bridge_pipelines.verify.aging import ap_aging

MAX_ROWS_SHOWN = 50


def ap_aging_key(tenant_id: str) -> dg.AssetKey:
    """`[tenant, erp, ap_aging]`."""
    return dg.AssetKey([tenant_id, "erp", "ap_aging"])


def build_ap_aging_asset(
    tenant: TenantConfig, partitions_def: dg.PartitionsDefinition
) -> dg.AssetsDefinition:
    """Open AP by due-date bucket and currency, Stampli and ERP, and the invoices that differ."""

    @dg.asset(
        key=ap_aging_key(tenant.id),
        group_name=tenant.id,
        partitions_def=partitions_def,
        deps=[posted_payments_key(tenant.id)],
        kinds={tenant.erp.kind},
        tags={"bridge/tenant": tenant.id},
        description=(
            f"AP aging of **{tenant.name}** as of the partition's day: open amounts per "
            "currency and due-date bucket (current, 1-30, 31-60, 61-90, 90+ days past due) in "
            "Stampli (total less every Stampli payment) beside the ERP's open balances, and "
            "each invoice where they differ (a payment waiting or held, an invoice not posted "
            "yet, or a payment made in one system only). Read-only."
        ),
    )
    def _asset(
        context: dg.AssetExecutionContext, bridge: BridgeResource
    ) -> dg.MaterializeResult[None]:
        ctx = bridge.intake()
        as_of = date.fromisoformat(context.partition_key)
        with build_adapter(tenant, keyring=ctx.keyring) as erp:
            aging = ap_aging(tenant, ctx.ledger, erp, as_of)
        shown = aging.differences[:MAX_ROWS_SHOWN]
        more = len(aging.differences) - len(shown)
        return dg.MaterializeResult(
            metadata={
                "as_of": dg.MetadataValue.text(as_of.isoformat()),
                "matches_erp": dg.MetadataValue.bool(aging.matches),
                "invoices_differing": dg.MetadataValue.int(len(aging.differences)),
                "erp_note": dg.MetadataValue.text(aging.erp_note or "read"),
                "aging": dg.MetadataValue.md(markdown_table(aging.rows()) or "_nothing open_"),
                "differences": dg.MetadataValue.md(
                    (markdown_table(shown) if shown else "_none_")
                    + (f"\n\n…and {more} more" if more else "")
                ),
            }
        )

    return _asset


def ap_aging_assets(
    tenant: TenantConfig, partitions_def: dg.PartitionsDefinition
) -> Iterator[dg.AssetsDefinition]:
    """Nothing for a tenant without an ERP."""
    if tenant.erp.kind != "none":
        yield build_ap_aging_asset(tenant, partitions_def)
