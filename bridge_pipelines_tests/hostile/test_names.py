"""Hostile remote file names: the local download and archive paths never leave their roots.

A remote name is attacker data. Properties: for any name, `check_remote_name` either refuses
it with a message that quotes it escaped (no control character reaches a log line) or returns
it unchanged as one plain path component that stays inside any folder it is joined to; the
archive path depends on the digest alone; and against a real SFTP server, every hostile name a
listing returns is either reported as refused or downloaded to a UUID name inside the work
folder, nothing written anywhere else.
"""

import hashlib
import itertools
import os
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from pydantic import SecretStr

from bridge_pipelines.errors import UnsafeNameError
from bridge_pipelines.sandbox.sftp_server import EmbeddedSftpServer
from bridge_pipelines.sftp.archive import archive_file, archive_path
from bridge_pipelines.sftp.client import SftpClient
from bridge_pipelines.sftp.credentials import SftpCredentials
from bridge_pipelines.sftp.names import check_remote_name, describe
from bridge_pipelines.tenants.models import SftpConfig

UUID_NAME = re.compile(r"^[0-9a-f]{32}$")
PIECES = [
    "..",
    ".",
    "/",
    "\\",
    "\x00",
    "\n",
    "\r",
    "\x1b[31m",
    "\x7f",
    "\x85",
    "\u202e",
    "\u2066",
    "\u200e",
    "\u2028",
    "\uff0e",  # full-width full stop
    "\uff0f",  # full-width solidus
    "\uff3c",  # full-width reverse solidus
    "\u2024",  # one dot leader
    "\u2025",  # two dot leader
    "\ufe52",  # small full stop
    "\u2215",  # division slash
    "\u2044",  # fraction slash
    "\u200b",
    "\u00a0",
    " ",
    "-",
    "~",
    "C:",
    "%2e%2e%2f",
    "CON",
    "e\u0301",  # decomposed é
    "\udce9",  # a byte that was not UTF-8
    "approved_invoices_20261121_141500",
    ".csv",
    "東京",
]
hostile_names = st.one_of(
    st.lists(st.sampled_from(PIECES), min_size=1, max_size=8).map("".join),
    st.text(max_size=40),
    st.binary(min_size=1, max_size=60).map(lambda b: b.decode("utf-8", "surrogateescape")),
    st.text(alphabet="ab.é/", min_size=200, max_size=300),
)
SAFE_NAME = re.compile(r"[^/\\\x00]+")


def _printable(text: str) -> bool:
    return not any(
        unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp")
        or c in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f"
        for c in text
    )


@given(hostile_names)
@example("../etc/passwd")
@example("..\\..\\windows\\system32")
@example("/etc/passwd")
@example("\uff0e\uff0e\uff0fetc")
@example("\u2025")
@example("x" * 256)
def test_a_name_is_refused_escaped_or_stays_one_component(name: str) -> None:
    root = Path("/srv/bridge/work")
    try:
        checked = check_remote_name(name)
    except UnsafeNameError as exc:
        message = str(exc)
        assert describe(name) in message
        assert _printable(message), f"control or bidi character in {message!r}"
        return
    assert checked == name
    assert SAFE_NAME.fullmatch(name) and name not in (".", "..")
    assert ".." not in name and ".." not in unicodedata.normalize("NFKC", name)
    assert _printable(name)
    joined = Path(os.path.normpath(root / name))
    assert joined.parent == root and joined.name == name
    assert len(name.encode("utf-8")) <= 255


@given(st.text(max_size=80))
@example("../../../../etc/passwd")
@example("ab/../../x")
@example("A" * 64)
def test_archive_path_depends_on_the_digest_only(digest: str) -> None:
    root = Path("/srv/bridge/archive")
    try:
        path = archive_path(digest, root)
    except ValueError:
        return
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert path == root / digest[:2] / digest
    assert Path(os.path.normpath(path)).is_relative_to(root)


# --- against a real SFTP server -----------------------------------------------------------


@pytest.fixture(scope="module")
def sftp(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[EmbeddedSftpServer, SftpClient]]:
    home = tmp_path_factory.mktemp("hostile-sftp")
    server = EmbeddedSftpServer(
        home / "root", users={"stampli": "hostile-pass"}, host_key_path=home / "host_key"
    )
    server.start()
    cfg = SftpConfig(
        host=server.host,
        port=server.port,
        username="stampli",
        host_key=server.host_key_line,
        password="enc:v1:test:AAAA",
        connect_timeout_s=5,
    )
    client = SftpClient.connect(cfg, SftpCredentials(password=SecretStr("hostile-pass")))
    try:
        yield server, client
    finally:
        client.close()
        server.stop()


# What a filesystem lets a server list: any bytes but '/' and NUL, up to 255 of them.
on_disk_names = (
    st.one_of(
        hostile_names.map(lambda n: n.encode("utf-8", "surrogateescape")),
        st.binary(min_size=1, max_size=40),
    )
    .map(lambda b: b.replace(b"/", b"_").replace(b"\x00", b"_")[:255])
    .filter(lambda b: b not in (b"", b".", b".."))
)


_cases = itertools.count()


@given(st.lists(on_disk_names, min_size=1, max_size=5, unique=True))
def test_downloads_of_listed_hostile_names_stay_in_the_work_folder(
    sftp: tuple[EmbeddedSftpServer, SftpClient],
    tmp_path_factory: pytest.TempPathFactory,
    names: list[bytes],
) -> None:
    server, client = sftp
    case = next(_cases)
    folder = server.root / f"case{case}"
    folder.mkdir()
    contents = {}
    for index, raw in enumerate(names):
        data = f"file {index} of case {case}".encode()
        with open(os.path.join(os.fsencode(folder), raw), "wb") as handle:
            handle.write(data)
        contents[raw.decode("utf-8", "surrogateescape")] = data
    outside = tmp_path_factory.mktemp("outside")
    work = outside / "work"
    archive = outside / "archive"
    entries, rejected = client.list_files(f"/case{case}")
    assert {e.name for e in entries} | {r.name for r in rejected} == set(contents)
    for refused in rejected:
        assert refused.reason
        with pytest.raises(UnsafeNameError):
            client.download(f"/case{case}", refused.name, work, max_bytes=1000)
    for entry in entries:
        got = client.download(f"/case{case}", entry.name, work, max_bytes=1000, expected=entry)
        assert got.path.parent == work and UUID_NAME.fullmatch(got.path.name)
        assert got.path.read_bytes() == contents[entry.name]
        archived = archive_file(got.path, got.sha256, archive)
        assert archived.resolve().is_relative_to(archive.resolve())
        assert archived.name == hashlib.sha256(contents[entry.name]).hexdigest()
        got.path.unlink()
    # Nothing landed anywhere but the work and archive folders, and no folder inside work.
    assert {p.name for p in outside.iterdir()} <= {"work", "archive"}
    assert not work.exists() or all(p.is_file() for p in work.iterdir())


def check_remote_name_refuses(name: str) -> bool:
    try:
        check_remote_name(name)
    except UnsafeNameError:
        return True
    return False


@given(hostile_names.filter(check_remote_name_refuses))
def test_unsafe_names_are_refused_before_any_request(name: str) -> None:
    """Without a connection: `download` must refuse before it touches the session."""
    client = SftpClient.__new__(SftpClient)  # no session at all: any request would fail
    with pytest.raises(UnsafeNameError):
        client.download("/outbound/invoices", name, Path("/nonexistent/work"), max_bytes=10)
