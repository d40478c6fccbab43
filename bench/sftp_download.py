"""Download a large file from sshd on loopback: our client vs OpenSSH's `sftp`.

    python -m bench.sftp_download [--mb 100] [--runs 3]

Same server, same file, best of N, the clients alternating so a busy machine slows both alike.
Our figure includes what `SftpClient.download` always does (sha256 while streaming, re-stat,
fsync, rename); OpenSSH's `sftp -b` just writes the file (no hash, no fsync). Both are shown
with the connection set-up included (process start to exit for OpenSSH, the way a user would
time it) and without it. OpenSSH's transfer alone is timed as (3 gets - 1 get) / 2 in one
session each, so its start-up, key exchange and exit cancel out.
OpenSSH runs twice per round: with its own default cipher (chacha20-poly1305 on OpenSSH 9)
and with the cipher our client negotiated (paramiko has no chacha20), so the comparison is
also made on equal terms. Goal: ours >= 0.9x OpenSSH.
"""

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

from pydantic import SecretStr

from bridge_pipelines.sandbox.sshd import SshdServer, start_sshd
from bridge_pipelines.sftp.client import SftpClient
from bridge_pipelines.sftp.credentials import SftpCredentials
from bridge_pipelines.tenants.models import SftpConfig


def _openssh(server: SshdServer, commands: str, cipher: str | None = None) -> float:
    argv = [
        "sftp",
        "-q",
        *(["-c", cipher] if cipher else []),
        "-b",
        "-",
        "-F",
        "/dev/null",
        "-P",
        str(server.port),
        "-i",
        str(server.key_path),
        "-o",
        f"UserKnownHostsFile={server.known_hosts_path}",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        "IdentitiesOnly=yes",
        f"{server.username}@{server.host}",
    ]
    started = time.perf_counter()
    subprocess.run(argv, input=commands.encode(), check=True, capture_output=True)
    return time.perf_counter() - started


def product_login(server: SshdServer) -> tuple[SftpConfig, SftpCredentials]:
    """The tenant settings and key the product's client uses against the bench's sshd."""
    cfg = SftpConfig(
        host=server.host,
        port=server.port,
        username=server.username,
        host_key=server.host_key_line,
        private_key="enc:v1:bench:AAAA",
    )
    return cfg, SftpCredentials(private_key=SecretStr(server.key.private))


def _default_cipher(server: SshdServer) -> str:
    """OpenSSH's first-choice cipher (what it negotiates with our sshd, which offers all)."""
    argv = ["ssh", "-G", "-F", "/dev/null", server.host]
    config = subprocess.run(argv, capture_output=True, text=True, check=False).stdout
    for line in config.splitlines():
        if line.startswith("ciphers "):
            return line.split()[1].split(",")[0]
    return "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=100, help="file size in MiB")
    parser.add_argument("--runs", type=int, default=3, help="runs per client (best is kept)")
    args = parser.parse_args()
    size = args.mb * 1024 * 1024
    server = start_sshd()
    work = Path(tempfile.mkdtemp(prefix="bench-sftp-"))
    try:
        remote_folder = server.remote("/outbound/invoices")
        with server.local("/outbound/invoices/bench.bin").open("wb") as handle:
            for _ in range(args.mb):
                handle.write(os.urandom(1024 * 1024))
        cfg, credentials = product_login(server)

        ours, ours_total = [], []
        theirs: dict[str, list[float]] = {"default": [], "same": []}
        theirs_transfer: dict[str, list[float]] = {"default": [], "same": []}
        local = work / "openssh.bin"
        cipher = "?"
        for _ in range(args.runs):
            started = time.perf_counter()
            with SftpClient.connect(cfg, credentials) as client:
                connected = time.perf_counter()
                got = client.download(remote_folder, "bench.bin", work, max_bytes=size + 1)
                done = time.perf_counter()
                cipher = str(getattr(client.transport, "remote_cipher", "?"))
            assert got.size == size
            got.path.unlink()
            ours.append(done - connected)
            ours_total.append(done - started)

            get = f"get {remote_folder}/bench.bin {local}\n"
            for which, forced in (("default", None), ("same", cipher)):
                one = _openssh(server, get, forced)
                assert local.stat().st_size == size
                three = _openssh(server, get * 3, forced)
                local.unlink()
                theirs[which].append(one)
                theirs_transfer[which].append((three - one) / 2)

        mb = size / 1e6
        best_ours, best_ours_total = min(ours), min(ours_total)
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"file: {args.mb} MiB from OpenSSH sshd on loopback, best of {args.runs}")
        print(f"machine: {os.cpu_count()} cores, load average {load}")
        print(f"our client ({cipher}, sha256 + fsync included)")
        print(f"  transfer only    {mb / best_ours:8.1f} MB/s  ({best_ours:.2f} s)")
        print(f"  with connect     {mb / best_ours_total:8.1f} MB/s  ({best_ours_total:.2f} s)")
        verdicts = []
        for which, label in (("default", _default_cipher(server)), ("same", cipher)):
            best_total = min(theirs[which])
            best = max(min(theirs_transfer[which]), 1e-9)
            print(f"OpenSSH sftp -b ({label}{', its default' if which == 'default' else ''})")
            print(f"  transfer only    {mb / best:8.1f} MB/s  ({best:.2f} s, (3 gets - 1) / 2)")
            print(f"  with connect     {mb / best_total:8.1f} MB/s  ({best_total:.2f} s)")
            ratio, ratio_transfer = best_total / best_ours_total, best / best_ours
            verdicts.append(min(ratio, ratio_transfer))
            print(f"  ours/OpenSSH: {ratio:.2f}x with connect, {ratio_transfer:.2f}x transfer only")
        print(f"goal >= 0.9x: {'met' if min(verdicts) >= 0.9 else 'NOT met'}")
    finally:
        server.cleanup()
        for leftover in work.iterdir():
            leftover.unlink()
        work.rmdir()


if __name__ == "__main__":
    main()
