"""GL accounts known to Stampli."""

from bridge_pipelines.stampli.fields import Field
from bridge_pipelines.stampli.records import RecordKind, identity_of

GL_ACCOUNTS = RecordKind(
    kind="gl_accounts",
    noun="GL account",
    fields=(
        Field("account_code", "AccountCode"),
        Field("account_name", "AccountName"),
        Field(
            "account_type",
            "AccountType",
            "enum",
            choices=("Expense", "Asset", "Liability", "Revenue", "Equity"),
        ),
        Field("active", "Active", "bool"),
    ),
    identity=identity_of("account_code"),
)
