"""The ERP block of a tenant file: a base every connector's settings model extends.

A tenant file's `erp:` section is validated by the model of the connector its `kind` names
(`ErpPlugin.settings_model`), so a field only one ERP reads (SYSPRO's `odata_url`, SAP B1's
`sap_b1_tax_account`) is a field of that connector's model alone, and a file that sets it for
another ERP is refused at load time, naming the field, instead of being silently ignored.

Secret fields are typed `EncryptedSecret`: the file holds ciphertext only, decrypted in memory
by the tenants layer when an adapter is built (`tenants.erp`), never by a connector.

TLS, for every connector: an ERP URL (`base_url` and any other `*_url` field) is `https`
unless its host is loopback or the tenant states `allow_plaintext: true` with a
`plaintext_reason`; `ca_bundle` names the PEM file of a private CA. Certificates are always
verified.
"""

import ipaddress
import ssl
from pathlib import Path, PurePath
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationInfo, field_validator

from bridge_pipelines.config_fields import ENCRYPTED_RE, EncryptedSecret, FrozenModel
from bridge_pipelines.errors import ConfigError

__all__ = [
    "ENCRYPTED_RE",
    "EncryptedSecret",
    "ErpSettings",
    "FrozenModel",
    "NoErpSettings",
    "ca_bundle_problem",
    "is_loopback",
]


def ca_bundle_problem(path: str) -> str | None:
    """Why `path` cannot serve as a CA bundle (None when it loads as one)."""
    file = Path(path)
    if not file.is_file():
        return f"{path} is not a file on this machine" if file.exists() else f"{path} not found"
    try:
        ssl.create_default_context(cafile=path)
    except PermissionError:
        return f"{path} is not readable by this user"
    except (ssl.SSLError, ValueError, UnicodeDecodeError):
        return f"{path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
    except OSError as exc:
        return f"{path} cannot be read: {exc.strerror or exc}"
    return None


def is_loopback(host: str) -> bool:
    """Whether `host` is this machine (`localhost`, 127.0.0.0/8, ::1)."""
    name = host.strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class ErpSettings(FrozenModel):
    """What every ERP connection has: where, which company, who, and how fast we may call.

    A connector subclasses it with `kind: Literal["<its kind>"]` and its own fields. Fields
    are optional here so that a tenant file loads and `bridge tenants check` can report every
    problem at once; the connector's factory says which it needs (`missing`).
    """

    kind: str
    # Declared before the URLs: the URLs' validator reads them.
    allow_plaintext: bool = Field(
        False,
        description="Allow an `http` ERP URL off this machine (credentials travel in clear); "
        "needs `plaintext_reason`. Loopback URLs need nothing.",
    )
    plaintext_reason: str | None = Field(
        None, min_length=1, description="Why plain HTTP is acceptable (who decided, which network)."
    )
    ca_bundle: str | None = Field(
        None,
        description="Absolute path of a PEM file of CA certificates the ERP's certificate is "
        "verified against (self-signed or corporate CA). Verification is never turned off; "
        "unset, the system store is used.",
    )
    base_url: str | None = None
    company: str | None = None
    username: str | None = None
    password: EncryptedSecret | None = None
    company_password: EncryptedSecret | None = None
    max_requests_per_minute: int | None = Field(
        None, gt=0, description="The ERP's rate limit; the adapter paces itself under it."
    )

    @field_validator("plaintext_reason")
    @classmethod
    def _reason_with_plaintext(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and not info.data.get("allow_plaintext"):
            raise ValueError("is only read with allow_plaintext: true")
        return value

    @field_validator("ca_bundle")
    @classmethod
    def _absolute_ca_bundle(cls, value: str | None) -> str | None:
        # Relative to what? The working directory of a Dagster run is nobody's choice.
        if value is not None and not PurePath(value).is_absolute():
            raise ValueError("must be an absolute path to a PEM file on the machine running us")
        return value

    @field_validator("*")
    @classmethod
    def _https_off_loopback(cls, value: Any, info: ValidationInfo) -> Any:
        """An ERP URL (`*_url`) is https, on loopback, or plain HTTP allowed with a reason."""
        if not (info.field_name or "").endswith("_url") or not isinstance(value, str):
            return value
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http(s) URL with a host, e.g. https://erp.example:443")
        if parts.scheme == "http" and not is_loopback(parts.hostname):
            if not info.data.get("allow_plaintext"):
                raise ValueError(
                    f"must be https: {parts.hostname} is not this machine, and plain HTTP "
                    "sends the ERP credentials in clear (if that is intended, set "
                    "allow_plaintext: true and plaintext_reason)"
                )
            if not info.data.get("plaintext_reason"):
                raise ValueError("allow_plaintext: true needs a plaintext_reason")
        return value

    def missing(self, *names: str) -> list[str]:
        """Which of the named fields are unset or empty (for one `ConfigError` naming them)."""
        return [name for name in names if not getattr(self, name)]

    def tls_settings(self, owner: str) -> dict[str, Any]:
        """What the connector's `ClientSettings` take from this block for TLS (`ca_bundle`).

        Raises:
            ConfigError: `erp.ca_bundle` is not a readable PEM file on this machine.
        """
        for name, problem in ErpSettings.machine_problems(self):
            raise ConfigError(f"{owner}: erp.{name}: {problem}")
        return {} if self.ca_bundle is None else {"ca_bundle": self.ca_bundle}

    def client_options(self, owner: str, overrides: dict[str, Any]) -> dict[str, Any]:
        """The `ClientSettings` fields this block sets (rate limit, CA bundle), under `overrides`.

        Raises:
            ConfigError: `erp.ca_bundle` is not a readable PEM file on this machine.
        """
        options: dict[str, Any] = {}
        if self.max_requests_per_minute:
            options["max_requests_per_minute"] = self.max_requests_per_minute
        if "ca_bundle" not in overrides:
            options.update(self.tls_settings(owner))
        return {**options, **overrides}

    def machine_problems(self) -> list[tuple[str, str]]:
        """`(field, problem)` pairs only this machine can see (a CA file that is not there).

        `bridge tenants check` reports them; the adapter refuses to start on them.
        """
        if self.ca_bundle is None:
            return []
        problem = ca_bundle_problem(self.ca_bundle)
        return [("ca_bundle", problem)] if problem else []


class NoErpSettings(ErpSettings):
    """A tenant without an ERP (intake, validation and review only)."""

    kind: Literal["none"] = "none"
