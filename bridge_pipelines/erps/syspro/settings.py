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
