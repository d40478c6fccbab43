"""`reconciled`: `bridge verify` as an asset check on each tenant's posted invoices.

It runs after the postings of a partition, in the same run, and reconciles that day: files,
records, postings and the ERP documents read back. It never blocks (the postings are already
made); a failure is an ERROR the operator sees on the asset, with the counts and the first
located items in its metadata. A non-terminal file or one on the server that changed within
the sensor's grace is in progress, not a failure: the check runs beside a live sensor.

The check is partitioned like its asset, so each day shows its own verdict. Partitioned asset
checks are a Dagster preview (1.13, pinned in uv.lock); its PreviewWarning is silenced here
only, and the definitions snapshot test shows if the feature changes shape.
"""

import warnings
from datetime import date
from typing import Any

import dagster as dg

from bridge_pipelines.defs.metadata import markdown_table
from bridge_pipelines.defs.payments import posted_payments_key
from bridge_pipelines.defs.postings import posted_invoices_key
from bridge_pipelines.defs.resources import BridgeResource
from bridge_pipelines.defs.review_check import day_rows, waiting_summary
from bridge_pipelines.errors import BridgeError
from bridge_pipelines.redaction import redact
from bridge_pipelines.tenants.models import TenantConfig
from bridge_pipelines.verify.reconcile import remote_grace
from bridge_pipelines.verify.report import VerifyReport
from bridge_pipelines.verify.run import run_verify

RECONCILED_CHECK = "reconciled"
MAX_ITEMS_SHOWN = 20


def reconciled_metadata(report: VerifyReport) -> dict[str, Any]:
    """Counts, each check's status, and the first failing items, located."""
    failing = [
        {"check": check.name, "problem": item["message"]}
        for check in report.failing
        for item in check.items
    ]
    notes = [f"{c.name}: {c.status.value} ({c.note})" for c in report.failing if not c.items]
    metadata: dict[str, Any] = {
        name: dg.MetadataValue.int(value) for name, value in report.counts.items()
    }
    metadata["checks"] = dg.MetadataValue.json(
        {name: {"status": c.status.value, "count": c.count} for name, c in report.checks.items()}
    )
    shown = failing[:MAX_ITEMS_SHOWN]
    more = len(failing) - len(shown)
    metadata["failures"] = dg.MetadataValue.md(
        "\n".join([*notes, markdown_table(shown) if shown else "_none_"])
        + (f"\n\n…and {more} more (`bridge verify {report.tenant} --day ...`)" if more else "")
    )
    return metadata


def build_reconciled_check(
    tenant: TenantConfig, partitions_def: dg.PartitionsDefinition
) -> dg.AssetChecksDefinition:
    """The tenant's `reconciled` check on `[tenant, erp, posted_invoices]`, per partition."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return _build(tenant, partitions_def)


def _build(
    tenant: TenantConfig, partitions_def: dg.PartitionsDefinition
) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=posted_invoices_key(tenant.id),
        name=RECONCILED_CHECK,
        partitions_def=partitions_def,
        blocking=False,
        # After the day's payments too: verify checks them (issue 15).
        additional_deps=[posted_payments_key(tenant.id)],
        description=(
            "`bridge verify` for the partition's day: no invoice posted twice, every ERP "
            "document with our reference in the ledger, no approved invoice lost, every file "
            "terminal, debits = credits and ERP totals = source totals; every Stampli payment "
            "applied once, no ERP payment of ours unknown to the ledger, open balances equal."
        ),
    )
    def _check(
        context: dg.AssetCheckExecutionContext, bridge: BridgeResource
    ) -> dg.AssetCheckResult:
        day = date.fromisoformat(context.partition_key)
        try:
            report = run_verify(
                tenant.id, day, ctx=bridge.intake(), tenant=tenant, in_flight=remote_grace(tenant)
            )
        except BridgeError as exc:
            # The ERP or the server could not be read: nothing is proven, so it fails.
            return dg.AssetCheckResult(
                passed=False,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={"error": dg.MetadataValue.text(redact(str(exc)))},
            )
        # Not green while invoices of the day wait for a person: how many, since when.
        waiting = day_rows(bridge.intake(), tenant.id, day)
        metadata = reconciled_metadata(report)
        metadata["waiting_for_review"] = dg.MetadataValue.int(len(waiting))
        return dg.AssetCheckResult(
            passed=report.ok and not waiting,
            severity=(
                dg.AssetCheckSeverity.WARN if report.ok and waiting else dg.AssetCheckSeverity.ERROR
            ),
            description=("reconciled" if report.ok else "does not reconcile")
            + (f"; {waiting_summary(waiting)}" if waiting else ""),
            metadata=metadata,
        )

    return _check


def reconciled_checks(
    tenant: TenantConfig, partitions_def: dg.PartitionsDefinition
) -> list[dg.AssetChecksDefinition]:
    """One for a tenant with an ERP; nothing is posted (so nothing to check) without one."""
    if tenant.erp.kind == "none":
        return []
    return [build_reconciled_check(tenant, partitions_def)]
