"""Payments made in Stampli: one row per payment applied to one invoice."""

from bridge_pipelines.stampli.fields import Field
from bridge_pipelines.stampli.records import RecordKind, identity_of

PAYMENTS = RecordKind(
    kind="payments",
    noun="payment",
    fields=(
        Field("payment_id", "PaymentId"),
        Field("invoice_id", "InvoiceId"),
        Field("invoice_number", "InvoiceNumber", required=False, max_len=30),
        Field("vendor_id", "VendorId"),
        Field("payment_date", "PaymentDate", "date"),
        Field("amount", "Amount", "money"),
        Field("currency", "Currency", "pattern", pattern=r"^[A-Z]{3}$", hint="an ISO 4217 code"),
        Field("method", "Method", "enum", choices=("ACH", "Check", "Wire", "Card", "Other")),
        Field("reference", "Reference", required=False, optional_column=True),
    ),
    identity=identity_of("payment_id", "invoice_id"),
    day="payment_date",
    amount="amount",
    currency="currency",
)
