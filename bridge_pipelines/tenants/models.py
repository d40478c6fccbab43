"""Typed tenant definitions: one customer, one Stampli SFTP server, one ERP.

A tenant file is reviewed in git, so it holds ciphertext only: every secret field is an
`EncryptedSecret` (`enc:v1:<key id>:<base64>`), decrypted in memory when a client is built, bound
to the tenant id and the field's dotted path (see `tenants.secrets`).
"""

import re
import zlib
from datetime import date, timedelta
from typing import Annotated, Any, Literal, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    Field,
    SerializeAsAny,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
    model_validator,
)

from bridge_pipelines.config_fields import EncryptedSecret, FrozenModel
from bridge_pipelines.erps import registry
from bridge_pipelines.erps.settings import ErpSettings, NoErpSettings
from bridge_pipelines.sftp.settings import SftpConfig

__all__ = [
    "FILE_KINDS",
    "MASTER_KINDS",
    "TRANSACTIONAL_KINDS",
    "Alerts",
    "ErpConfig",
    "FileKind",
    "FileTemplate",
    "SftpConfig",
    "TenantConfig",
]

TENANT_ID_RE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")

FileKind = Literal["invoices", "payments", "vendors", "gl_accounts"]
FILE_KINDS: tuple[FileKind, ...] = ("invoices", "payments", "vendors", "gl_accounts")
# Transactional exports are partitioned by tenant-day; master data is not (architecture.md).
TRANSACTIONAL_KINDS: tuple[FileKind, ...] = ("invoices", "payments")
MASTER_KINDS: tuple[FileKind, ...] = ("vendors", "gl_accounts")


# Five-field cron, the subset every scheduler we use reads the same way (no seconds, no `L`,
# `W`, `#`, `?` or `@hourly` aliases): numbers, names, `*`, ranges, steps and lists.
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_CRON_FIELDS: tuple[tuple[str, int, int, tuple[str, ...]], ...] = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _WEEKDAYS),
)
_CRON_ITEM = re.compile(r"^(?:(\*)|([0-9a-z]+)(?:-([0-9a-z]+))?)(?:/([0-9]+))?$")


def _cron_value(text: str, name: str, low: int, high: int, names: tuple[str, ...]) -> int:
    if text.isdigit():
        value = int(text)
    elif text in names:
        value = names.index(text) + low
    else:
        raise ValueError(f"cron {name}: {text!r} is not a number or a name")
    if not low <= value <= high:
        raise ValueError(f"cron {name}: {value} is outside {low}-{high}")
    return value


def _check_cron(value: str) -> str:
    """`value` if it is a five-field cron expression (minute hour day month weekday)."""
    parts = value.lower().split()
    if len(parts) != 5:
        raise ValueError(
            "must be a cron expression of 5 fields (minute hour day month weekday), "
            f"e.g. '0 */2 * * *'; got {len(parts)} field(s)"
        )
    for part, (name, low, high, names) in zip(parts, _CRON_FIELDS, strict=True):
        for item in part.split(","):
            match = _CRON_ITEM.match(item)
            if match is None:
                raise ValueError(f"cron {name}: {item!r} is not understood")
            star, first, last, step = match.groups()
            if not star:
                start = _cron_value(first, name, low, high, names)
                if last is not None and _cron_value(last, name, low, high, names) < start:
                    raise ValueError(f"cron {name}: the range {item!r} runs backwards")
                if step is not None and last is None:
                    raise ValueError(f"cron {name}: write a step as */n or a-b/n, not {item!r}")
            if step is not None and not 1 <= int(step) <= high:
                raise ValueError(f"cron {name}: the step in {item!r} must be 1-{high}")
    if parts[3] in ("2", "feb") and parts[2] in ("30", "31"):
        raise ValueError("cron: February has no 30th or 31st, the schedule would never run")
    return " ".join(parts)


CronExpression = Annotated[str, AfterValidator(_check_cron)]


_Frozen = FrozenModel


class Folders(_Frozen):
    """Remote folders; defaults are Stampli's (stampli-files.md)."""

    invoices: str = "/outbound/invoices"
    payments: str = "/outbound/payments"
    vendors: str = "/outbound/vendors"
    gl_accounts: str = "/outbound/gl_accounts"
    inbound: str = "/inbound"

    def for_kind(self, kind: FileKind) -> str:
        """The folder holding exports of `kind`."""
        return str(getattr(self, kind))


class FileTemplate(_Frozen):
    """How one export is laid out when a tenant departs from the default template."""

    columns: dict[str, str] = Field(
        default_factory=dict, description="Tenant column name -> default column name."
    )
    date_format: str = "%Y-%m-%d"
    decimal_separator: Literal[".", ","] = "."


class Templates(_Frozen):
    """One layout per export kind; the default template unless the tenant says otherwise."""

    invoices: FileTemplate = FileTemplate()
    payments: FileTemplate = FileTemplate()
    vendors: FileTemplate = FileTemplate()
    gl_accounts: FileTemplate = FileTemplate()


def _erp_settings(value: Any, handler: ValidatorFunctionWrapHandler) -> ErpSettings:
    """Validate an `erp:` block with the model of the connector its `kind` names.

    A field that only another connector reads is refused with that connector's name, at
    `erp`, rather than reported as an unknown key: set and silently unused would be worse.
    """
    if isinstance(value, ErpSettings):
        return value
    if not isinstance(value, dict):
        return cast(ErpSettings, handler(value))
    kind = value.get("kind", "none")
    plugin = registry.find(str(kind)) if isinstance(kind, str) else None
    if plugin is None:
        known = ", ".join(["none", *registry.kinds()])
        raise ValueError(f"kind {kind!r} is not a known ERP; known: {known}")
    own = plugin.settings_model.model_fields
    for other in registry.plugins():
        foreign = [
            name for name in value if name not in own and name in other.settings_model.model_fields
        ]
        if foreign and other.kind != plugin.kind:
            raise ValueError(
                f"{', '.join(foreign)}: read by the {other.label} adapter only, and "
                f"erp.kind is {kind!r}"
            )
    return plugin.settings_model.model_validate(value)


ErpConfig = Annotated[SerializeAsAny[ErpSettings], WrapValidator(_erp_settings)]
"""The tenant's ERP block: the settings model of the connector `kind` names (a union over
the registered connectors, `none` included), so each ERP's own fields live in its folder."""


class Schedules(_Frozen):
    """How often the tenant's sensor looks and when ERP data is sent to Stampli.

    Each cron is the tenant's own Dagster schedule, run in the tenant's time zone.
    """

    # 10 s with a 5 s settle keeps "file complete -> invoice posted" p95 near 21 s
    # (`python -m bench.e2e_latency`); 30 s gave 62 s.
    sensor_interval_s: int = Field(10, ge=5, le=3600)
    master_data_cron: CronExpression | None = Field(
        None,
        description="When the ERP's master data goes to Stampli and the mapping is rebuilt; "
        "unset, hourly at a minute drawn from the tenant id (`TenantConfig.master_data_cron`).",
    )
    open_purchase_orders_cron: CronExpression | None = Field(
        None,
        description="When the ERP's open purchase orders are sent to Stampli's inbound folder "
        "(e.g. '15 */2 * * *', every 2 hours); unset, no PO file is sent.",
    )


class Alerts(_Frozen):
    """Where the tenant's alerts go, and when a slow or stuck day becomes one.

    Unset routes fall back to the machine's (`BRIDGE_ALERTS_*`), so an alert is never lost
    for want of a tenant route.
    """

    slack_webhook_url: EncryptedSecret | None = Field(
        None, description="Slack incoming-webhook URL (it is a secret: ciphertext only)."
    )
    email_to: tuple[str, ...] = Field((), description="Addresses of the tenant's AP team.")
    held_after_minutes: int = Field(
        24 * 60, ge=0, description="An invoice waiting for review this long is an alert."
    )
    unreachable_ticks: int = Field(
        3, ge=1, description="Consecutive failed sensor ticks (SFTP) or runs (ERP) to alert on."
    )
    posting_rate_floor: float = Field(
        0.2,
        ge=0,
        le=1,
        description="Alert when the last hour's postings fall below this share of the hourly "
        "average of the last 7 days (only once that average is at least 5 an hour).",
    )

    @field_validator("email_to")
    @classmethod
    def _addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for address in value:
            if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", address):
                raise ValueError("each entry must be an e-mail address (name@example.com)")
        return value


class TenantConfig(_Frozen):
    """One tenant, as loaded from `tenants/<id>.yaml`."""

    id: str
    name: str
    timezone: str = "UTC"
    sftp: SftpConfig
    folders: Folders = Folders()
    templates: Templates = Templates()
    erp: ErpConfig = NoErpSettings()
    schedules: Schedules = Schedules()
    alerts: Alerts = Alerts()
    max_rows_per_file: int = Field(2_000_000, gt=0)
    partitions_start: date = Field(
        date(2026, 1, 1), description="First day of the tenant's daily partitions (onboarding)."
    )

    @model_validator(mode="after")
    def _purchase_orders_need_an_erp(self) -> "TenantConfig":
        if self.schedules.open_purchase_orders_cron is not None and self.erp.kind == "none":
            raise ValueError(
                "schedules.open_purchase_orders_cron is set but erp.kind is 'none': "
                "open purchase orders are read from the ERP"
            )
        return self

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not TENANT_ID_RE.match(value):
            raise ValueError("must be 2-40 chars of a-z, 0-9 and _, starting with a letter")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value

    @property
    def zone(self) -> ZoneInfo:
        """The tenant's time zone, which decides its daily partitions."""
        return ZoneInfo(self.timezone)

    @property
    def master_data_cron(self) -> str:
        """`schedules.master_data_cron`, or hourly at the tenant's own minute.

        The minute is a hash of the id (stable across restarts and machines), so hundreds of
        tenants on the default do not all call their ERPs in the same minute.
        """
        if self.schedules.master_data_cron is not None:
            return self.schedules.master_data_cron
        return f"{zlib.crc32(self.id.encode()) % 60} * * * *"

    @property
    def settle(self) -> timedelta:
        """How long a file must stay unchanged before it is taken."""
        return timedelta(seconds=self.sftp.settle_seconds)
