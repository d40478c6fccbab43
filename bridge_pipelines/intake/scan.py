"""Listing a tenant's folders and recording what became stable: the sensor's only job.

It never downloads: a sensor tick must stay short and side-effect free beyond the ledger.
"""

from dataclasses import dataclass, field
from datetime import date, datetime

from bridge_pipelines.ledger.models import FileRow
from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.sftp.client import RemoteEntry, SftpClient
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
        # Refused names are observed with the rest, escaped: the ledger takes each listing as
        # the whole folder, so one call per folder keeps good files settling beside bad names.
        safe = [_SafeEntry(printable_name(r.name), 0, 0) for r in rejected]
        reasons = {entry.name: r.reason for entry, r in zip(safe, rejected, strict=True)}
        for row in ledger.observe_listing(
            tenant.id,
            kind,
            folder,
            [*entries, *safe],
            settle=tenant.settle,
            zone=tenant.zone,
            now=now,
        ):
            if row.name in reasons:
                ledger.mark_quarantined(row.id, f"unsafe file name refused: {reasons[row.name]}")
                result.quarantined_names.append(row.name)
            else:
                result.newly_stable.append(row)
    return result


__all__ = ["RemoteEntry", "ScanResult", "group_by_day", "printable_name", "scan_tenant"]
