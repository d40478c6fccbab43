"""OpenSSH `sshd` on a loopback port, for the integration tests, fault matrix and benchmarks.

`start_sshd()` is a plain function, so the benchmarks use it outside pytest; the tests' `sshd`
fixture (`bridge_pipelines_tests/support/sshd.py`) wraps it for a session. The server accepts
key authentication for the current user only, serves `internal-sftp`, and, when we run as root,
is chrooted to a root-owned folder holding the Stampli folders, so tenant folders are
`/outbound/...` exactly as in the defaults. Without root there is no chroot: `remote()` maps a
Stampli path to the absolute path on this machine. Stopping kills sshd's per-connection
children through psutil, from the dev dependency group that every user of this module installs.
"""

import contextlib
import getpass
import os
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

SSHD = "/usr/sbin/sshd"
STAMPLI_FOLDERS = (
    "outbound/invoices",
    "outbound/payments",
    "outbound/vendors",
    "outbound/gl_accounts",
    "inbound",
)
# Options older or newer sshd versions may not know; dropped when `sshd -t` refuses them.
_OPTIONAL_OPTIONS = ("PerSourcePenalties", "KbdInteractiveAuthentication")


@dataclass(frozen=True)
class KeyPair:
    """A private key as text (OpenSSH format) and its public line."""

    private: str
    public_line: str
    passphrase: str | None = None


def generate_keypair(kind: str = "ed25519", *, passphrase: str | None = None) -> KeyPair:
    """A fresh key: `ed25519`, `rsa` or `ecdsa`, optionally encrypted with `passphrase`."""
    key: ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    if kind == "ed25519":
        key = ed25519.Ed25519PrivateKey.generate()
    elif kind == "rsa":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif kind == "ecdsa":
        key = ec.generate_private_key(ec.SECP256R1())
    else:
        raise ValueError(f"unknown key kind {kind!r}")
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase.encode())
        if passphrase
        else serialization.NoEncryption()
    )
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, encryption
    ).decode("ascii")
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return KeyPair(private=private, public_line=public.decode("ascii"), passphrase=passphrase)


def sshd_available() -> bool:
    """Whether OpenSSH's server binary is installed."""
    return os.access(SSHD, os.X_OK)


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (the caller binds it soon after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _write_secret(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o600)
    return path


def _safe_chroot_parent() -> Path | None:
    """A folder whose every ancestor is root-owned and not writable by others (sshd's rule)."""
    for candidate in (Path.home() / ".cache", Path("/run")):
        try:
            candidate.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        path = candidate.resolve()
        ok = True
        for part in (path, *path.parents):
            info = part.stat()
            if info.st_uid != 0 or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                ok = False
                break
        if ok:
            return path
    return None


@dataclass
class SshdServer:
    """A running sshd. `root` is the local folder the SFTP user sees as `remote_root`."""

    host: str
    port: int
    username: str
    root: Path
    remote_root: str
    workdir: Path
    host_key_line: str
    key: KeyPair
    encrypted_key: KeyPair
    rsa_key: KeyPair
    config_path: Path
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def key_path(self) -> Path:
        """The unencrypted private key on disk, for OpenSSH's own `sftp` client."""
        return self.workdir / "id_ed25519"

    @property
    def known_hosts_path(self) -> Path:
        return self.workdir / "known_hosts"

    def remote(self, path: str) -> str:
        """The path the SFTP client uses for a Stampli path such as `/outbound/invoices`."""
        if self.remote_root == "/":
            return path
        return self.remote_root.rstrip("/") + "/" + path.lstrip("/")

    def local(self, path: str) -> Path:
        """The local file behind a Stampli path such as `/outbound/invoices/a.csv`."""
        return self.root / path.lstrip("/")

    def start(self) -> None:
        """Start (or restart) sshd on `port`; waits for its banner."""
        if self.process is not None and self.process.poll() is None:
            return
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(self.config_path)],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"sshd exited: {self.log_path.read_text(errors='replace')}")
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as sock:
                    if sock.recv(64).startswith(b"SSH-"):
                        return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"sshd did not answer on {self.host}:{self.port}")

    def stop(self) -> None:
        """Stop the listener and every session it forked."""
        if self.process is None:
            return
        pids = _descendants(self.process.pid)
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)
        self.process = None

    def kill_sessions(self) -> int:
        """Kill every per-connection sshd process (a network drop, as the client sees it)."""
        if self.process is None:
            return 0
        pids = _descendants(self.process.pid)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)
        return len(pids)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)
        if self.root.parent != self.workdir:
            shutil.rmtree(self.root, ignore_errors=True)


def _descendants(pid: int) -> list[int]:
    import psutil

    try:
        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def start_sshd(*, max_startups: int = 2000) -> SshdServer:
    """Start a throw-away sshd on a free loopback port. Call `.cleanup()` when done."""
    if not sshd_available():
        raise RuntimeError("OpenSSH sshd not installed (apt-get install openssh-server)")
    workdir = Path(tempfile.mkdtemp(prefix="bridge-sshd-"))
    is_root = os.geteuid() == 0
    chroot_parent = _safe_chroot_parent() if is_root else None
    if chroot_parent is not None:
        root = Path(tempfile.mkdtemp(prefix="bridge-sshd-root-", dir=chroot_parent))
        root.chmod(0o755)
        remote_root = "/"
    else:
        root = workdir / "root"
        root.mkdir()
        remote_root = str(root)
    for folder in STAMPLI_FOLDERS:
        (root / folder).mkdir(parents=True, exist_ok=True)

    host_key = generate_keypair("ed25519")
    _write_secret(workdir / "ssh_host_ed25519_key", host_key.private)
    key = generate_keypair("ed25519")
    encrypted = generate_keypair("ed25519", passphrase="correct horse battery staple")
    rsa_key = generate_keypair("rsa", passphrase="rsa passphrase")
    _write_secret(workdir / "id_ed25519", key.private)
    (workdir / "authorized_keys").write_text(
        "".join(k.public_line + "\n" for k in (key, encrypted, rsa_key))
    )
    if is_root:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation folder

    host = "127.0.0.1"
    port = free_port(host)
    username = getpass.getuser()
    host_key_line = " ".join(host_key.public_line.split()[:2])
    (workdir / "known_hosts").write_text(f"[{host}]:{port} {host_key_line}\n")
    options = [
        f"Port {port}",
        f"ListenAddress {host}",
        f"HostKey {workdir / 'ssh_host_ed25519_key'}",
        f"PidFile {workdir / 'sshd.pid'}",
        f"AuthorizedKeysFile {workdir / 'authorized_keys'}",
        "StrictModes no",
        "UsePAM no",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PermitRootLogin prohibit-password",
        f"AllowUsers {username}",
        "Subsystem sftp internal-sftp",
        "ForceCommand internal-sftp",
        "AllowTcpForwarding no",
        "X11Forwarding no",
        "UseDNS no",
        "PrintMotd no",
        f"MaxStartups {max_startups}",
        "PerSourcePenalties no",
        "LogLevel ERROR",
    ]
    if chroot_parent is not None:
        options.append(f"ChrootDirectory {root}")
    config_path = workdir / "sshd_config"
    for _ in range(len(_OPTIONAL_OPTIONS) + 1):
        config_path.write_text("\n".join(options) + "\n")
        check = subprocess.run(
            [SSHD, "-t", "-f", str(config_path)], capture_output=True, text=True, check=False
        )
        if check.returncode == 0:
            break
        unknown = [o for o in _OPTIONAL_OPTIONS if o in check.stderr]
        if not unknown:
            raise RuntimeError(f"sshd refused its config: {check.stderr}")
        options = [line for line in options if not line.startswith(tuple(unknown))]
    server = SshdServer(
        host=host,
        port=port,
        username=username,
        root=root,
        remote_root=remote_root,
        workdir=workdir,
        host_key_line=host_key_line,
        key=key,
        encrypted_key=encrypted,
        rsa_key=rsa_key,
        config_path=config_path,
        log_path=workdir / "sshd.log",
    )
    try:
        server.start()
    except Exception:
        server.cleanup()
        raise
    return server
