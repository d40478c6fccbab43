"""Vendor master changes: each file carries the vendors changed since the last export.

A vendor's identity includes `ModifiedAt`, so two changes of one vendor are two documents and
the same change exported twice is a duplicate.
"""

from bridge_pipelines.stampli.fields import Field
from bridge_pipelines.stampli.records import RecordKind, identity_of

_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"

VENDORS = RecordKind(
    kind="vendors",
    noun="vendor",
    fields=(
        Field("vendor_id", "VendorId"),
        Field("vendor_name", "VendorName"),
        Field("tax_id", "TaxId", required=False),
        Field(
            "email", "Email", "pattern", required=False, pattern=_EMAIL, hint="an e-mail address"
        ),
        Field("phone", "Phone", required=False),
        Field("address_line1", "AddressLine1", required=False),
        Field("address_line2", "AddressLine2", required=False),
        Field("city", "City", required=False),
        Field("region", "Region", required=False),
        Field("postal_code", "PostalCode", required=False),
        Field(
            "country",
            "Country",
            "pattern",
            required=False,
            pattern=r"^[A-Z]{2}$",
            hint="an ISO 3166 two-letter code (US)",
        ),
        Field(
            "currency",
            "Currency",
            "pattern",
            required=False,
            pattern=r"^[A-Z]{3}$",
            hint="an ISO 4217 code (USD)",
        ),
        Field("payment_terms", "PaymentTerms", required=False),
        Field("status", "Status", "enum", choices=("Active", "Inactive")),
        Field("erp_vendor_code", "ErpVendorCode", required=False, optional_column=True),
        Field("modified_at", "ModifiedAt", "timestamp"),
    ),
    identity=identity_of("vendor_id", "modified_at", timestamps=("modified_at",)),
    day="modified_at",
    currency="currency",
)
