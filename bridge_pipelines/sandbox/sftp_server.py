"""An embedded SFTP server standing in for a tenant's Stampli server (demo and quick tests).

asyncssh serves one folder as `/` (chroot) with the Stampli folders in it, a password user and/or
key users, and its own Ed25519 host key, kept on disk so a tenant file can pin it across
restarts. It runs on its own event loop in a background thread, so it lives beside synchronous
code (the CLI, pytest) without asyncio leaking into them.

Faults (`faults`, changed at any time, read on each request) reproduce what Stampli's server can
do to us: drop the connection in the middle of a transfer, delete files right after a listing,
refuse writes in `/inbound` (a read-only or full partner folder), and present a new host key
(`rotate_host_key()`).
"""

import asyncio
import contextlib
import hmac
import os
import posixpath
import threading
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh

STAMPLI_FOLDERS = (
    "outbound/invoices",
    "outbound/payments",
    "outbound/vendors",
    "outbound/gl_accounts",
    "inbound",
)
_WRITE_FLAGS = asyncssh.FXF_WRITE | asyncssh.FXF_CREAT | asyncssh.FXF_TRUNC | asyncssh.FXF_APPEND


@dataclass
class SftpFaults:
    """Faults the server injects; all off by default.

    Attributes:
        disconnect_after_bytes: abort the connection once a session has served more file bytes.
        vanish_after_listing: file names deleted right after a listing that showed them.
        readonly_inbound: refuse every write, rename and removal under `/inbound`.
        inbound_full: answer writes under `/inbound` with a failure, as a full disk does.
        understate_size: file name -> the size listings and stats report for it, whatever its
            real size (a server that lies; reads still serve the real bytes).
    """

    disconnect_after_bytes: int | None = None
    vanish_after_listing: set[str] = field(default_factory=set)
    readonly_inbound: bool = False
    inbound_full: bool = False
    understate_size: dict[str, int] = field(default_factory=dict)

    def clear(self) -> None:
        """Disarm every fault."""
        self.disconnect_after_bytes = None
        self.vanish_after_listing = set()
        self.readonly_inbound = False
        self.inbound_full = False
        self.understate_size = {}


class EmbeddedSftpServer:
    """A chrooted SFTP server on loopback, in a background thread.

    Args:
        root: local folder served as `/`; the Stampli folders are created in it.
        host: listen address.
        port: listen port; 0 picks a free one (read `.port` after `start()`).
        users: username -> password, for password authentication.
        authorized_keys: username -> OpenSSH public key lines, for key authentication.
        host_key_path: the Ed25519 host key; generated on first start, reused afterwards.
    """

    def __init__(
        self,
        root: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        users: dict[str, str] | None = None,
        authorized_keys: dict[str, list[str]] | None = None,
        host_key_path: Path,
    ) -> None:
        self.root = Path(root).resolve()
        self.host = host
        self.port = port
        self.users = dict(users or {})
        self.authorized_keys = {u: list(keys) for u, keys in (authorized_keys or {}).items()}
        self.host_key_path = Path(host_key_path)
        self.faults = SftpFaults()
        self._host_key: asyncssh.SSHKey | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._acceptor: asyncssh.SSHAcceptor | None = None
        self._connections: set[asyncssh.SSHServerConnection] = set()

    # -- keys --------------------------------------------------------------------------------

    def _load_host_key(self) -> asyncssh.SSHKey:
        if self.host_key_path.exists():
            return asyncssh.read_private_key(self.host_key_path)
        key = asyncssh.generate_private_key("ssh-ed25519")
        self.host_key_path.parent.mkdir(parents=True, exist_ok=True)
        self.host_key_path.touch(mode=0o600)
        key.write_private_key(self.host_key_path)
        return key

    @property
    def host_key_line(self) -> str:
        """`ssh-ed25519 AAAA...`, for the tenant file's `sftp.host_key`."""
        if self._host_key is None:
            self._host_key = self._load_host_key()
        exported = self._host_key.export_public_key("openssh").decode("ascii")
        return " ".join(exported.split()[:2])

    def rotate_host_key(self) -> str:
        """Replace the host key on disk and restart with it (a partner rebuilt its server)."""
        running = self.running
        if running:
            self.stop()
        self.host_key_path.unlink(missing_ok=True)
        self._host_key = None
        line = self.host_key_line
        if running:
            self.start()
        return line

    def _public_keys(self, username: str) -> list[bytes]:
        return [
            asyncssh.import_public_key(line).public_data
            for line in self.authorized_keys.get(username, [])
        ]

    # -- life cycle --------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the server thread is serving."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Listen and serve in a background thread; returns once the port accepts connections."""
        if self.running:
            return
        for folder in STAMPLI_FOLDERS:
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        if self._host_key is None:
            self._host_key = self._load_host_key()
        loop = asyncio.new_event_loop()
        started = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._listen())
            except (OSError, asyncssh.Error) as exc:
                failure.append(exc)
                started.set()
                loop.close()
                return
            started.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=serve, name=f"sftp-server-{self.port}", daemon=True)
        self._thread.start()
        started.wait(timeout=30)
        if failure:
            self._thread.join()
            self._thread = None
            raise failure[0]

    async def _listen(self) -> None:
        assert self._host_key is not None
        self._acceptor = await asyncssh.listen(
            self.host,
            self.port,
            server_host_keys=[self._host_key],
            server_factory=lambda: _Auth(self),
            sftp_factory=lambda chan: _FaultySftp(chan, self),
            allow_scp=False,
            agent_forwarding=False,
            x11_forwarding=False,
            keepalive_interval=0,
            login_timeout=30,
        )
        self.port = self._acceptor.get_port()

    def stop(self) -> None:
        """Stop listening and drop every open connection (clients see the server go away)."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return

        async def shutdown() -> None:
            if self._acceptor is not None:
                self._acceptor.close()
                await self._acceptor.wait_closed()
            for conn in list(self._connections):
                conn.abort()
            self._connections.clear()

        with contextlib.suppress(RuntimeError, TimeoutError):
            asyncio.run_coroutine_threadsafe(shutdown(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        self._thread = None
        self._loop = None
        self._acceptor = None

    def restart(self) -> None:
        """Stop and start again on the same port (every client connection is dropped)."""
        self.stop()
        self.start()

    def drop_connections(self) -> None:
        """Abort every open connection but keep listening (a network blip)."""
        if self._loop is None:
            return

        def abort() -> None:
            for conn in list(self._connections):
                conn.abort()

        self._loop.call_soon_threadsafe(abort)

    @property
    def connection_count(self) -> int:
        """Open client connections."""
        return len(self._connections)

    def __enter__(self) -> "EmbeddedSftpServer":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Auth(asyncssh.SSHServer):
    """Password and public-key authentication against the server's tables."""

    def __init__(self, owner: EmbeddedSftpServer) -> None:
        self._owner = owner
        self._conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._owner._connections.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._conn is not None:
            self._owner._connections.discard(self._conn)

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return bool(self._owner.users)

    def validate_password(self, username: str, password: str) -> bool:
        expected = self._owner.users.get(username)
        return expected is not None and hmac.compare_digest(
            expected.encode("utf-8"), password.encode("utf-8")
        )

    def public_key_auth_supported(self) -> bool:
        return bool(self._owner.authorized_keys)

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        return key.public_data in self._owner._public_keys(username)


class _FaultySftp(asyncssh.SFTPServer):
    """The stock chrooted SFTP server, plus the faults armed on its owner."""

    def __init__(self, chan: "asyncssh.SSHServerChannel[bytes]", owner: EmbeddedSftpServer) -> None:
        super().__init__(chan, chroot=os.fsencode(owner.root))
        self._owner = owner
        self._served = 0

    def _inbound(self, path: bytes) -> bool:
        normalized = posixpath.normpath(b"/" + path.lstrip(b"/"))
        return normalized == b"/inbound" or normalized.startswith(b"/inbound/")

    def _check_write(self, path: bytes) -> None:
        faults = self._owner.faults
        if faults.readonly_inbound and self._inbound(path):
            raise asyncssh.SFTPPermissionDenied("inbound folder is read-only")

    def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> object:
        if pflags & _WRITE_FLAGS:
            self._check_write(path)
        return super().open(path, pflags, attrs)

    def write(self, file_obj: object, offset: int, data: bytes) -> int | Awaitable[int]:
        if self._owner.faults.inbound_full:
            raise asyncssh.SFTPFailure("no space left on device")
        return super().write(file_obj, offset, data)

    def read(self, file_obj: object, offset: int, size: int) -> bytes | Awaitable[bytes]:
        data = super().read(file_obj, offset, size)
        limit = self._owner.faults.disconnect_after_bytes
        if limit is not None and isinstance(data, bytes):
            self._served += len(data)
            if self._served > limit:
                self.connection.abort()
                raise asyncssh.SFTPConnectionLost("connection dropped by fault injection")
        return data

    def _lie(self, name: bytes, attrs: object) -> os.stat_result | asyncssh.SFTPAttrs:
        # The stock server answers stats synchronously, from the local file system.
        assert isinstance(attrs, os.stat_result | asyncssh.SFTPAttrs)
        size = self._owner.faults.understate_size.get(os.fsdecode(posixpath.basename(name)))
        if size is None:
            return attrs
        if isinstance(attrs, os.stat_result):
            attrs = asyncssh.SFTPAttrs.from_local(attrs)
        attrs.size = size
        return attrs

    def stat(self, path: bytes) -> os.stat_result | asyncssh.SFTPAttrs:
        return self._lie(path, super().stat(path))

    def lstat(self, path: bytes) -> os.stat_result | asyncssh.SFTPAttrs:
        return self._lie(path, super().lstat(path))

    async def scandir(self, path: bytes) -> AsyncIterator[asyncssh.SFTPName]:
        shown: list[bytes] = []
        async for entry in super().scandir(path):
            shown.append(entry.filename if isinstance(entry.filename, bytes) else b"")
            if isinstance(entry.filename, bytes) and entry.attrs is not None:
                lied = self._lie(entry.filename, entry.attrs)
                if isinstance(lied, asyncssh.SFTPAttrs):
                    entry.attrs = lied
            yield entry
        vanish = self._owner.faults.vanish_after_listing
        if vanish:
            folder = Path(os.fsdecode(self.map_path(path)))
            for raw in shown:
                name = os.fsdecode(raw)
                if name in vanish:
                    (folder / name).unlink(missing_ok=True)

    def remove(self, path: bytes) -> Awaitable[None] | None:
        self._check_write(path)
        return super().remove(path)

    def rename(self, oldpath: bytes, newpath: bytes) -> Awaitable[None] | None:
        self._check_write(oldpath)
        self._check_write(newpath)
        return super().rename(oldpath, newpath)

    def posix_rename(self, oldpath: bytes, newpath: bytes) -> Awaitable[None] | None:
        self._check_write(oldpath)
        self._check_write(newpath)
        return super().posix_rename(oldpath, newpath)
