"""SYSPRO's `erp:` block of a tenant file: the shared fields plus the OData root."""

from typing import Literal

from pydantic import Field

from bridge_pipelines.erps.settings import ErpSettings


class SysproErpSettings(ErpSettings):
    """SYSPRO's connection: e.net REST root, operator and company, plus the OData root.

    `username` is the e.net operator; `company_password` is often empty.
    """

    kind: Literal["syspro"] = "syspro"
    odata_url: str | None = Field(None, description="SYSPRO: the read-only OData root.")
    syspro_tax_account: str | None = Field(
        None,
        min_length=1,
        max_length=15,
        description="SYSPRO: the ledger code Stampli's tax amount is distributed to as one "
        "'Sales tax' line; unset (the US default), the tax is expensed with the lines, spread "
        "over them in proportion.",
    )
    syspro_payment_runs: dict[str, str] | None = Field(
        None,
        description="SYSPRO: the payment run (PaymentNumber) Stampli's payments are recorded in "
        "as manual checks, by currency ('USD': 'MANLOC'; '*' for any other); unset, 'MANLOC'.",
    )
