"""SAP Business One's `erp:` block of a tenant file: posting mode, tax account, CA bundle."""

from pathlib import PurePath
from typing import Literal

from pydantic import Field, field_validator

from bridge_pipelines.erps.session import ca_bundle_problem
from bridge_pipelines.erps.settings import ErpSettings


class SapB1ErpSettings(ErpSettings):
    """`base_url` is the Service Layer root, `company` the CompanyDB, `username` the B1 user."""

    kind: Literal["sap_b1"] = "sap_b1"
    sap_b1_posting_mode: Literal["service_invoice", "journal_entry"] = Field(
        "service_invoice",
        description="SAP B1: post A/P service invoices (PurchaseInvoices) or JournalEntries.",
    )
    sap_b1_tax_account: str | None = Field(
        None,
        min_length=1,
        max_length=15,
        description="SAP B1: the account (ChartOfAccounts `Code`) Stampli's tax amount is "
        "posted to as one 'Sales tax' line, in either posting mode; unset (the US default), the "
        "tax is expensed with the lines, spread over them in proportion.",
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

    def machine_problems(self) -> list[tuple[str, str]]:
        """A CA bundle that is not a readable PEM file on this machine."""
        if self.ca_bundle is None:
            return []
        problem = ca_bundle_problem(self.ca_bundle)
        return [("ca_bundle", problem)] if problem else []
