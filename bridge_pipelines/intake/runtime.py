"""What an intake step needs, built once per process from settings and the tenant files."""

import logging
import os
import time
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

log = logging.getLogger(__name__)


# A download writes its `.part` continuously and is parsed and archived within minutes; a
# work file untouched this long belongs to a run that was killed.
STALE_WORK_FILE_S = 3600.0


def sweep_stale_work_files(work_dir: Path, older_than_s: float = STALE_WORK_FILE_S) -> list[str]:
    """Remove what killed runs left in the work folder; the ledger re-downloads those files."""
    removed: list[str] = []
    cutoff = time.time() - older_than_s
    for entry in work_dir.iterdir():
        try:
            if entry.is_file() and entry.stat().st_mtime < cutoff:
                entry.unlink()
                removed.append(entry.name)
        except FileNotFoundError:
            continue  # another run's cleanup got there first
    if removed:
        log.info("removed %d stale file(s) from %s (interrupted runs)", len(removed), work_dir)
    return removed


@dataclass
class Runtime:
    """What a run (or a CLI command) works with: ledger, keyring, archive, SFTP connections.

    One per process, built from the environment's settings; intake, posting, master data and
    verify take it. Secrets are decrypted here, in memory, only when a connection is opened.
    """

    settings: Settings

    @classmethod
    def from_env(cls) -> "Runtime":
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

    @cached_property
    def work_dir(self) -> Path:
        """Downloads in progress: owner-only, as the tenant files in it may hold anything."""
        path = self.settings.resolved_work_dir
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(path, 0o700)
        sweep_stale_work_files(path)
        return path

    def credentials_factory(self, tenant: TenantConfig) -> Callable[[], SftpCredentials]:
        return lambda: sftp_credentials(tenant, self.keyring)

    @contextmanager
    def sftp(self, tenant: TenantConfig) -> Iterator[SftpClient]:
        """A pooled connection: sensors list 1,000 tenants per tick, handshakes would not fit."""
        with self.pool.get(tenant, self.credentials_factory(tenant)) as client:
            yield client
