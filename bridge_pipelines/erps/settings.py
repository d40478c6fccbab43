"""The ERP block of a tenant file: a base every connector's settings model extends.

A tenant file's `erp:` section is validated by the model of the connector its `kind` names
(`ErpPlugin.settings_model`), so a field only one ERP reads (SYSPRO's `odata_url`, SAP B1's
`sap_b1_tax_account`) is a field of that connector's model alone, and a file that sets it for
another ERP is refused at load time, naming the field, instead of being silently ignored.

Secret fields are typed `EncryptedSecret`: the file holds ciphertext only, decrypted in memory
by the tenants layer when an adapter is built (`tenants.erp`), never by a connector.
"""

from typing import Literal

from pydantic import Field

from bridge_pipelines.config_fields import ENCRYPTED_RE, EncryptedSecret, FrozenModel

__all__ = ["ENCRYPTED_RE", "EncryptedSecret", "ErpSettings", "FrozenModel", "NoErpSettings"]


class ErpSettings(FrozenModel):
    """What every ERP connection has: where, which company, who, and how fast we may call.

    A connector subclasses it with `kind: Literal["<its kind>"]` and its own fields. Fields
    are optional here so that a tenant file loads and `bridge tenants check` can report every
    problem at once; the connector's factory says which it needs (`missing`).
    """

    kind: str
    base_url: str | None = None
    company: str | None = None
    username: str | None = None
    password: EncryptedSecret | None = None
    company_password: EncryptedSecret | None = None
    max_requests_per_minute: int | None = Field(
        None, gt=0, description="The ERP's rate limit; the adapter paces itself under it."
    )

    def missing(self, *names: str) -> list[str]:
        """Which of the named fields are unset or empty (for one `ConfigError` naming them)."""
        return [name for name in names if not getattr(self, name)]

    def machine_problems(self) -> list[tuple[str, str]]:
        """`(field, problem)` pairs only this machine can see (a CA file that is not there).

        `bridge tenants check` reports them; the adapter refuses to start on them.
        """
        return []


class NoErpSettings(ErpSettings):
    """A tenant without an ERP (intake, validation and review only)."""

    kind: Literal["none"] = "none"
