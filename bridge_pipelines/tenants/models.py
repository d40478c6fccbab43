"""Typed tenant definitions: one customer, one Stampli SFTP server, one ERP.

A tenant file is reviewed in git, so it holds ciphertext only: every secret field is an
`EncryptedSecret` (`enc:v1:<key id>:<base64>`), decrypted in memory when a client is built, bound
to the tenant id and the field's dotted path (see `tenants.secrets`).
"""

import base64
import binascii
import re
from datetime import date, timedelta
from pathlib import PurePath
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

TENANT_ID_RE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
ENCRYPTED_RE = re.compile(r"^enc:v1:[A-Za-z0-9_-]{1,32}:[A-Za-z0-9_=-]+$")

ErpKind = Literal["none", "syspro", "sap_b1", "infor_m3", "acumatica"]
FileKind = Literal["invoices", "payments", "vendors", "gl_accounts"]
FILE_KINDS: tuple[FileKind, ...] = ("invoices", "payments", "vendors", "gl_accounts")
# Transactional exports are partitioned by tenant-day; master data is not (architecture.md).
TRANSACTIONAL_KINDS: tuple[FileKind, ...] = ("invoices", "payments")
MASTER_KINDS: tuple[FileKind, ...] = ("vendors", "gl_accounts")


def _check_encrypted(value: str) -> str:
    if not ENCRYPTED_RE.match(value):
        # Never echo the value: it may be a plaintext secret pasted by mistake.
        raise ValueError(
            "must be ciphertext from `bridge secrets encrypt` (enc:v1:...), not a plain value"
        )
    return value


EncryptedSecret = Annotated[str, AfterValidator(_check_encrypted)]

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


def _embedded_key_type(blob: str) -> str | None:
    """The key type an OpenSSH public-key blob starts with (a length-prefixed string)."""
    try:
        raw = base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(raw) < 4:
        return None
    length = int.from_bytes(raw[:4], "big")
    if length > len(raw) - 4:
        return None
    return raw[4 : 4 + length].decode("ascii", errors="replace")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SftpConfig(_Frozen):
    """Where the tenant's Stampli files live and how we prove who we talk to."""

    host: str
    port: int = Field(22, ge=1, le=65535)
    username: str = Field(min_length=1)
    host_key: str = Field(
        description="Pinned server key, OpenSSH public-key format: '<type> <base64>'.",
    )
    password: EncryptedSecret | None = None
    private_key: EncryptedSecret | None = Field(
        None, description="PEM/OpenSSH private key text, encrypted."
    )
    private_key_passphrase: EncryptedSecret | None = None
    connect_timeout_s: float = Field(10.0, gt=0, le=300)
    operation_timeout_s: float = Field(60.0, gt=0, le=3600)
    settle_seconds: float = Field(
        5.0,
        ge=0,
        le=3600,
        description="A file is stable once unchanged across this interval. Keep it below the "
        "sensor interval: a file is taken two ticks after it is complete at worst.",
    )
    max_file_bytes: int = Field(200 * 1024 * 1024, gt=0)
    delete_after_download: bool = False

    @field_validator("host_key")
    @classmethod
    def _host_key_shape(cls, value: str) -> str:
        parts = value.split()
        if len(parts) < 2 or not parts[0].startswith(("ssh-", "ecdsa-", "sk-")):
            raise ValueError(
                "must be '<key type> <base64>' as in known_hosts, e.g. 'ssh-ed25519 AAAA...'"
            )
        if _embedded_key_type(parts[1]) != parts[0]:
            raise ValueError(
                f"the base64 part is not an SSH public key of type {parts[0]} "
                "(copy the line from `ssh-keyscan -p <port> <host>`)"
            )
        return " ".join(parts[:2])

    @model_validator(mode="after")
    def _one_auth(self) -> "SftpConfig":
        if self.password is None and self.private_key is None:
            raise ValueError("needs password or private_key")
        if self.private_key_passphrase is not None and self.private_key is None:
            raise ValueError("private_key_passphrase given without private_key")
        return self


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


class ErpConfig(_Frozen):
    """The tenant's ERP connection; adapters arrive with later issues."""

    kind: ErpKind = "none"
    base_url: str | None = None
    company: str | None = None
    username: str | None = None
    password: EncryptedSecret | None = None
    company_password: EncryptedSecret | None = None
    odata_url: str | None = Field(None, description="SYSPRO: the read-only OData root.")
    max_requests_per_minute: int | None = Field(
        None, gt=0, description="The ERP's rate limit; the adapter paces itself under it."
    )
    sap_b1_posting_mode: Literal["service_invoice", "journal_entry"] = Field(
        "service_invoice",
        description="SAP B1: post A/P service invoices (PurchaseInvoices) or JournalEntries.",
    )
    sap_b1_tax_account: str | None = Field(
        None,
        min_length=1,
        max_length=15,
        description="SAP B1: the account (ChartOfAccounts `Code`) Stampli's tax amount is "
        "posted to, in either posting mode; unset, the tax is expensed on the invoice's first "
        "line account and dimensions.",
    )
    ca_bundle: str | None = Field(
        None,
        description="SAP B1: absolute path of a PEM file of CA certificates the Service Layer's "
        "certificate is verified against (self-signed or corporate CA). Verification is "
        "never turned off; unset, the system store is used.",
    )

    @field_validator("ca_bundle")
    @classmethod
    def _absolute_ca_bundle(cls, value: str | None) -> str | None:
        # Relative to what? The working directory of a Dagster run is nobody's choice.
        if value is not None and not PurePath(value).is_absolute():
            raise ValueError("must be an absolute path to a PEM file on the machine running us")
        return value

    @model_validator(mode="after")
    def _sap_b1_only(self) -> "ErpConfig":
        given = [n for n in ("sap_b1_tax_account", "ca_bundle") if getattr(self, n) is not None]
        if given and self.kind != "sap_b1":
            # Set and silently unused would be worse than refused.
            raise ValueError(
                f"{', '.join(given)}: read by the SAP B1 adapter only, and erp.kind is "
                f"{self.kind!r}"
            )
        return self


class Schedules(_Frozen):
    """How often the tenant's sensor looks and when ERP data is sent to Stampli.

    Crons run in the tenant's time zone and are checked every 5 minutes: a finer cron is
    honoured at most once per 5 minutes.
    """

    # 10 s with a 5 s settle keeps "file complete -> invoice posted" p95 near 21 s
    # (`python -m bench.e2e_latency`); 30 s gave 62 s.
    sensor_interval_s: int = Field(10, ge=5, le=3600)
    master_data_cron: CronExpression = "0 * * * *"
    open_purchase_orders_cron: CronExpression | None = Field(
        None,
        description="When the ERP's open purchase orders are sent to Stampli's inbound folder "
        "(e.g. '15 */2 * * *', every 2 hours); unset, no PO file is sent.",
    )


class TenantConfig(_Frozen):
    """One tenant, as loaded from `tenants/<id>.yaml`."""

    id: str
    name: str
    timezone: str = "UTC"
    sftp: SftpConfig
    folders: Folders = Folders()
    templates: Templates = Templates()
    erp: ErpConfig = ErpConfig()
    schedules: Schedules = Schedules()
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
    def settle(self) -> timedelta:
        """How long a file must stay unchanged before it is taken."""
        return timedelta(seconds=self.sftp.settle_seconds)
