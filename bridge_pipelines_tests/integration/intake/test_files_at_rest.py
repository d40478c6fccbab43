"""Files at rest are owner-only: the work folder, the archive and the SQLite ledger.

Tenant files hold invoices and vendors' bank details; nothing we keep of them may be readable by
another account on the machine, whatever the umask of the process that created it.
"""

import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge_pipelines.intake.runtime import Runtime
from bridge_pipelines.settings import Settings
from bridge_pipelines.sftp.archive import archive_file


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_the_work_folder_is_owner_only_even_when_it_existed(tmp_path: Path) -> None:
    fresh = Runtime(Settings(home=tmp_path / "fresh"))
    assert _mode(fresh.work_dir) == 0o700
    existing = tmp_path / "old" / "work"
    existing.mkdir(parents=True, mode=0o755)
    assert _mode(Runtime(Settings(home=tmp_path / "old")).work_dir) == 0o700


def test_archive_folders_and_files_are_owner_only(tmp_path: Path) -> None:
    data = b"InvoiceId,Total\nSTI-1,10.00\n"
    source = tmp_path / "download"
    source.write_bytes(data)
    runtime = Runtime(Settings(home=tmp_path / "home"))
    archived = archive_file(source, hashlib.sha256(data).hexdigest(), runtime.archive_dir)
    assert _mode(runtime.archive_dir) == 0o700
    assert _mode(archived.parent) == 0o700
    assert _mode(archived) == 0o400


def test_the_sqlite_ledger_and_its_wal_are_owner_only(tmp_path: Path) -> None:
    runtime = Runtime(Settings(home=tmp_path / "home"))
    assert runtime.ledger is not None  # creates and migrates the database
    database = tmp_path / "home" / "ledger.db"
    assert _mode(database.parent) == 0o700
    assert _mode(database) == 0o600
    wal = database.with_name("ledger.db-wal")
    assert wal.exists() and _mode(wal) == 0o600
