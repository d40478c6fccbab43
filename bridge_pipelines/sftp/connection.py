"""Opening an authenticated SSH connection to a tenant's server: pinned key, bounded retries.

What goes wrong maps onto what the caller does next:
- the host key is not the pinned one -> `HostKeyError` (stop the tenant; never connect anyway);
- the server refuses our credentials -> `ConfigError`, at once (a retry loop would only lock the
  account or trip the server's penalties);
- the network fails (refused, reset, timeout) -> a few attempts with exponential backoff, then
  `RetryableError`.
Secret values never appear in a message: only user, host and port do.
"""

import logging
import socket
from collections.abc import Iterable, Mapping
from typing import Any

import paramiko
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from bridge_pipelines.errors import ConfigError, RetryableError
from bridge_pipelines.sftp.credentials import SftpCredentials
from bridge_pipelines.sftp.hostkeys import host_key_mismatch, known_hosts_name, parse_host_key
from bridge_pipelines.sftp.keys import load_private_key
from bridge_pipelines.sftp.reads import ChunkPipe
from bridge_pipelines.sftp.settings import SftpConfig

log = logging.getLogger(__name__)

# Bulk downloads: large SSH packets and a wide window let one request carry 256 KiB, so Python's
# per-packet cost stops dominating (paramiko's 32 KiB default caps it far below OpenSSH).
WINDOW_SIZE = 64 * 1024 * 1024
MAX_PACKET_SIZE = 256 * 1024
# AES-GCM first: one AEAD call per packet, no separate MAC, and not affected by Terrapin.
PREFERRED_CIPHERS = (
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "aes128-ctr",
    "aes256-ctr",
)
# CBC and encrypt-then-MAC modes are dropped outright: Terrapin (CVE-2023-48795) targets them on
# servers without strict key exchange (OpenSSH < 9.6).
DISABLED_ALGORITHMS = {
    "ciphers": ["aes128-cbc", "aes192-cbc", "aes256-cbc", "3des-cbc"],
    "macs": [
        "hmac-sha2-256-etm@openssh.com",
        "hmac-sha2-512-etm@openssh.com",
        "hmac-md5",
        "hmac-md5-96",
        "hmac-sha1-96",
    ],
}
KEEPALIVE_S = 30
CONNECT_ATTEMPTS = 3


class TunedTransport(paramiko.Transport):
    """A transport sized for bulk SFTP and cheap when idle.

    paramiko's reader thread wakes every 0.1 s to check for shutdown; a sensor process keeps a
    thousand idle connections, so it wakes once a second instead (closing is unaffected: the
    socket is closed under the thread).
    """

    _active_check_timeout = 1.0

    def __init__(
        self,
        sock: "str | tuple[str, int] | socket.socket | paramiko.Channel | paramiko.ProxyCommand",
        *,
        disabled_algorithms: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        super().__init__(
            sock,
            default_window_size=WINDOW_SIZE,
            default_max_packet_size=MAX_PACKET_SIZE,
            disabled_algorithms=disabled_algorithms,
        )
        options = self.get_security_options()
        offered = [c for c in PREFERRED_CIPHERS if c in options.ciphers]
        options.ciphers = tuple(offered + [c for c in options.ciphers if c not in offered])

    def open_channel(self, *args: Any, **kwargs: Any) -> paramiko.Channel:
        """A channel as paramiko opens it, with a `ChunkPipe` as its input buffer (see `reads.py`).

        Swapped before any request is made on the channel, so no data can have arrived yet.
        """
        channel: paramiko.Channel = super().open_channel(*args, **kwargs)
        pipe = ChunkPipe()
        pipe.feed(channel.in_buffer.empty())
        channel.in_buffer = pipe
        return channel


def open_ssh(
    cfg: SftpConfig, credentials: SftpCredentials, *, attempts: int = CONNECT_ATTEMPTS
) -> paramiko.SSHClient:
    """Connect and authenticate, retrying network failures only.

    Raises:
        HostKeyError: the server's key is not the pinned one.
        ConfigError: authentication failed, or the tenant's key/host key cannot be used.
        RetryableError: the server could not be reached after `attempts` tries.
    """
    pinned = parse_host_key(cfg.host_key)
    pkey = None
    if credentials.private_key is not None:
        passphrase = credentials.private_key_passphrase
        pkey = load_private_key(
            credentials.private_key.get_secret_value(),
            passphrase.get_secret_value() if passphrase is not None else None,
        )
    password = credentials.password.get_secret_value() if credentials.password else None
    retrying = Retrying(
        retry=retry_if_exception_type(RetryableError),
        stop=stop_after_attempt(max(1, attempts)),
        wait=wait_exponential(multiplier=0.5, max=8),
        reraise=True,
    )
    for attempt in retrying:
        with attempt:
            return _connect_once(cfg, pinned, pkey, password)
    raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover


def _connect_once(
    cfg: SftpConfig, pinned: paramiko.PKey, pkey: paramiko.PKey | None, password: str | None
) -> paramiko.SSHClient:
    where = f"{cfg.host}:{cfg.port}"
    client = paramiko.SSHClient()
    # The pinned key is the only key known for this server: no system or user known_hosts.
    client.get_host_keys().add(known_hosts_name(cfg.host, cfg.port), pinned.get_name(), pinned)
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    timeout = cfg.connect_timeout_s
    try:
        client.connect(
            cfg.host,
            port=cfg.port,
            username=cfg.username,
            password=password,
            pkey=pkey,
            timeout=timeout,
            banner_timeout=timeout,
            auth_timeout=timeout,
            channel_timeout=timeout,
            allow_agent=False,
            look_for_keys=False,
            disabled_algorithms=DISABLED_ALGORITHMS,
            transport_factory=TunedTransport,  # type: ignore[arg-type]  # stubs predate paramiko 5
        )
    except paramiko.BadHostKeyException as exc:
        client.close()
        raise host_key_mismatch(
            known_hosts_name(cfg.host, cfg.port), expected=pinned, offered=exc.key
        ) from None
    except paramiko.AuthenticationException:
        client.close()
        # `from None`: paramiko's exception may quote server banners; ours names user and host only.
        raise ConfigError(f"authentication failed for user {cfg.username!r} at {where}") from None
    except (paramiko.SSHException, OSError, EOFError) as exc:
        client.close()
        log.info("SFTP connection to %s failed: %s", where, type(exc).__name__)
        raise RetryableError(
            f"could not reach SFTP server {where}: {type(exc).__name__}: {exc}"
        ) from None
    transport = client.get_transport()
    assert transport is not None
    transport.set_keepalive(KEEPALIVE_S)
    return client
