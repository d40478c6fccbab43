"""One SFTP test suite, run against both servers: the embedded asyncssh one and OpenSSH's sshd."""

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pydantic import SecretStr

from bridge_pipelines.sandbox.sftp_server import EmbeddedSftpServer
from bridge_pipelines.sandbox.sshd import (
    STAMPLI_FOLDERS,
    KeyPair,
    SshdServer,
    generate_keypair,
)
from bridge_pipelines.sftp.client import SftpClient
from bridge_pipelines.sftp.credentials import SftpCredentials
from bridge_pipelines.tenants.models import SftpConfig, TenantConfig

FAKE_CIPHERTEXT = "enc:v1:test:AAAA"


@dataclass
class Target:
    """A server under test, seen the way a tenant file sees it."""

    kind: str
    host: str
    port: int
    username: str
    host_key_line: str
    root: Path
    remote_root: str
    key: KeyPair
    encrypted_key: KeyPair
    rsa_key: KeyPair
    restart: Callable[[], None]
    embedded: EmbeddedSftpServer | None = None
    sshd: SshdServer | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def remote(self, path: str) -> str:
        if self.remote_root == "/":
            return path
        return self.remote_root.rstrip("/") + "/" + path.lstrip("/")

    def local(self, path: str) -> Path:
        return self.root / path.lstrip("/")

    def cfg(self, **overrides: object) -> SftpConfig:
        values: dict[str, object] = {
            "host": self.host,
            "port": self.port,
            "username": self.username,
            "host_key": self.host_key_line,
            "private_key": FAKE_CIPHERTEXT,
            "connect_timeout_s": 5,
            "operation_timeout_s": 10,
        }
        values.update(overrides)
        return SftpConfig.model_validate(values)

    def tenant(self, tenant_id: str = "acme", **overrides: object) -> TenantConfig:
        return TenantConfig(id=tenant_id, name="Acme", sftp=self.cfg(**overrides))

    def key_credentials(self, which: str = "plain") -> SftpCredentials:
        pair = {"plain": self.key, "encrypted": self.encrypted_key, "rsa": self.rsa_key}[which]
        return SftpCredentials(
            private_key=SecretStr(pair.private),
            private_key_passphrase=SecretStr(pair.passphrase) if pair.passphrase else None,
        )

    def connect(self, **overrides: object) -> SftpClient:
        return SftpClient.connect(self.cfg(**overrides), self.key_credentials())


def _clean(root: Path) -> None:
    for folder in STAMPLI_FOLDERS:
        path = root / folder
        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True)


@pytest.fixture(scope="session")
def client_keys() -> dict[str, KeyPair]:
    return {
        "plain": generate_keypair("ed25519"),
        "encrypted": generate_keypair("ed25519", passphrase="correct horse battery staple"),
        "rsa": generate_keypair("rsa", passphrase="rsa passphrase"),
    }


@pytest.fixture
def embedded(
    tmp_path_factory: pytest.TempPathFactory, client_keys: dict[str, KeyPair]
) -> Iterator[EmbeddedSftpServer]:
    home = tmp_path_factory.mktemp("embedded-sftp")
    server = EmbeddedSftpServer(
        home / "root",
        users={"stampli": "s3cret-pass"},
        authorized_keys={"keyuser": [k.public_line for k in client_keys.values()]},
        host_key_path=home / "host_key",
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _embedded_target(server: EmbeddedSftpServer, keys: dict[str, KeyPair]) -> Target:
    return Target(
        kind="embedded",
        host=server.host,
        port=server.port,
        username="keyuser",
        host_key_line=server.host_key_line,
        root=server.root,
        remote_root="/",
        key=keys["plain"],
        encrypted_key=keys["encrypted"],
        rsa_key=keys["rsa"],
        restart=server.restart,
        embedded=server,
    )


def _sshd_target(server: SshdServer) -> Target:
    def restart() -> None:
        server.stop()
        server.start()

    return Target(
        kind="sshd",
        host=server.host,
        port=server.port,
        username=server.username,
        host_key_line=server.host_key_line,
        root=server.root,
        remote_root=server.remote_root,
        key=server.key,
        encrypted_key=server.encrypted_key,
        rsa_key=server.rsa_key,
        restart=restart,
        sshd=server,
    )


@pytest.fixture(params=["embedded", "sshd"])
def target(request: pytest.FixtureRequest, client_keys: dict[str, KeyPair]) -> Target:
    """Each test runs once per server kind; sshd's folders are emptied between tests."""
    if request.param == "embedded":
        server = request.getfixturevalue("embedded")
        return _embedded_target(server, client_keys)
    sshd: SshdServer = request.getfixturevalue("sshd")
    _clean(sshd.root)
    return _sshd_target(sshd)
