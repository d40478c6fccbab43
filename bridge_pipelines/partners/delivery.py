"""Delivering a file to a partner's SFTP server: pinned host key, bounded backoff, verified.

- Connecting: a refused or unreachable server is tried `connect_attempts` times and an
  authentication failure `auth_attempts` times (2 by default: a server that counts failed logins
  must never lock the account because of us), with exponential backoff capped at
  `backoff_cap_s`. A changed host key is refused at once, naming both fingerprints.
- Uploading: to a hidden temporary name, then renamed into place (`SftpClient.upload_atomic`),
  so the partner never sees half a file under the final name; a full disk or a cut connection
  leaves at most the temporary, which a later upload sweeps.
- Verifying: the size after the rename, and the sha256 read back where the server lets us read
  the folder (`verified` says which).
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from bridge_pipelines.errors import ConfigError, HostKeyError, RetryableError
from bridge_pipelines.partners.models import Partner
from bridge_pipelines.sftp.client import SftpClient
from bridge_pipelines.sftp.credentials import SftpCredentials

log = logging.getLogger(__name__)


class RemoteConflictError(ConfigError):
    """The partner's server holds a different file under our file's name: never overwritten."""


@dataclass(frozen=True)
class Delivered:
    """What the partner's server holds after a delivery."""

    remote_name: str
    size: int
    verified: str  # "sha256" (read back) or "size" (the folder is write-only)
    uploaded: bool  # False: the identical file was already there


def connect(
    partner: Partner,
    credentials: SftpCredentials,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> SftpClient:
    """An SFTP session with the partner, after bounded, backed-off attempts.

    Raises:
        HostKeyError: the server's key is not the pinned one (at once).
        ConfigError: the server refused our credentials `auth_attempts` times.
        RetryableError: the server stayed unreachable for `connect_attempts` tries.
    """
    refused = failed_auth = 0
    delay = partner.backoff_s
    while True:
        try:
            return SftpClient.connect(partner.sftp, credentials, attempts=1)
        except HostKeyError:
            raise
        except ConfigError as exc:
            failed_auth += 1
            if failed_auth >= partner.auth_attempts:
                raise ConfigError(
                    f"partner {partner.id}: {exc} ({failed_auth} attempts; not retried further "
                    "so the account is not locked)"
                ) from None
            what = "authentication failed"
        except RetryableError as exc:
            refused += 1
            if refused >= partner.connect_attempts:
                raise RetryableError(
                    f"partner {partner.id}: {exc} (after {refused} attempts)"
                ) from None
            what = "unreachable"
        log.info("partner %s %s; trying again in %.1fs", partner.id, what, delay)
        sleep(delay)
        delay = min(partner.backoff_cap_s, max(delay * 2, 0.1))


def deliver(client: SftpClient, folder: str, name: str, data: bytes, sha256: str) -> Delivered:
    """Put `data` at `folder/name`, unless the identical file is already there.

    Raises:
        RemoteConflictError: another file holds the name (never overwritten).
        ConfigError: the server refused the upload (full disk, permissions).
        RetryableError: the connection failed, or the server holds other bytes after upload.
    """
    limit = len(data) + 1
    existing = client.stat(folder, name)
    if existing is not None:
        found = client.remote_sha256(folder, name, max_bytes=limit)
        if existing.size == len(data) and found in (sha256, None):
            return Delivered(name, len(data), "sha256" if found else "size", uploaded=False)
        raise RemoteConflictError(
            f"{folder}/{name} already exists on the partner's server with other content "
            f"({existing.size} bytes, sha256 {found or 'unreadable'}; ours: {len(data)} bytes, "
            f"sha256 {sha256}); not overwritten: ask the partner whether it was imported"
        )
    client.upload_atomic(folder, name, data)
    landed = client.stat(folder, name)
    if landed is None or landed.size != len(data):
        shown = "missing" if landed is None else f"{landed.size} bytes"
        raise RetryableError(
            f"{folder}/{name}: after upload the server holds {shown}, expected {len(data)}"
        )
    found = client.remote_sha256(folder, name, max_bytes=limit)
    if found is not None and found != sha256:
        raise RetryableError(f"{folder}/{name}: sha256 read back {found} differs from {sha256}")
    return Delivered(name, len(data), "sha256" if found else "size", uploaded=True)
