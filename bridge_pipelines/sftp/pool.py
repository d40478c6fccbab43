"""Live SFTP connections kept per tenant, for the long-lived Dagster code-server process.

Sensors list 1,000 tenants' folders within a tick; an SSH handshake costs more than the listing
itself, so connections outlive a tick. A connection is used by one caller at a time (paramiko's
SFTP session is not safe for concurrent requests), is checked before reuse, and is thrown away
after any failure that may have left it broken. A tenant whose server keeps failing is not
retried on every tick: the next attempt waits out a growing pause (capped), and a refusal of our
credentials or host key waits longer, so a wrong password never turns into a lockout storm. A
changed tenant configuration resets both the connection and the pause.
"""

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

from bridge_pipelines.errors import BridgeError, ConfigError, RetryableError
from bridge_pipelines.sftp.client import SftpClient
from bridge_pipelines.sftp.credentials import SftpCredentials
from bridge_pipelines.sftp.settings import SftpConfig

Connector = Callable[[SftpConfig, SftpCredentials], SftpClient]


class SftpTenant(Protocol):
    """What the pool needs of a tenant (a `TenantConfig` is one): its id and `sftp:` section."""

    @property
    def id(self) -> str: ...

    @property
    def sftp(self) -> SftpConfig: ...


@dataclass
class _Slot:
    lock: threading.Lock = field(default_factory=threading.Lock)
    client: SftpClient | None = None
    cfg: SftpConfig | None = None
    last_used: float = 0.0
    failures: int = 0
    retry_at: float = 0.0
    last_error: BridgeError | None = None


class SftpPool:
    """One reusable `SftpClient` per tenant.

    Args:
        connect: how to open a client (tests and benchmarks pass their own attempts count).
        max_idle_s: connections unused for longer are closed and reopened on the next `get`.
        base_pause_s / max_pause_s: the pause after consecutive network failures doubles from
            `base_pause_s` up to `max_pause_s`.
        config_pause_s: the pause after an authentication or host key refusal.
    """

    def __init__(
        self,
        *,
        connect: Connector | None = None,
        max_idle_s: float = 900.0,
        base_pause_s: float = 5.0,
        max_pause_s: float = 300.0,
        config_pause_s: float = 300.0,
    ) -> None:
        self._connect: Connector = connect or SftpClient.connect
        self._max_idle_s = max_idle_s
        self._base_pause_s = base_pause_s
        self._max_pause_s = max_pause_s
        self._config_pause_s = config_pause_s
        self._slots: dict[str, _Slot] = {}
        self._lock = threading.Lock()

    def _slot(self, tenant_id: str) -> _Slot:
        with self._lock:
            slot = self._slots.get(tenant_id)
            if slot is None:
                slot = self._slots[tenant_id] = _Slot()
            return slot

    @contextmanager
    def get(
        self, tenant: SftpTenant, credentials_factory: Callable[[], SftpCredentials]
    ) -> Iterator[SftpClient]:
        """A live client for the tenant, held exclusively until the `with` block ends.

        Raises:
            HostKeyError, ConfigError: the server refused us (also raised again, without a new
                attempt, until the pause ends or the tenant's configuration changes).
            RetryableError: the server is unreachable (likewise paused between attempts).
        """
        slot = self._slot(tenant.id)
        with slot.lock:
            client = self._checkout(slot, tenant, credentials_factory)
            try:
                yield client
            except BaseException as exc:
                if client.broken or not client.is_alive() or not isinstance(exc, BridgeError):
                    self._discard(slot)
                raise
            slot.last_used = time.monotonic()
            if not client.is_alive():
                self._discard(slot)

    def _checkout(
        self, slot: _Slot, tenant: SftpTenant, credentials_factory: Callable[[], SftpCredentials]
    ) -> SftpClient:
        now = time.monotonic()
        if slot.cfg != tenant.sftp:
            self._discard(slot)
            slot.failures, slot.retry_at, slot.last_error = 0, 0.0, None
            slot.cfg = tenant.sftp
        if slot.client is not None:
            idle = now - slot.last_used
            if slot.client.is_alive() and idle < self._max_idle_s:
                return slot.client
            self._discard(slot)
        if slot.last_error is not None and now < slot.retry_at:
            raise type(slot.last_error)(
                f"{slot.last_error} (tenant {tenant.id}: next attempt in "
                f"{slot.retry_at - now:.0f} s)"
            )
        try:
            client = self._connect(tenant.sftp, credentials_factory())
        except ConfigError as exc:
            slot.failures += 1
            slot.last_error = exc
            slot.retry_at = time.monotonic() + self._config_pause_s
            raise
        except RetryableError as exc:
            slot.failures += 1
            slot.last_error = exc
            pause = self._base_pause_s * 2 ** (slot.failures - 1)
            slot.retry_at = time.monotonic() + min(pause, self._max_pause_s)
            raise
        slot.client = client
        slot.failures, slot.retry_at, slot.last_error = 0, 0.0, None
        slot.last_used = time.monotonic()
        return client

    @staticmethod
    def _discard(slot: _Slot) -> None:
        if slot.client is not None:
            slot.client.close()
            slot.client = None

    def forget(self, tenant_id: str) -> None:
        """Close a tenant's connection and clear its pause (after an operator fixed something)."""
        slot = self._slot(tenant_id)
        with slot.lock:
            self._discard(slot)
            slot.failures, slot.retry_at, slot.last_error = 0, 0.0, None

    def close_all(self) -> None:
        """Close every connection; call on process shutdown (paramiko threads hang otherwise)."""
        with self._lock:
            slots = list(self._slots.values())
            self._slots.clear()
        for slot in slots:
            with slot.lock:
                self._discard(slot)

    def __len__(self) -> int:
        """Number of open connections."""
        with self._lock:
            return sum(1 for s in self._slots.values() if s.client is not None)
