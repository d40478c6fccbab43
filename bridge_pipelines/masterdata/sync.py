"""Master data both ways: ERP → Stampli `/inbound/` files, Stampli vendor changes → ERP.

ERP → Stampli: everything is read from the ERP first, then one file per kind is uploaded under a
temporary name and renamed into place, so Stampli sees the previous file or the whole new one,
never half of it, and an ERP that fails mid-read uploads nothing. Open purchase orders are a
separate export on the tenant's own schedule (`schedules.open_purchase_orders_cron`).

Stampli → ERP: a vendor is pushed only under a supplier code someone chose (the tenant's mapping
file, or `ErpVendorCode` in Stampli). A vendor without one is reported, never given an invented
code: a guessed code would be a second supplier for the same company. The adapter's upsert
looks before it writes, so running the sync again is safe and changes nothing. When the ERP's
answer to an upsert is lost (`NeedsLookupError`: a timeout or a 5xx after the write was sent),
the supplier is read back and compared with the change: holding it, the vendor counts as
synced; otherwise it is reported failed, with what the read-back showed.

The caller owns the adapter (and its `with` block, which ends the ERP session).
"""

import logging
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from bridge_pipelines.erps.base import ErpAdapter, ErpVendor, VendorChange
from bridge_pipelines.errors import (
    BadInputError,
    BridgeError,
    ConfigError,
    NeedsLookupError,
    NotSupportedError,
    RejectedByErpError,
)
from bridge_pipelines.intake.runtime import Runtime
from bridge_pipelines.ledger.models import RecordRow
from bridge_pipelines.ledger.states import RecordState
from bridge_pipelines.mapping.tables import MappingOverrides, load_overrides
from bridge_pipelines.masterdata import inbound
from bridge_pipelines.masterdata.inbound import InboundKind
from bridge_pipelines.sftp.client import SftpClient
from bridge_pipelines.tenants.models import TenantConfig

log = logging.getLogger(__name__)

MAX_SEQ = 99
NEEDS_CODE = (
    "needs an ERP supplier code: set ErpVendorCode in Stampli or map the vendor in the "
    "tenant's mapping file"
)

# --- ERP → Stampli ---------------------------------------------------------------------------


@dataclass(frozen=True)
class InboundFile:
    """One file uploaded to the tenant's inbound folder."""

    kind: InboundKind
    name: str
    rows: int
    size: int


@dataclass
class InboundReport:
    """What one export wrote."""

    tenant: str
    folder: str
    files: list[InboundFile] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        """The uploaded file names, in upload order."""
        return [f.name for f in self.files]

    def count(self, kind: InboundKind) -> int:
        """Rows written for `kind` (0 when skipped)."""
        return sum(f.rows for f in self.files if f.kind == kind)


def mapping_overrides(ctx: Runtime, tenant: TenantConfig) -> MappingOverrides:
    """The tenant's mapping file (`<mappings_dir>/<tenant>.yaml`); none means no overrides."""
    return load_overrides(ctx.settings.resolved_mappings_dir / f"{tenant.id}.yaml")


def latest_vendor_records(ctx: Runtime, tenant: TenantConfig) -> list[RecordRow]:
    """The newest accepted change of each Stampli vendor, by `ModifiedAt` then record order.

    Held records (a conflicting re-export under review) and duplicates are not used.
    """
    newest: dict[str, tuple[tuple[datetime | None, int], RecordRow]] = {}
    for record in ctx.ledger.records(tenant.id, kind="vendors", states=[RecordState.ACCEPTED]):
        vendor_id = str(record.payload.get("vendor_id") or "").strip()
        if not vendor_id:
            continue
        key = (_modified_at(record.payload), record.id)
        current = newest.get(vendor_id)
        if current is None or _later(key, current[0]):
            newest[vendor_id] = (key, record)
    return [newest[v][1] for v in sorted(newest)]


def _modified_at(payload: Mapping[str, Any]) -> datetime | None:
    value = payload.get("modified_at")
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _later(a: tuple[datetime | None, int], b: tuple[datetime | None, int]) -> bool:
    if a[0] is not None and b[0] is not None and a[0] != b[0]:
        try:
            return a[0] > b[0]
        except TypeError:  # naive against aware: fall back on record order
            pass
    return a[1] > b[1]


def stampli_vendor_ids(records: Iterable[RecordRow], overrides: MappingOverrides) -> dict[str, str]:
    """ERP supplier code -> the Stampli vendor id linked to it (the smallest id on a tie)."""
    links: dict[str, str] = {}
    for record in records:
        code = str(record.payload.get("erp_vendor_code") or "").strip()
        if code:
            links[str(record.payload["vendor_id"]).strip()] = code
    links.update(overrides.vendors)
    by_code: dict[str, str] = {}
    for vendor_id, code in sorted(links.items()):
        by_code.setdefault(code, vendor_id)
    return by_code


def _unique_name(
    client: SftpClient, folder: str, kind: InboundKind, tenant: TenantConfig, now: datetime
) -> str:
    """A name not yet in the folder: a second export within the same second gets `_<seq>`."""
    for seq in range(MAX_SEQ + 1):
        name = inbound.inbound_name(kind, now, tenant.zone, seq)
        if client.stat(folder, name) is None:
            return name
    raise BadInputError(f"{folder}: {MAX_SEQ + 1} {kind} files already carry this second's stamp")


def export_erp_master_data(
    ctx: Runtime, tenant: TenantConfig, adapter: ErpAdapter, *, now: datetime
) -> InboundReport:
    """Read the ERP's master data and upload one inbound file per kind, atomically.

    Vendors, GL accounts and dimensions always get a file (header only when the ERP has none).
    Open purchase orders have their own schedule (`export_open_purchase_orders`). Everything
    is read before anything is uploaded. `now` (tz-aware) stamps the names in the tenant's
    time zone.

    Raises:
        ValueError: `now` is naive.
        ConfigError: the inbound folder is missing or not writable, or the ERP refused us.
        RetryableError: the SFTP connection failed; nothing half-written is left behind.
    """
    _check_aware(now)
    report = InboundReport(tenant=tenant.id, folder=tenant.folders.inbound)
    vendors = list(adapter.read_vendors())
    accounts = list(adapter.read_gl_accounts())
    dimensions = list(adapter.read_dimensions())
    ids = stampli_vendor_ids(latest_vendor_records(ctx, tenant), mapping_overrides(ctx, tenant))
    contents: list[tuple[InboundKind, bytes, int]] = [
        ("vendors", inbound.vendors_csv(vendors, ids), len(vendors)),
        ("gl_accounts", inbound.gl_accounts_csv(accounts), len(accounts)),
        ("dimensions", inbound.dimensions_csv(dimensions), len(dimensions)),
    ]
    report.files.extend(_upload(ctx, tenant, contents, now))
    return report


@dataclass(frozen=True)
class PurchaseOrderExport:
    """What one open-PO export wrote: the file, and the money in it per currency."""

    tenant: str
    folder: str
    file: InboundFile
    purchase_orders: int
    line_amount: dict[str, Decimal]
    open_amount: dict[str, Decimal]

    @property
    def lines(self) -> int:
        return self.file.rows


def export_open_purchase_orders(
    ctx: Runtime, tenant: TenantConfig, adapter: ErpAdapter, *, now: datetime
) -> PurchaseOrderExport:
    """Read the ERP's open purchase-order lines and upload them as one inbound file.

    The file lists every PO line still open, so an empty ERP gives a header-only file: Stampli
    must learn that the POs it knew were closed. `VendorId` is the linked Stampli vendor, as in
    the vendors file. Read first, then uploaded under a temporary name and renamed.

    Raises:
        ValueError: `now` is naive.
        ConfigError: the tenant's ERP reads no purchase orders (the tenant should not ask for
            them), the inbound folder is missing or not writable, or the ERP refused us.
        RetryableError: the ERP or the SFTP server could not be reached; nothing was written.
    """
    _check_aware(now)
    try:
        lines = list(adapter.read_open_pos())
    except NotSupportedError as exc:
        raise ConfigError(
            f"tenant {tenant.id}: schedules.open_purchase_orders_cron is set, but {exc}; "
            "remove the setting"
        ) from exc
    ids = stampli_vendor_ids(latest_vendor_records(ctx, tenant), mapping_overrides(ctx, tenant))
    data = inbound.purchase_orders_csv(lines, ids)
    (file,) = _upload(ctx, tenant, [("purchase_orders", data, len(lines))], now)
    line_amount: dict[str, Decimal] = defaultdict(Decimal)
    open_amount: dict[str, Decimal] = defaultdict(Decimal)
    for line in lines:
        line_amount[line.currency] += line.amount
        open_amount[line.currency] += inbound.open_amount(line)
    return PurchaseOrderExport(
        tenant=tenant.id,
        folder=tenant.folders.inbound,
        file=file,
        purchase_orders=len({line.po_number for line in lines}),
        line_amount=dict(sorted(line_amount.items())),
        open_amount=dict(sorted(open_amount.items())),
    )


def _check_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must be timezone-aware, got {now!r}")


def _upload(
    ctx: Runtime,
    tenant: TenantConfig,
    contents: list[tuple[InboundKind, bytes, int]],
    now: datetime,
) -> list[InboundFile]:
    """Each file uploaded atomically under a name not yet in the inbound folder."""
    folder = tenant.folders.inbound
    files: list[InboundFile] = []
    with ctx.sftp(tenant) as client:
        for kind, data, rows in contents:
            name = _unique_name(client, folder, kind, tenant, now)
            client.upload_atomic(folder, name, data)
            files.append(InboundFile(kind=kind, name=name, rows=rows, size=len(data)))
            log.info("tenant %s: uploaded %s (%d rows) to %s", tenant.id, name, rows, folder)
    return files


# --- Stampli → ERP ---------------------------------------------------------------------------

VendorOutcomeKind = Literal["created", "updated", "needs_erp_code", "failed"]


@dataclass(frozen=True)
class VendorOutcome:
    """What became of one Stampli vendor; `detail` holds the reason or the ERP's message."""

    vendor_id: str
    vendor_name: str
    erp_code: str | None
    outcome: VendorOutcomeKind
    record_id: int
    code_origin: str | None = None  # "override" or "stampli_erp_code"
    detail: str | None = None


@dataclass
class VendorSyncReport:
    """One sync run's outcomes, one per Stampli vendor."""

    tenant: str
    outcomes: list[VendorOutcome] = field(default_factory=list)

    def of(self, outcome: VendorOutcomeKind) -> list[VendorOutcome]:
        """The outcomes of one kind."""
        return [o for o in self.outcomes if o.outcome == outcome]

    @property
    def created(self) -> int:
        return len(self.of("created"))

    @property
    def updated(self) -> int:
        return len(self.of("updated"))

    @property
    def needs_erp_code(self) -> list[VendorOutcome]:
        """Vendors held back because nobody gave them an ERP supplier code."""
        return self.of("needs_erp_code")

    @property
    def failed(self) -> list[VendorOutcome]:
        """Vendors the ERP refused (or whose answer was lost; running again is safe)."""
        return self.of("failed")


_NET_DAYS = re.compile(r"^\s*net\s*(\d{1,2})\s*(days?)?\s*$", re.IGNORECASE)


def net_days_terms(payment_terms: str) -> str | None:
    """Stampli `PaymentTerms` -> ERP terms code: `Net 30` -> `30`; a short code is kept.

    Anything else gives None, which leaves the ERP's terms as they are: a wrong terms code
    would change when a supplier is paid.
    """
    text = payment_terms.strip()
    if not text:
        return None
    match = _NET_DAYS.match(text)
    if match:
        return match.group(1)
    return text if len(text) <= 2 else None


def _text(payload: Mapping[str, Any], key: str) -> str | None:
    value = payload.get(key)
    text = "" if value is None else str(value).strip()
    return text or None


def vendor_change(
    tenant: str,
    payload: Mapping[str, Any],
    code: str,
    terms: Callable[[str], str | None] = net_days_terms,
) -> VendorChange:
    """The ERP supplier maintenance for one recorded Stampli vendor payload.

    Address lines keep their positions (line 1, line 2, city, region, country), so an empty
    line 2 does not move the city up. `Inactive` puts the supplier on hold.
    """
    address = [
        _text(payload, key) or ""
        for key in ("address_line1", "address_line2", "city", "region", "country")
    ]
    while address and not address[-1]:
        address.pop()
    payment_terms = _text(payload, "payment_terms")
    return VendorChange(
        tenant=tenant,
        name=_text(payload, "vendor_name") or "",
        code=code,
        currency=_text(payload, "currency"),
        terms_code=terms(payment_terms) if payment_terms else None,
        tax_id=_text(payload, "tax_id"),
        email=_text(payload, "email"),
        address_lines=tuple(address),
        postal_code=_text(payload, "postal_code"),
        on_hold=str(payload.get("status") or "").strip().lower() == "inactive",
        stampli_id=_text(payload, "vendor_id"),
    )


def erp_code_for(
    payload: Mapping[str, Any], overrides: MappingOverrides
) -> tuple[str | None, str | None]:
    """The vendor's ERP supplier code and where it came from; the mapping file wins."""
    vendor_id = str(payload.get("vendor_id") or "").strip()
    pinned = overrides.vendors.get(vendor_id)
    if pinned:
        return pinned, "override"
    hinted = _text(payload, "erp_vendor_code")
    if hinted:
        return hinted, "stampli_erp_code"
    return None, None


def read_back(adapter: ErpAdapter, change: VendorChange) -> str | None:
    """None when the ERP's supplier `change.code` holds the change; else what differs.

    Compared: the name, whether it is on hold, and each of currency, terms, tax id and e-mail
    that the change sets and the ERP shows (a connector that does not list a field cannot
    contradict it). A supplier that cannot be read back is not assumed synced.
    """
    try:
        found: ErpVendor | None = next(
            (v for v in adapter.read_vendors() if v.code == change.code), None
        )
    except BridgeError as exc:
        return f"the supplier could not be read ({exc})"
    if found is None:
        return f"no supplier {change.code} in the ERP"
    pairs: list[tuple[str, object, object]] = [
        ("name", change.name, found.name),
        ("on hold", change.on_hold, not found.active),
    ]
    optional = (
        ("currency", change.currency, found.currency),
        ("terms", change.terms_code, found.terms_code),
        ("tax id", change.tax_id, found.tax_id),
        ("email", change.email, found.email),
    )
    pairs += [(n, want, got) for n, want, got in optional if want is not None and got is not None]
    differs = [f"{n} is {got!r}, not {want!r}" for n, want, got in pairs if want != got]
    return "; ".join(differs) if differs else None


def sync_stampli_vendors(
    ctx: Runtime,
    tenant: TenantConfig,
    adapter: ErpAdapter,
    *,
    since: datetime | None = None,
    terms: Callable[[str], str | None] = net_days_terms,
) -> VendorSyncReport:
    """Create or update an ERP supplier for each Stampli vendor that has an ERP code.

    The newest accepted change of each vendor is pushed; with `since` (tz-aware), only vendors
    whose newest change was recorded at or after it. A refusal or a lost answer is reported
    per vendor and the others still go; running again is safe (the upsert looks first).

    Raises:
        ConfigError: credentials, URL or company are wrong (nothing more is tried).
        RetryableError: the ERP cannot be reached; the next run picks the vendors up again.
    """
    report = VendorSyncReport(tenant=tenant.id)
    overrides = mapping_overrides(ctx, tenant)
    for record in latest_vendor_records(ctx, tenant):
        if since is not None and record.created_at < since:
            continue
        payload = record.payload
        vendor_id = str(payload["vendor_id"]).strip()
        name = _text(payload, "vendor_name") or ""
        code, origin = erp_code_for(payload, overrides)
        if code is None:
            report.outcomes.append(
                VendorOutcome(vendor_id, name, None, "needs_erp_code", record.id, None, NEEDS_CODE)
            )
            continue
        change = vendor_change(tenant.id, payload, code, terms)
        try:
            result = adapter.upsert_vendor(change)
        except NeedsLookupError as exc:
            differs = read_back(adapter, change)
            if differs is None:
                log.info(
                    "tenant %s: vendor %s -> %s: the answer was lost (%s); read back, the "
                    "supplier holds the change",
                    tenant.id, vendor_id, code, exc,
                )  # fmt: skip
                report.outcomes.append(
                    VendorOutcome(
                        vendor_id, name, code, "updated", record.id, origin,
                        f"the ERP's answer was lost ({exc}); read back: the supplier holds "
                        "the change",
                    )
                )  # fmt: skip
                continue
            detail = f"{exc}; read back: {differs}"
            log.warning("tenant %s: vendor %s -> %s not synced: %s", tenant.id, vendor_id, code,
                        detail)  # fmt: skip
            report.outcomes.append(
                VendorOutcome(vendor_id, name, code, "failed", record.id, origin, detail)
            )
            continue
        except (RejectedByErpError, BadInputError) as exc:
            log.warning(
                "tenant %s: vendor %s -> %s not synced: %s", tenant.id, vendor_id, code, exc
            )
            report.outcomes.append(
                VendorOutcome(vendor_id, name, code, "failed", record.id, origin, str(exc))
            )
            continue
        outcome: VendorOutcomeKind = "created" if result.created else "updated"
        report.outcomes.append(
            VendorOutcome(vendor_id, name, result.code, outcome, record.id, origin)
        )
    return report
