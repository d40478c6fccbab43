"""Acumatica's `erp:` block of a tenant file: instance, endpoint version, auth, posting choices.

`base_url` is the full instance URL (`https://acme.acumatica.com` or
`https://erp.example.com/AcumaticaERP`), `company` the tenant name, `username` / `password`
the API user (cookie login, or OAuth's password grant). `ca_bundle` and the TLS rules are every
connector's (`erps/settings.py`).
"""

import re
from pathlib import PurePath
from typing import Literal

from pydantic import Field, field_validator

from bridge_pipelines.erps.settings import EncryptedSecret, ErpSettings

_CLIENT_ID = re.compile(r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-"
                        r"[0-9A-Fa-f]{12}@\S+$")  # fmt: skip
_VERSION = re.compile(r"^\d{2}\.\d{3}\.\d{3}$")


class AcumaticaErpSettings(ErpSettings):
    """The Acumatica connection of one tenant; only `acumatica_*` fields are this ERP's own."""

    kind: Literal["acumatica"] = "acumatica"
    acumatica_endpoint: str = Field(
        "Default", min_length=1, description="Acumatica: the web service endpoint's name."
    )
    acumatica_endpoint_version: str | None = Field(
        None,
        description="Acumatica: the endpoint version pinned for this tenant (e.g. "
        "25.200.001); a version the instance does not serve answers 404, and `bridge ping` "
        "names the ones it does.",
    )
    acumatica_branch: str | None = Field(
        None, description="Acumatica: the branch to sign in to and to post bill lines to."
    )
    acumatica_auth: Literal["cookie", "oauth2"] = Field(
        "cookie",
        description="Acumatica: `cookie` (login/logout with the API user) or `oauth2` (tokens "
        "from /identity/connect/token, refresh tokens rotating and kept encrypted).",
    )
    acumatica_client_id: str | None = Field(
        None, description="Acumatica OAuth: the connected application's id, `GUID@Tenant`."
    )
    acumatica_client_secret: EncryptedSecret | None = None
    acumatica_refresh_token: EncryptedSecret | None = Field(
        None,
        description="Acumatica OAuth: a refresh token from an administrator's authorisation, "
        "used once when no token is saved yet (then the saved, rotated one is used).",
    )
    acumatica_token_store: str | None = Field(
        None,
        description="Acumatica OAuth: absolute folder for the encrypted token file; unset, "
        "`$BRIDGE_HOME/acumatica-tokens`.",
    )
    acumatica_release_bills: bool = Field(
        False, description="Acumatica: release each bill after saving it (ReleaseBill)."
    )
    acumatica_cost_center_field: Literal["Subaccount", "Branch", "Project"] = Field(
        "Subaccount",
        description="Acumatica: the bill line field Stampli's cost center goes to; its "
        "records are exported to Stampli as cost centers.",
    )
    acumatica_tax_account: str | None = Field(
        None,
        min_length=1,
        description="Acumatica: the account Stampli's tax is posted to as one 'Sales tax' "
        "line; unset, the tax is spread over the lines.",
    )

    @field_validator("acumatica_client_id")
    @classmethod
    def _client_id_shape(cls, value: str | None) -> str | None:
        if value is not None and not _CLIENT_ID.match(value):
            raise ValueError("must be GUID@TenantName, as Acumatica shows it")
        return value

    @field_validator("acumatica_token_store")
    @classmethod
    def _absolute_store(cls, value: str | None) -> str | None:
        # Relative to what? The working directory of a Dagster run is nobody's choice.
        if value is not None and not PurePath(value).is_absolute():
            raise ValueError("must be an absolute folder path on the machine running us")
        return value

    @field_validator("acumatica_endpoint_version")
    @classmethod
    def _version_shape(cls, value: str | None) -> str | None:
        if value is not None and not _VERSION.match(value):
            raise ValueError("must be a version like 25.200.001")
        return value
