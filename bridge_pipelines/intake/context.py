"""What an intake step needs, built once per process from settings and the tenant files."""

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.settings import Settings, get_settings
from bridge_pipelines.sftp.client import SftpClient
from bridge_pipelines.sftp.credentials import SftpCredentials
from bridge_pipelines.sftp.pool import SftpPool
from bridge_pipelines.tenants.credentials import sftp_credentials
from bridge_pipelines.tenants.models import TenantConfig
from bridge_pipelines.tenants.secrets import ENV_VAR as KEYS_ENV_VAR
from bridge_pipelines.tenants.secrets import Keyring


@dataclass
class IntakeContext:
    """Ledger, keyring, archive and SFTP connections for one process.

    Secrets are decrypted here, in memory, only when a connection is opened.
    """

    settings: Settings

    @classmethod
    def from_env(cls) -> "IntakeContext":
        return cls(settings=get_settings())

    @cached_property
    def ledger(self) -> Ledger:
        ledger = Ledger(self.settings.resolved_ledger_url)
        ledger.migrate()
        return ledger

    @cached_property
    def keyring(self) -> Keyring:
        if os.environ.get(KEYS_ENV_VAR):
            return Keyring.load()
        return Keyring.load(self.settings.resolved_key_file)

    @cached_property
    def pool(self) -> SftpPool:
        return SftpPool()

    @property
    def archive_dir(self) -> Path:
        return self.settings.resolved_archive_dir

    @property
    def work_dir(self) -> Path:
        path = self.settings.resolved_work_dir
        path.mkdir(parents=True, exist_ok=True)
        return path

    def credentials_factory(self, tenant: TenantConfig) -> Callable[[], SftpCredentials]:
        return lambda: sftp_credentials(tenant, self.keyring)

    @contextmanager
    def sftp(self, tenant: TenantConfig) -> Iterator[SftpClient]:
        """A pooled connection: sensors list 1,000 tenants per tick, handshakes would not fit."""
        with self.pool.get(tenant, self.credentials_factory(tenant)) as client:
            yield client
