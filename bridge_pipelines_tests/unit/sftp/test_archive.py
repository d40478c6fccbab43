import hashlib
import os
from pathlib import Path

import pytest

from bridge_pipelines.errors import BadInputError
from bridge_pipelines.sftp.archive import archive_file, archive_path


def _file(tmp_path: Path, data: bytes, name: str = "3f1c0d.part") -> tuple[Path, str]:
    path = tmp_path / name
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


def test_archive_is_content_addressed(tmp_path: Path) -> None:
    source, digest = _file(tmp_path, b"InvoiceId,Total\nSTI-1,10.00\n")
    archived = archive_file(source, digest, tmp_path / "archive")
    assert archived == tmp_path / "archive" / digest[:2] / digest
    assert archived.read_bytes() == source.read_bytes()
    assert source.exists()
    assert not os.access(archived, os.W_OK) or os.geteuid() == 0
    assert archived.stat().st_mode & 0o222 == 0


def test_archiving_twice_keeps_one_copy(tmp_path: Path) -> None:
    first, digest = _file(tmp_path, b"same bytes", "a")
    second, _ = _file(tmp_path, b"same bytes", "b")
    archive = tmp_path / "archive"
    assert archive_file(first, digest, archive) == archive_file(second, digest, archive)
    assert [p.name for p in (archive / digest[:2]).iterdir()] == [digest]


def test_a_digest_that_does_not_match_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    source, _ = _file(tmp_path, b"real content")
    wrong = hashlib.sha256(b"other content").hexdigest()
    with pytest.raises(BadInputError, match="does not match"):
        archive_file(source, wrong, tmp_path / "archive")
    assert list((tmp_path / "archive" / wrong[:2]).iterdir()) == []


@pytest.mark.parametrize("digest", ["../../etc/passwd", "ABC", "g" * 64, ""])
def test_only_real_digests_make_paths(tmp_path: Path, digest: str) -> None:
    with pytest.raises(ValueError, match="sha256"):
        archive_path(digest, tmp_path)
