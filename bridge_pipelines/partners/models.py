"""A tenant's partners file (`<tenants dir>/partners/<tenant>.yaml`): who gets which files how.

Reviewed in git like the tenant file beside it, so every section is strict (an unknown key is
an error) and secrets are ciphertext bound to the tenant and the field
(`partners.<partner id>.sftp.password`). Per partner: its SFTP endpoint, its close calendar,
its X12 identities, the translation of SYSPRO ledger codes and cost centres to the partner's
codes, and one entry per file (dataset, format, layout, naming, encoding, line endings).
"""

import string
from datetime import time
from typing import Literal

from pydantic import Field, field_validator, model_validator

from bridge_pipelines.config_fields import FrozenModel
from bridge_pipelines.sftp.settings import SftpConfig

Dataset = Literal["gl_journal", "ap_invoices", "purchase_orders"]
FileFormat = Literal["csv", "x12_810", "x12_830", "fixed_width"]

DATASET_FIELDS: dict[str, tuple[str, ...]] = {
    "gl_journal": (
        "year",
        "period",
        "journal",
        "entry",
        "date",
        "account",
        "syspro_account",
        "cost_centre",
        "syspro_cost_centre",
        "amount",
        "debit",
        "credit",
        "reference",
        "comment",
    ),
    "ap_invoices": (
        "supplier",
        "supplier_name",
        "invoice",
        "line",
        "invoice_date",
        "due_date",
        "currency",
        "purchase_order",
        "stock_code",
        "description",
        "quantity",
        "uom",
        "unit_price",
        "amount",
        "account",
        "cost_centre",
    ),
    "purchase_orders": (
        "purchase_order",
        "line",
        "supplier",
        "supplier_name",
        "order_date",
        "due_date",
        "stock_code",
        "description",
        "quantity",
        "uom",
        "price",
        "amount",
    ),
}
"""The fields a file's columns may name, per dataset (translated codes and SYSPRO's own)."""

FORMATS_OF: dict[str, frozenset[str]] = {
    "gl_journal": frozenset({"csv", "fixed_width"}),
    "ap_invoices": frozenset({"csv", "fixed_width", "x12_810"}),
    "purchase_orders": frozenset({"csv", "fixed_width", "x12_830"}),
}
NAME_FIELDS = frozenset({"partner", "dataset", "period", "seq", "tenant"})


class Column(FrozenModel):
    """A CSV column: its header and the dataset field it holds."""

    header: str = Field(min_length=1)
    field: str


class FixedField(FrozenModel):
    """A fixed-width field: the dataset field, its width, alignment and padding."""

    field: str
    width: int = Field(gt=0, le=200)
    align: Literal["left", "right"] = "left"
    pad: str = Field(" ", min_length=1, max_length=1)
    decimals: int | None = Field(
        None, ge=0, le=6, description="Amounts: implied decimals (no point), e.g. 2: 12.50 -> 1250"
    )


class PartnerFile(FrozenModel):
    """One file the partner receives per period."""

    dataset: Dataset
    format: FileFormat
    name: str = Field(
        description="Remote file name, a Python format string over {partner}, {dataset}, "
        "{period} (YYYYMM), {seq} (1 for the period's first file) and {tenant}, "
        "e.g. 'GL_{period}_{seq:02d}.txt'."
    )
    encoding: Literal["utf-8", "ascii", "cp1252", "latin-1"] = "utf-8"
    line_ending: Literal["lf", "crlf"] = "lf"
    columns: tuple[Column, ...] = ()
    fields: tuple[FixedField, ...] = ()
    group_by_cost_centre: bool = Field(
        False, description="GL: lines ordered by cost centre with a subtotal record per centre"
    )
    delimiter: Literal[",", ";", "|", "\t"] = ","

    @field_validator("name")
    @classmethod
    def _name_fields(cls, value: str) -> str:
        used = {name for _, name, _, _ in string.Formatter().parse(value) if name}
        unknown = used - NAME_FIELDS
        if unknown:
            raise ValueError(f"unknown name field(s) {sorted(unknown)}; use {sorted(NAME_FIELDS)}")
        if "seq" not in used:
            raise ValueError(
                "must contain {seq}: a period's later file (rows changed after it was sent) "
                "gets a new name, never the old one's"
            )
        if "/" in value or value.startswith("."):
            raise ValueError("a file name, not a path, and not hidden")
        return value

    @model_validator(mode="after")
    def _layout(self) -> "PartnerFile":
        if self.format not in FORMATS_OF[self.dataset]:
            raise ValueError(
                f"{self.dataset} cannot be written as {self.format}; "
                f"choose one of {sorted(FORMATS_OF[self.dataset])}"
            )
        known = DATASET_FIELDS[self.dataset]
        if self.format == "csv":
            if not self.columns:
                raise ValueError("a csv file needs columns")
            bad = [c.field for c in self.columns if c.field not in known]
        elif self.format == "fixed_width":
            if not self.fields:
                raise ValueError("a fixed_width file needs fields")
            bad = [f.field for f in self.fields if f.field not in known]
        else:
            bad = []
        if bad:
            raise ValueError(f"unknown {self.dataset} field(s) {bad}; known: {list(known)}")
        if self.group_by_cost_centre and self.dataset != "gl_journal":
            raise ValueError("group_by_cost_centre applies to gl_journal only")
        return self


class X12Identity(FrozenModel):
    """Who sends and who receives, as the ISA and GS segments name them."""

    sender_qualifier: str = Field("ZZ", pattern=r"^[0-9A-Z]{2}$")
    sender_id: str = Field(min_length=1, max_length=15, pattern=r"^[0-9A-Za-z \-]+$")
    receiver_qualifier: str = Field("ZZ", pattern=r"^[0-9A-Z]{2}$")
    receiver_id: str = Field(min_length=1, max_length=15, pattern=r"^[0-9A-Za-z \-]+$")
    usage: Literal["P", "T"] = "P"


class CloseCalendar(FrozenModel):
    """When the partner's files go: monthly after the close, or weekly.

    Monthly: at `at` (tenant's time zone) on business day `business_day` (Mon-Fri) after the
    month's end, for the month just closed. Weekly: at `at` on `weekday`, for the month to date.
    """

    cadence: Literal["monthly", "weekly"] = "monthly"
    business_day: int = Field(3, ge=1, le=20)
    weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "mon"
    at: time = time(6, 0)


class Partner(FrozenModel):
    """One receiving system: an SFTP endpoint and the files it takes."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{1,39}$")
    name: str
    sftp: SftpConfig
    folder: str = Field("/inbound", min_length=1)
    calendar: CloseCalendar = CloseCalendar()
    x12: X12Identity | None = None
    accounts: dict[str, str] = Field(default_factory=dict)
    cost_centres: dict[str, str] = Field(default_factory=dict)
    files: tuple[PartnerFile, ...] = Field(min_length=1)
    connect_attempts: int = Field(4, ge=1, le=10)
    auth_attempts: int = Field(
        2, ge=1, le=3, description="Tries when the server refuses our credentials (no lockouts)"
    )
    settle_s: int = Field(
        120,
        ge=0,
        le=86_400,
        description="Rows changed in SYSPRO within this many seconds wait for the next run: a "
        "window never ends on a second whose changes may still be committing",
    )
    backoff_s: float = Field(2.0, ge=0, le=60)
    backoff_cap_s: float = Field(60.0, ge=0, le=600)

    @model_validator(mode="after")
    def _x12_needs_identity(self) -> "Partner":
        if any(f.format.startswith("x12") for f in self.files) and self.x12 is None:
            raise ValueError("an x12 file needs the partner's x12 identities (x12: ...)")
        names = [f.name for f in self.files]
        if len(set(names)) != len(names):
            raise ValueError("two files share a name template")
        return self


class PartnersFile(FrozenModel):
    """The whole partners file of one tenant."""

    partners: tuple[Partner, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> "PartnersFile":
        ids = [p.id for p in self.partners]
        if len(set(ids)) != len(ids):
            raise ValueError("duplicate partner id")
        return self

    def partner(self, partner_id: str) -> Partner | None:
        """The partner with this id, if any."""
        return next((p for p in self.partners if p.id == partner_id), None)
