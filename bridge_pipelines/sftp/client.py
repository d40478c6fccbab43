"""The tenant's Stampli SFTP server, as the intake needs it: list, stat, download, upload.

Contract:
- Remote names are attacker data. Listing reports unsafe names (never raises on them); every
  other call refuses them. Local files are named by UUID, never by the remote name.
- Only regular files are listed or downloaded (no symlinks, folders or devices).
- A download is taken whole or not at all: `<uuid>.part`, sha256 while streaming, a byte cap,
  a re-stat that must match, fsync, then an atomic rename; a failure removes the `.part`.
- Uploads go to a hidden temporary name and are renamed into place, so Stampli never reads half
  a file.
- Failures are classified by what the caller does next (`errors.py`): a broken connection is
  `RetryableError` and marks this client unusable, so the pool opens a fresh one.
"""

import contextlib
import errno
import hashlib
import logging
import os
import queue
import re
import stat as stat_mod
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, cast

import paramiko
from paramiko.sftp import CMD_CLOSE, CMD_HANDLE, CMD_NAME, CMD_OPENDIR, CMD_READDIR

from bridge_pipelines.errors import (
    ConfigError,
    FileRejectedError,
    FileUnstableError,
    FileVanishedError,
    RetryableError,
)
from bridge_pipelines.faultpoints import armed, fault_point
from bridge_pipelines.sftp.archive import private_file
from bridge_pipelines.sftp.connection import open_ssh
from bridge_pipelines.sftp.credentials import SftpCredentials
from bridge_pipelines.sftp.names import check_remote_name, describe, unsafe_reason
from bridge_pipelines.sftp.reads import (
    ReadLimitExceeded,
    StreamDesynchronized,
    read_all,
    requests,
    server_read_size,
)
from bridge_pipelines.sftp.settings import SftpConfig
from bridge_pipelines.sftp.writes import write_file

log = logging.getLogger(__name__)

# `upload_atomic`'s temporaries: `.<name>.<32 hex>.tmp`; older than this, their writer is dead.
_OUR_TEMPORARY = re.compile(r"\..+\.[0-9a-f]{32}\.tmp")
STALE_UPLOAD_S = 600.0


class _LocalWriteError(Exception):
    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


class _HashingWriter:
    """sha256 and disk writes on a second thread, so the network side never waits for them.

    Both release the GIL on large buffers, so on two cores they overlap with paramiko's
    decryption instead of adding to it. The queue is bounded: memory stays a few MB.
    """

    def __init__(self, out: BinaryIO) -> None:
        self.digest = hashlib.sha256()
        self._out = out
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=32)
        self._error: OSError | None = None
        self._thread = threading.Thread(target=self._run, name="sftp-download-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        die_mid_download = armed("mid_download")
        while (data := self._queue.get()) is not None:
            if self._error is not None:
                continue
            try:
                self.digest.update(data)
                self._out.write(data)
                if die_mid_download:
                    self._out.flush()  # the bytes are in the `.part` file when we die
                    fault_point("mid_download")
            except OSError as exc:
                self._error = exc

    def put(self, data: bytes) -> None:
        if self._error is not None:
            raise _LocalWriteError(self._error)
        self._queue.put(data)

    def finish(self) -> None:
        """Wait for every queued chunk; raises the first local write error."""
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise _LocalWriteError(self._error)


@dataclass(frozen=True)
class RemoteEntry:
    """A regular file as listed: size in bytes, mtime in epoch seconds."""

    name: str
    size: int
    mtime: int


@dataclass(frozen=True)
class RejectedName:
    """A listed name we refuse to touch, and why."""

    name: str
    reason: str


@dataclass(frozen=True)
class Downloaded:
    """A complete local copy, named by UUID, with its digest and size."""

    path: Path
    sha256: str
    size: int


class SftpClient:
    """One authenticated SFTP session. Use as a context manager, or call `close()`."""

    def __init__(self, ssh: paramiko.SSHClient, sftp: paramiko.SFTPClient, cfg: SftpConfig) -> None:
        self._ssh = ssh
        self._sftp = sftp
        self._cfg = cfg
        self._where = f"{cfg.host}:{cfg.port}"
        self._read_size: int | None = None
        self.broken = False

    @classmethod
    def connect(
        cls, cfg: SftpConfig, credentials: SftpCredentials, *, attempts: int = 3
    ) -> "SftpClient":
        """Connect, verify the pinned host key, authenticate and open the SFTP channel.

        Raises:
            HostKeyError: the server's key is not the pinned one.
            ConfigError: authentication failed or the key cannot be used.
            RetryableError: the server is unreachable after a few backed-off attempts.
        """
        ssh = open_ssh(cfg, credentials, attempts=attempts)
        try:
            sftp = ssh.open_sftp()
        except (paramiko.SSHException, OSError, EOFError) as exc:
            ssh.close()
            raise RetryableError(
                f"SFTP subsystem not available at {cfg.host}:{cfg.port}: {type(exc).__name__}"
            ) from None
        # paramiko has no SFTP read timeout of its own (#1380); the channel's timeout is one.
        sftp.get_channel().settimeout(cfg.operation_timeout_s)  # type: ignore[union-attr]
        return cls(ssh, sftp, cfg)

    @property
    def transport(self) -> paramiko.Transport | None:
        """The SSH transport, for liveness checks by the pool."""
        return self._ssh.get_transport()

    def is_alive(self) -> bool:
        """Whether this session can still be used."""
        transport = self.transport
        return not self.broken and transport is not None and transport.is_active()

    def close(self) -> None:
        """Close the SFTP channel and the SSH connection (paramiko leaks threads otherwise)."""
        with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
            self._sftp.close()
        self._ssh.close()

    def __enter__(self) -> "SftpClient":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- listing -----------------------------------------------------------------------------

    def list_files(self, folder: str) -> tuple[list[RemoteEntry], list[RejectedName]]:
        """The regular files of `folder`, and the names refused as unsafe.

        Raises:
            ConfigError: the folder does not exist or may not be read (a tenant setting).
            RetryableError: the connection failed.
        """
        entries: list[RemoteEntry] = []
        rejected: list[RejectedName] = []
        try:
            handle = self._open_dir(folder)
            try:
                while True:
                    try:
                        kind, msg = requests(self._sftp)._request(CMD_READDIR, handle)
                    except EOFError:
                        break
                    if kind != CMD_NAME or msg is None:
                        raise paramiko.SFTPError("expected a NAME answer to READDIR")
                    for _ in range(msg.get_int()):
                        raw = msg.get_string()
                        msg.get_string()  # longname: server-formatted text, never trusted
                        attrs = _attributes(msg)
                        self._add_entry(raw, attrs, entries, rejected)
            finally:
                # Answer collected with the next request: no round trip spent on closing.
                requests(self._sftp)._async_request(type(None), CMD_CLOSE, handle)
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise self._classify(exc, f"listing {folder!r}") from None
        return entries, rejected

    def _open_dir(self, folder: str) -> bytes:
        kind, msg = requests(self._sftp)._request(CMD_OPENDIR, folder)
        if kind != CMD_HANDLE or msg is None:
            raise paramiko.SFTPError("expected a HANDLE answer to OPENDIR")
        return bytes(msg.get_binary())

    def _add_entry(
        self,
        raw: bytes,
        attrs: paramiko.SFTPAttributes,
        entries: list[RemoteEntry],
        rejected: list[RejectedName],
    ) -> None:
        # surrogateescape keeps undecodable bytes visible (and refused) instead of failing the
        # whole listing, which is what paramiko's own listdir does.
        name = raw.decode("utf-8", "surrogateescape")
        if name in (".", ".."):
            return
        mode = attrs.st_mode
        if mode is None or not stat_mod.S_ISREG(mode):
            return
        reason = unsafe_reason(name)
        if reason is not None:
            rejected.append(RejectedName(name=name, reason=reason))
            return
        entries.append(
            RemoteEntry(name=name, size=int(attrs.st_size or 0), mtime=int(attrs.st_mtime or 0))
        )

    def stat(self, folder: str, name: str) -> RemoteEntry | None:
        """The file's size and mtime, or None when it is gone or no longer a regular file.

        Raises:
            UnsafeNameError: the name is refused.
            RetryableError: the connection failed.
        """
        check_remote_name(name)
        path = _join(folder, name)
        try:
            attrs = self._sftp.lstat(path)
        except FileNotFoundError:
            return None
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise self._classify(exc, f"stat of {describe(name)}") from None
        if attrs.st_mode is None or not stat_mod.S_ISREG(attrs.st_mode):
            return None
        return RemoteEntry(name=name, size=int(attrs.st_size or 0), mtime=int(attrs.st_mtime or 0))

    # -- download ----------------------------------------------------------------------------

    def download(
        self,
        folder: str,
        name: str,
        dest_dir: Path,
        *,
        max_bytes: int,
        expected: RemoteEntry | None = None,
    ) -> Downloaded:
        """Copy one remote file to `dest_dir/<uuid>`, whole and unchanged, or not at all.

        Args:
            folder: remote folder.
            name: remote file name (checked again here).
            dest_dir: local folder; the file lands as a UUID name.
            max_bytes: refuse files larger than this, at stat and while streaming.
            expected: size and mtime from the stable listing; any difference is instability.

        Raises:
            UnsafeNameError: the name is refused.
            FileVanishedError: the file is gone.
            FileRejectedError: the file is larger than `max_bytes`.
            FileUnstableError: the file changed while we looked at it (still being written).
            RetryableError: the connection failed mid-way.
        """
        check_remote_name(name)
        shown = f"{describe(name)} in {folder}"
        first = self.stat(folder, name)
        if first is None:
            raise FileVanishedError(f"{shown} was gone when we came to download it")
        if expected is not None and (first.size, first.mtime) != (expected.size, expected.mtime):
            raise FileUnstableError(
                f"{shown} changed since it was listed (size {expected.size} -> {first.size}, "
                f"mtime {expected.mtime} -> {first.mtime})"
            )
        if first.size > max_bytes:
            raise FileRejectedError(_too_big(shown, first.size, max_bytes))
        dest_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        local_name = uuid.uuid4().hex
        part = dest_dir / f"{local_name}.part"
        try:
            digest, count = self._fetch(folder, name, part, max_bytes, shown)
            second = self.stat(folder, name)
            if second is None:
                raise FileVanishedError(f"{shown} disappeared while we downloaded it")
            if (second.size, second.mtime) != (first.size, first.mtime) or count != second.size:
                raise FileUnstableError(
                    f"{shown} changed while we downloaded it (size {first.size} -> "
                    f"{second.size}, read {count} bytes); it will be taken once it settles"
                )
            final = dest_dir / local_name
            os.replace(part, final)
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        return Downloaded(path=final, sha256=digest, size=count)

    def _fetch(
        self, folder: str, name: str, part: Path, max_bytes: int, shown: str
    ) -> tuple[str, int]:
        try:
            remote = self._sftp.open(_join(folder, name), "rb")
        except FileNotFoundError:
            raise FileVanishedError(f"{shown} was gone when we came to download it") from None
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise self._classify(exc, f"opening {shown}") from None
        try:
            with private_file(part) as out:
                writer = _HashingWriter(out)
                try:
                    count = read_all(
                        self._sftp,
                        cast(bytes, remote.handle),
                        writer.put,
                        limit=max_bytes,
                        chunk=self._chunk_size(),
                    )
                except ReadLimitExceeded:
                    raise FileRejectedError(_too_big(shown, None, max_bytes)) from None
                except StreamDesynchronized:
                    self.broken = True
                    raise RetryableError(
                        f"downloading {shown} at {self._where}: connection lost mid-transfer"
                    ) from None
                finally:
                    writer.finish()
                out.flush()
                os.fsync(out.fileno())
        except _LocalWriteError as exc:
            raise exc.error from None  # our disk (full, read-only): not the server's doing
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise self._classify(exc, f"downloading {shown}") from None
        finally:
            self._close_remote(remote)
        return writer.digest.hexdigest(), count

    def _chunk_size(self) -> int:
        if self._read_size is None:
            self._read_size = server_read_size(self._sftp)
        return self._read_size

    def _close_remote(self, remote: paramiko.SFTPFile) -> None:
        if self.broken:
            remote._closed = True  # type: ignore[attr-defined]  # no CLOSE on a dead channel
            return
        try:
            remote.close()
        except (OSError, EOFError, paramiko.SSHException):
            self.broken = True

    def remote_sha256(self, folder: str, name: str, *, max_bytes: int) -> str | None:
        """The sha256 of a remote file, read back; None when the server will not let us read it.

        Write-only inbound folders are common, so a refused read is not an error: the caller
        falls back to the size. At most `max_bytes` are read.

        Raises:
            UnsafeNameError: the name is refused.
            RetryableError: the connection failed.
        """
        check_remote_name(name)
        digest = hashlib.sha256()
        try:
            with self._sftp.open(_join(folder, name), "rb") as remote:
                remote.prefetch(max_bytes)
                read = 0
                while read <= max_bytes and (chunk := remote.read(1024 * 1024)):
                    digest.update(chunk)
                    read += len(chunk)
        except PermissionError:
            return None
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise self._classify(exc, f"reading back {describe(name)}") from None
        return digest.hexdigest()

    # -- upload and remove -------------------------------------------------------------------

    def upload_atomic(self, folder: str, name: str, data: bytes) -> None:
        """Write `data` to `folder/name` so readers see the old file or the whole new one.

        Raises:
            UnsafeNameError: the name is refused.
            ConfigError: the folder is missing or not writable (read-only, full).
            RetryableError: the connection failed; no temporary file is left when we can help it.
        """
        check_remote_name(name)
        target = _join(folder, name)
        self._sweep_stale_uploads(folder)
        tmp = _join(folder, f".{name}.{uuid.uuid4().hex}.tmp")
        try:
            write_file(self._sftp, tmp, data)
            self._rename_into_place(tmp, target)
        except (OSError, EOFError, paramiko.SSHException) as exc:
            self._remove_quietly(tmp)
            raise self._classify(exc, f"uploading {describe(name)} to {folder}") from None

    def _sweep_stale_uploads(self, folder: str) -> None:
        """Remove our own temporaries that a killed upload left behind (never anyone else's).

        A temporary is hidden from Stampli by its leading dot, but nothing else would ever
        delete it. Only names of our exact shape that nobody wrote for `STALE_UPLOAD_S` go.
        """
        try:
            entries = self._sftp.listdir_attr(folder)
        except (OSError, EOFError, paramiko.SSHException):
            return  # the upload itself will report a real problem with the folder
        now = time.time()
        for entry in entries:
            mtime = entry.st_mtime or 0
            if _OUR_TEMPORARY.fullmatch(entry.filename) and now - mtime > STALE_UPLOAD_S:
                log.info("removing %s, left by an interrupted upload", describe(entry.filename))
                self._remove_quietly(_join(folder, entry.filename))

    def _rename_into_place(self, tmp: str, target: str) -> None:
        try:
            self._sftp.posix_rename(tmp, target)
            return
        except OSError as exc:
            if not _unsupported(exc):
                raise
        # No posix-rename@openssh.com: plain SFTP rename refuses to overwrite, so remove first
        # (a reader may then briefly see no file, never a partial one).
        with contextlib.suppress(FileNotFoundError):
            self._sftp.remove(target)
        self._sftp.rename(tmp, target)

    def _remove_quietly(self, path: str) -> None:
        if self.broken:
            return
        with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
            self._sftp.remove(path)

    def remove(self, folder: str, name: str) -> None:
        """Delete a remote file; only when the tenant asked for deletion after download.

        Raises:
            UnsafeNameError: the name is refused.
            RetryableError: the connection failed. A file already gone is not an error.
        """
        check_remote_name(name)
        try:
            self._sftp.remove(_join(folder, name))
        except FileNotFoundError:
            return
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise self._classify(exc, f"removing {describe(name)} from {folder}") from None

    # -- errors ------------------------------------------------------------------------------

    def _classify(self, exc: BaseException, doing: str) -> Exception:
        """Server answers become configuration problems; transport failures become retryable."""
        if (
            isinstance(exc, OSError)
            and not isinstance(exc, TimeoutError | ConnectionError)
            and not self._connection_lost()
        ):
            code = exc.errno
            if code == errno.ENOENT:
                return ConfigError(f"{doing} at {self._where}: no such file or folder")
            if code == errno.EACCES:
                return ConfigError(f"{doing} at {self._where}: permission denied")
            if code is None and exc.args and isinstance(exc.args[0], str):
                # An SFTP status such as FX_FAILURE (disk full, quota): the server's own words.
                return ConfigError(f"{doing} at {self._where}: server refused: {exc.args[0]}")
        self.broken = True
        log.info("SFTP connection to %s broken (%s): %s", self._where, doing, type(exc).__name__)
        return RetryableError(f"{doing} at {self._where} failed: {type(exc).__name__}: {exc}")

    def _connection_lost(self) -> bool:
        channel = self._sftp.get_channel()
        transport = self.transport
        return channel is None or channel.closed or transport is None or not transport.is_active()


def _unsupported(exc: OSError) -> bool:
    text = str(exc).lower()
    return "unsupported" in text or "not supported" in text


def _attributes(msg: paramiko.Message) -> paramiko.SFTPAttributes:
    attrs: paramiko.SFTPAttributes = paramiko.SFTPAttributes._from_msg(msg)  # type: ignore[attr-defined]
    return attrs


def _join(folder: str, name: str) -> str:
    return folder.rstrip("/") + "/" + name


def _too_big(shown: str, size: int | None, limit: int) -> str:
    seen = f"{size} bytes" if size is not None else "larger than that"
    return f"{shown} is {seen}; the limit is {limit} bytes (sftp.max_file_bytes)"
