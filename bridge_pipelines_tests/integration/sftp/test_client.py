"""The SFTP client against real servers: what a tenant's operator would notice."""

import hashlib
import os
import stat
import threading
import time
from pathlib import Path

import pytest
from pydantic import SecretStr

from bridge_pipelines.errors import (
    ConfigError,
    FileRejectedError,
    FileUnstableError,
    FileVanishedError,
    HostKeyError,
    RetryableError,
    UnsafeNameError,
)
from bridge_pipelines.sandbox.sftp_server import EmbeddedSftpServer
from bridge_pipelines.sandbox.sshd import KeyPair, free_port, generate_keypair
from bridge_pipelines.sftp.archive import archive_file
from bridge_pipelines.sftp.client import SftpClient
from bridge_pipelines.sftp.credentials import SftpCredentials
from bridge_pipelines.sftp.hostkeys import fingerprint, parse_host_key
from bridge_pipelines.sftp.pool import SftpPool
from bridge_pipelines.tenants.models import SftpConfig
from bridge_pipelines_tests.integration.sftp.conftest import Target

pytestmark = pytest.mark.sshd

INVOICES = "/outbound/invoices"


def _put(target: Target, folder: str, name: str | bytes, data: bytes) -> Path:
    folder_path = target.local(folder)
    path = Path(os.fsdecode(os.path.join(os.fsencode(folder_path), os.fsencode(name))))
    path.write_bytes(data)
    return path


def test_listing_returns_regular_files_and_reports_unsafe_names(target: Target) -> None:
    _put(target, INVOICES, "approved_invoices_20261121_141500.csv", b"a,b\n1,2\n")
    _put(target, INVOICES, "Müller_Rechnung_ü.xml", b"<x/>")
    _put(target, INVOICES, "evil..csv", b"x")
    _put(target, INVOICES, "clear\x1b[2J.csv", b"x")
    _put(target, INVOICES, "line\nbreak.csv", b"x")
    _put(target, INVOICES, "back\\slash.csv", b"x")
    _put(target, INVOICES, b"latin1-\xe9.csv", b"x")
    (target.local(INVOICES) / "a_folder").mkdir()
    os.symlink("/etc/passwd", target.local(INVOICES) / "passwd_link.csv")

    with target.connect() as client:
        entries, rejected = client.list_files(target.remote(INVOICES))

    assert sorted((e.name, e.size) for e in entries) == [
        ("Müller_Rechnung_ü.xml", 4),
        ("approved_invoices_20261121_141500.csv", 8),
    ]
    assert all(abs(e.mtime - time.time()) < 600 for e in entries)
    reasons = {r.name: r.reason for r in rejected}
    assert set(reasons) == {
        "evil..csv",
        "clear\x1b[2J.csv",
        "line\nbreak.csv",
        "back\\slash.csv",
        os.fsdecode(b"latin1-\xe9.csv"),
    }
    assert reasons["evil..csv"] == "contains '..'"
    assert "U+001B" in reasons["clear\x1b[2J.csv"]
    assert reasons[os.fsdecode(b"latin1-\xe9.csv")] == "is not valid UTF-8"


def test_missing_folder_is_a_configuration_error(target: Target) -> None:
    with target.connect() as client, pytest.raises(ConfigError, match="no such file"):
        client.list_files(target.remote("/outbound/nope"))


def test_pinned_host_key_connects(target: Target) -> None:
    with target.connect() as client:
        transport = client.transport
        assert transport is not None
        assert fingerprint(transport.get_remote_server_key()) == fingerprint(
            parse_host_key(target.host_key_line)
        )


def test_unknown_host_key_is_refused_with_both_fingerprints(target: Target) -> None:
    other = generate_keypair("ed25519").public_line
    with pytest.raises(HostKeyError) as refused:
        target.connect(host_key=other)
    message = str(refused.value)
    assert fingerprint(parse_host_key(other)) in message
    assert fingerprint(parse_host_key(target.host_key_line)) in message
    assert "refusing to connect" in message


def test_host_key_of_another_type_is_refused(target: Target) -> None:
    other = generate_keypair("ecdsa").public_line
    with pytest.raises(HostKeyError, match="ecdsa-sha2-nistp256 SHA256:"):
        target.connect(host_key=other)


def test_changed_host_key_stops_the_tenant(
    embedded: EmbeddedSftpServer, client_keys: dict[str, KeyPair]
) -> None:
    from bridge_pipelines_tests.integration.sftp.conftest import _embedded_target

    target = _embedded_target(embedded, client_keys)
    pinned = target.host_key_line
    new_line = embedded.rotate_host_key()
    assert new_line != pinned
    with pytest.raises(
        HostKeyError, match=fingerprint(parse_host_key(new_line)).replace("+", r"\+")
    ):
        target.connect(host_key=pinned)


@pytest.mark.parametrize("which", ["plain", "encrypted", "rsa"])
def test_key_authentication(target: Target, which: str) -> None:
    with SftpClient.connect(target.cfg(), target.key_credentials(which)) as client:
        assert client.is_alive()


def test_wrong_passphrase_is_a_configuration_error(target: Target) -> None:
    credentials = SftpCredentials(
        private_key=SecretStr(target.encrypted_key.private),
        private_key_passphrase=SecretStr("not the passphrase"),
    )
    with pytest.raises(ConfigError, match="wrong passphrase") as refused:
        SftpClient.connect(target.cfg(), credentials)
    assert "not the passphrase" not in str(refused.value)


def test_password_authentication(embedded: EmbeddedSftpServer) -> None:
    cfg = _password_cfg(embedded)
    with SftpClient.connect(cfg, SftpCredentials(password=SecretStr("s3cret-pass"))) as client:
        assert client.list_files(INVOICES) == ([], [])


def test_wrong_password_fails_fast_without_retrying(embedded: EmbeddedSftpServer) -> None:
    cfg = _password_cfg(embedded)
    started = time.monotonic()
    with pytest.raises(ConfigError) as refused:
        SftpClient.connect(cfg, SftpCredentials(password=SecretStr("guess-1")))
    assert time.monotonic() - started < 3
    assert (
        str(refused.value)
        == f"authentication failed for user 'stampli' at 127.0.0.1:{embedded.port}"
    )
    assert "guess-1" not in repr(refused.value)


def test_unreachable_server_is_retryable_after_bounded_backoff(target: Target) -> None:
    started = time.monotonic()
    with pytest.raises(RetryableError, match="could not reach"):
        SftpClient.connect(target.cfg(port=free_port()), target.key_credentials(), attempts=2)
    assert time.monotonic() - started < 5


def test_download_hashes_names_by_uuid_and_archives(target: Target, tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    _put(target, INVOICES, "approved_invoices_20261121_141500.csv", data)
    with target.connect() as client:
        entries, _ = client.list_files(target.remote(INVOICES))
        got = client.download(
            target.remote(INVOICES),
            entries[0].name,
            tmp_path / "work",
            max_bytes=10**8,
            expected=entries[0],
        )
    assert got.sha256 == hashlib.sha256(data).hexdigest()
    assert got.size == len(data)
    assert got.path.read_bytes() == data
    assert len(got.path.name) == 32 and "invoices" not in got.path.name
    assert os.listdir(tmp_path / "work") == [got.path.name]

    archived = archive_file(got.path, got.sha256, tmp_path / "archive")
    assert archived == tmp_path / "archive" / got.sha256[:2] / got.sha256
    assert archived.read_bytes() == data
    assert archive_file(got.path, got.sha256, tmp_path / "archive") == archived


def test_download_refuses_unsafe_names_before_any_request(target: Target, tmp_path: Path) -> None:
    with target.connect() as client, pytest.raises(UnsafeNameError, match=r"'\.\./etc/passwd'"):
        client.download(target.remote(INVOICES), "../etc/passwd", tmp_path, max_bytes=100)


def test_file_changed_since_listing_is_unstable(target: Target, tmp_path: Path) -> None:
    path = _put(target, INVOICES, "growing.csv", b"InvoiceId\n")
    with target.connect() as client:
        entries, _ = client.list_files(target.remote(INVOICES))
        with path.open("ab") as handle:
            handle.write(b"STI-1\n")
        with pytest.raises(FileUnstableError, match="changed since it was listed"):
            client.download(
                target.remote(INVOICES),
                "growing.csv",
                tmp_path,
                max_bytes=10**6,
                expected=entries[0],
            )
    assert list(tmp_path.iterdir()) == []


def test_file_growing_during_download_is_unstable_and_leaves_nothing(
    target: Target, tmp_path: Path
) -> None:
    path = _put(target, INVOICES, "growing.csv", os.urandom(4 * 1024 * 1024))
    stop = threading.Event()

    def keep_writing() -> None:
        with path.open("ab") as handle:
            while not stop.is_set():
                handle.write(b"x" * 100)
                handle.flush()
                time.sleep(0.0005)

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        with target.connect() as client, pytest.raises(FileUnstableError, match="changed while"):
            client.download(target.remote(INVOICES), "growing.csv", tmp_path, max_bytes=10**9)
    finally:
        stop.set()
        writer.join()
    assert list(tmp_path.iterdir()) == []


def test_file_vanished_between_listing_and_download(target: Target, tmp_path: Path) -> None:
    path = _put(target, INVOICES, "gone.csv", b"x")
    with target.connect() as client:
        entries, _ = client.list_files(target.remote(INVOICES))
        path.unlink()
        with pytest.raises(FileVanishedError, match=r"'gone\.csv'"):
            client.download(
                target.remote(INVOICES), "gone.csv", tmp_path, max_bytes=10, expected=entries[0]
            )
        assert client.stat(target.remote(INVOICES), "gone.csv") is None


def test_server_removing_listed_file(
    embedded: EmbeddedSftpServer, client_keys: dict[str, KeyPair], tmp_path: Path
) -> None:
    from bridge_pipelines_tests.integration.sftp.conftest import _embedded_target

    target = _embedded_target(embedded, client_keys)
    _put(target, INVOICES, "a.csv", b"x")
    embedded.faults.vanish_after_listing = {"a.csv"}
    with target.connect() as client:
        entries, _ = client.list_files(INVOICES)
        assert [e.name for e in entries] == ["a.csv"]
        with pytest.raises(FileVanishedError):
            client.download(INVOICES, "a.csv", tmp_path, max_bytes=10, expected=entries[0])


def test_oversized_file_is_rejected_with_the_limit(target: Target, tmp_path: Path) -> None:
    _put(target, INVOICES, "huge.csv", b"0" * 5000)
    with target.connect() as client, pytest.raises(FileRejectedError, match="limit is 4096 bytes"):
        client.download(target.remote(INVOICES), "huge.csv", tmp_path, max_bytes=4096)
    assert list(tmp_path.iterdir()) == []


def test_a_size_the_server_understates_is_cut_at_the_byte_cap(
    embedded: EmbeddedSftpServer, client_keys: dict[str, KeyPair], tmp_path: Path
) -> None:
    from bridge_pipelines_tests.integration.sftp.conftest import _embedded_target

    target = _embedded_target(embedded, client_keys)
    _put(target, INVOICES, "liar.csv", b"0" * (8 * 1024 * 1024))
    embedded.faults.understate_size = {"liar.csv": 100}
    with target.connect() as client:
        entries, _ = client.list_files(INVOICES)
        assert [(e.name, e.size) for e in entries] == [("liar.csv", 100)]
        with pytest.raises(FileRejectedError, match="larger than that; the limit is 65536 bytes"):
            client.download(INVOICES, "liar.csv", tmp_path, max_bytes=65536, expected=entries[0])
        assert client.is_alive()  # cut cleanly: the connection is still usable
        assert client.stat(INVOICES, "liar.csv") is not None
    assert list(tmp_path.iterdir()) == []


def test_a_download_is_owner_only_whatever_the_umask(target: Target, tmp_path: Path) -> None:
    _put(target, INVOICES, "a.csv", b"InvoiceId\nSTI-1\n")
    old = os.umask(0o022)
    try:
        with target.connect() as client:
            got = client.download(
                target.remote(INVOICES), "a.csv", tmp_path / "work", max_bytes=100
            )
    finally:
        os.umask(old)
    assert stat.S_IMODE(got.path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "work").stat().st_mode) == 0o700


def test_disconnect_mid_download_leaves_no_partial_file(target: Target, tmp_path: Path) -> None:
    size = 64 * 1024 * 1024 if target.sshd else 8 * 1024 * 1024
    path = _put(target, INVOICES, "big.csv", b"")
    with path.open("wb") as handle:
        handle.truncate(size)
    killer: threading.Thread | None = None
    if target.embedded is not None:
        target.embedded.faults.disconnect_after_bytes = 1024 * 1024
    else:
        sshd = target.sshd
        assert sshd is not None

        def kill_when_started() -> None:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if any(p.suffix == ".part" and p.stat().st_size > 0 for p in tmp_path.iterdir()):
                    sshd.kill_sessions()
                    return
                time.sleep(0.001)

        killer = threading.Thread(target=kill_when_started)
    client = target.connect()
    try:
        if killer is not None:
            killer.start()
        with pytest.raises(RetryableError):
            client.download(target.remote(INVOICES), "big.csv", tmp_path, max_bytes=10**9)
        assert not client.is_alive()
    finally:
        client.close()
        if killer is not None:
            killer.join()
    assert list(tmp_path.iterdir()) == []


def test_upload_is_atomic_and_leaves_no_temporary_file(target: Target) -> None:
    inbound = target.remote("/inbound")
    data = ("VendorId,VendorName\n" + "V-0001,Acme\n" * 20_000).encode()
    _put(target, "/inbound", "vendors_20261121_141500.csv", b"old content")
    with target.connect() as client:
        client.upload_atomic(inbound, "vendors_20261121_141500.csv", data)
        entries, _ = client.list_files(inbound)
    assert [e.name for e in entries] == ["vendors_20261121_141500.csv"]
    assert target.local("/inbound/vendors_20261121_141500.csv").read_bytes() == data


def test_upload_to_read_only_folder_is_refused_cleanly(
    embedded: EmbeddedSftpServer, client_keys: dict[str, KeyPair]
) -> None:
    from bridge_pipelines_tests.integration.sftp.conftest import _embedded_target

    target = _embedded_target(embedded, client_keys)
    embedded.faults.readonly_inbound = True
    with target.connect() as client, pytest.raises(ConfigError, match="permission denied"):
        client.upload_atomic("/inbound", "vendors.csv", b"x")
    assert os.listdir(target.local("/inbound")) == []


def test_pool_reuses_the_connection_and_reconnects_after_restart(target: Target) -> None:
    pool = SftpPool()
    tenant = target.tenant()
    try:
        with pool.get(tenant, target.key_credentials) as client:
            first = client.transport
            client.list_files(target.remote(INVOICES))
        with pool.get(tenant, target.key_credentials) as client:
            assert client.transport is first
        target.restart()
        deadline = time.monotonic() + 5
        while first is not None and first.is_active() and time.monotonic() < deadline:
            time.sleep(0.01)
        with pool.get(tenant, target.key_credentials) as client:
            assert client.transport is not first
            assert client.list_files(target.remote(INVOICES)) == ([], [])
        assert len(pool) == 1
    finally:
        pool.close_all()
    assert len(pool) == 0


def test_pool_drops_a_connection_that_failed_mid_use(
    embedded: EmbeddedSftpServer, client_keys: dict[str, KeyPair]
) -> None:
    from bridge_pipelines_tests.integration.sftp.conftest import _embedded_target

    target = _embedded_target(embedded, client_keys)
    pool = SftpPool()
    tenant = target.tenant()
    try:
        with pool.get(tenant, target.key_credentials) as client:
            first = client.transport
        embedded.drop_connections()
        time.sleep(0.2)
        with pool.get(tenant, target.key_credentials) as client:
            assert client.transport is not first
    finally:
        pool.close_all()


def test_pool_does_not_hammer_a_server_that_refused_us(embedded: EmbeddedSftpServer) -> None:
    cfg = _password_cfg(embedded)
    from bridge_pipelines.tenants.models import TenantConfig

    tenant = TenantConfig(id="acme", name="Acme", sftp=cfg)
    attempts = []

    def credentials() -> SftpCredentials:
        attempts.append(1)
        return SftpCredentials(password=SecretStr("wrong"))

    pool = SftpPool()
    for _ in range(3):
        with (
            pytest.raises(ConfigError, match="authentication failed"),
            pool.get(tenant, credentials),
        ):
            pass
    assert len(attempts) == 1
    pool.close_all()


def _password_cfg(server: EmbeddedSftpServer) -> SftpConfig:
    from bridge_pipelines.tenants.models import SftpConfig

    return SftpConfig(
        host=server.host,
        port=server.port,
        username="stampli",
        host_key=server.host_key_line,
        password="enc:v1:test:AAAA",
        connect_timeout_s=5,
    )


def test_upload_to_a_full_folder_leaves_no_temporary_file(
    embedded: EmbeddedSftpServer, client_keys: dict[str, KeyPair]
) -> None:
    from bridge_pipelines_tests.integration.sftp.conftest import _embedded_target

    target = _embedded_target(embedded, client_keys)
    embedded.faults.inbound_full = True
    with target.connect() as client:
        with pytest.raises(ConfigError, match="no space left"):
            client.upload_atomic("/inbound", "vendors.csv", b"x" * 100_000)
        assert client.is_alive()
    assert os.listdir(target.local("/inbound")) == []


def test_upload_sweeps_temporaries_a_killed_upload_left_and_nothing_else(target: Target) -> None:
    """A kill mid-upload leaves `.<name>.<uuid>.tmp` in Stampli's inbound; the next upload
    removes it once its writer is surely dead, and never touches anyone else's files."""
    inbound = target.remote("/inbound")
    stale = _put(target, "/inbound", f".vendors_1.csv.{'a' * 32}.tmp", b"half a fi")
    fresh = _put(target, "/inbound", f".vendors_2.csv.{'b' * 32}.tmp", b"being written")
    foreign = _put(target, "/inbound", ".stampli-import.tmp", b"not ours")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    os.utime(foreign, (old, old))
    with target.connect() as client:
        client.upload_atomic(inbound, "vendors_3.csv", b"VendorId\nV-1\n")
    assert not stale.exists()
    assert fresh.exists() and foreign.exists()
    assert target.local("/inbound/vendors_3.csv").read_bytes() == b"VendorId\nV-1\n"
