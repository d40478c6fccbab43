"""SAP Business One's `erp:` block of a tenant file: posting mode and tax account.

`ca_bundle` and the TLS rules are every connector's (`erps/settings.py`).
"""

from typing import Literal

from pydantic import Field

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
    sap_b1_payment_account: str | None = Field(
        None,
        min_length=1,
        max_length=15,
        description="SAP B1: the bank or cash account (ChartOfAccounts `Code`) Stampli's "
        "payments are made from, as outgoing payments (`VendorPayments`); unset, payments "
        "are not recorded and wait with that reason.",
    )
    sap_b1_payment_means: Literal["bank_transfer", "cash"] = Field(
        "bank_transfer",
        description="SAP B1: how the account pays: `TransferAccount`/`TransferSum` (a bank "
        "transfer, the default) or `CashAccount`/`CashSum`.",
    )
