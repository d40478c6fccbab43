"""Listing a tenant's folders and recording what became stable: the sensor's only job.

It never downloads: a sensor tick must stay short and side-effect free beyond the ledger.
"""

from dataclasses import dataclass, field
from datetime import date, datetime

from bridge_pipelines.ledger.models import FileRow
from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.sftp.client import RejectedName, RemoteEntry, SftpClient
from bridge_pipelines.tenants.models import FILE_KINDS, TenantConfig


@dataclass(frozen=True)
class _SafeEntry:
    name: str
    size: int
    mtime: int


@dataclass
class ScanResult:
    """Files that became stable in this scan, grouped by partition day."""

    tenant: str
    newly_stable: list[FileRow] = field(default_factory=list)
    quarantined_names: list[str] = field(default_factory=list)
    listed: int = 0


def group_by_day(rows: list[FileRow]) -> dict[date, list[FileRow]]:
    """Files by the tenant-day partition they were assigned when they became stable."""
    days: dict[date, list[FileRow]] = {}
    for row in rows:
        if row.partition_day is not None:
            days.setdefault(row.partition_day, []).append(row)
    return days


def printable_name(name: str) -> str:
    """A name safe to store and show: control characters and separators escaped."""
    return name.encode("unicode_escape").decode("ascii").replace("/", "\\x2f")


def scan_tenant(
    tenant: TenantConfig, client: SftpClient, ledger: Ledger, *, now: datetime | None = None
) -> ScanResult:
    """List every watched folder once and let the ledger decide what is stable."""
    result = ScanResult(tenant=tenant.id)
    for kind in FILE_KINDS:
        folder = tenant.folders.for_kind(kind)
        entries, rejected = client.list_files(folder)
        result.listed += len(entries) + len(rejected)
        result.newly_stable.extend(
            ledger.observe_listing(
                tenant.id, kind, folder, entries, settle=tenant.settle, zone=tenant.zone, now=now
            )
        )
        _quarantine_unsafe(tenant, kind, folder, rejected, ledger, result, now)
    return result


def _quarantine_unsafe(
    tenant: TenantConfig,
    kind: str,
    folder: str,
    rejected: list[RejectedName],
    ledger: Ledger,
    result: ScanResult,
    now: datetime | None,
) -> None:
    """Record refused names once, escaped, so an operator sees them in `bridge status`."""
    if not rejected:
        return
    safe = [_SafeEntry(printable_name(r.name), 0, 0) for r in rejected]
    reasons = {printable_name(r.name): r.reason for r in rejected}
    for row in ledger.observe_listing(
        tenant.id, kind, folder, safe, settle=tenant.settle, zone=tenant.zone, now=now
    ):
        ledger.mark_quarantined(row.id, f"unsafe file name refused: {reasons[row.name]}")
        result.quarantined_names.append(row.name)


__all__ = ["RemoteEntry", "ScanResult", "group_by_day", "printable_name", "scan_tenant"]
