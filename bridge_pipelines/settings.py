"""Process-wide settings, read from `BRIDGE_*` environment variables.

Per-tenant facts live in tenant files; this holds only where things are on this machine.
"""

import os
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Where state lives. Defaults put everything under `BRIDGE_HOME` (`.bridge/`)."""

    model_config = SettingsConfigDict(env_prefix="BRIDGE_", frozen=True)

    home: Path = Path(".bridge")
    tenants_dir: Path = Path("tenants")
    ledger_url: str | None = None
    archive_dir: Path | None = None
    key_file: Path | None = None
    work_dir: Path | None = None
    mappings_dir: Path | None = None
    shard: str | None = None
    """`3/8`: this code location loads only the third of eight shards of the tenants."""
    # `per_tenant`: three sensors per tenant, each with its own tick history in the UI.
    # `shared`: one intake, one alerts and one review-queue sensor per code location, each
    # evaluating every tenant per tick (idle cost; docs/design-notes.md, "Shared sensors").
    sensors: Literal["per_tenant", "shared"] = "per_tenant"

    @cached_property
    def resolved_ledger_url(self) -> str:
        return self.ledger_url or f"sqlite:///{(self.home / 'ledger.db').resolve()}"

    @cached_property
    def resolved_archive_dir(self) -> Path:
        return (self.archive_dir or self.home / "archive").resolve()

    @cached_property
    def resolved_key_file(self) -> Path:
        return (self.key_file or self.home / "keys.json").resolve()

    @cached_property
    def resolved_mappings_dir(self) -> Path:
        """`BRIDGE_MAPPINGS_DIR`, else `<BRIDGE_HOME>/mappings` (never the working directory)."""
        return (self.mappings_dir or self.home / "mappings").resolve()

    def mapping_file(self, tenant_id: str) -> Path:
        """The tenant's mapping file: `<mappings dir>/<tenant>.yaml`."""
        return self.resolved_mappings_dir / f"{tenant_id}.yaml"

    @cached_property
    def resolved_work_dir(self) -> Path:
        return (self.work_dir or self.home / "work").resolve()


def get_settings() -> Settings:
    """Settings from the environment as it is now (not cached: tests change it)."""
    return Settings()


def bridge_env() -> tuple[tuple[str, str], ...]:
    """The `BRIDGE_*` variables now: a cache key for what is built from them."""
    return tuple(sorted((k, v) for k, v in os.environ.items() if k.upper().startswith("BRIDGE_")))
