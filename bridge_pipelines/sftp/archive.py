"""Content-addressed archive of the raw bytes we took from a tenant's server.

The archive is the evidence: a quarantined file keeps its raw copy, and parsing always reads the
archived copy, never the remote file again. A path is derived from the sha256 only, so a remote
name can never steer where bytes land, and the same content archived twice is stored once.
"""

import hashlib
import os
import re
import uuid
from pathlib import Path
from typing import BinaryIO

from bridge_pipelines.errors import BadInputError

_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1024 * 1024


def archive_path(sha256: str, archive_dir: Path) -> Path:
    """Where content with this digest lives: `archive_dir/ab/abcdef...`."""
    if not _SHA256_RE.match(sha256):
        raise ValueError("sha256 must be 64 lower-case hex digits")
    return archive_dir / sha256[:2] / sha256


def file_sha256(path: Path) -> str:
    """Hash a local file in chunks (archive files may be hundreds of MB)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def archive_file(path: Path, sha256: str, archive_dir: Path) -> Path:
    """Copy `path` into the archive under its digest; return the archived path.

    Owner-only: folders 0700, archived files 0400. Idempotent (content already archived is left
    as is) and atomic (a copy goes to a temporary
    name in the target folder, is fsynced, then renamed into place), so a crash never leaves a
    half-written archive file under a real digest. The bytes are re-hashed while copying: a
    digest that does not match the content is refused rather than archived under a false name.

    Args:
        path: the local file (a downloaded `<uuid>` file); left in place.
        sha256: its digest, as computed while downloading.
        archive_dir: root of the archive.

    Returns:
        The archived file's path.

    Raises:
        BadInputError: the file's content does not match `sha256`.
    """
    target = archive_path(sha256, archive_dir)
    if target.exists():
        return target
    for folder in (archive_dir, target.parent):
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(folder, 0o700)
    tmp = target.parent / f".{uuid.uuid4().hex}.tmp"
    try:
        digest = hashlib.sha256()
        with path.open("rb") as src, private_file(tmp) as dst:
            while chunk := src.read(_CHUNK):
                digest.update(chunk)
                dst.write(chunk)
            dst.flush()
            os.fsync(dst.fileno())
        if digest.hexdigest() != sha256:
            raise BadInputError(
                f"archive refused: content of {path.name} does not match its sha256"
            )
        os.chmod(tmp, 0o400)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(target.parent)
    return target


def private_file(path: Path) -> BinaryIO:
    """A new file open for writing, owner-only (0600), never an existing name or a symlink."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    return os.fdopen(os.open(path, flags, 0o600), "wb")


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
