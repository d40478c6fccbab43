"""List 1,000 tenants' Stampli folders the way the sensors do: pooled connections, 4 folders each.

    python -m bench.listing [--tenants 1000] [--server sshd|embedded] [--workers 8] [--rounds 3]

Every tenant has its own SFTP connection (as in production, where each tenant is a different
server) and its own four folders with a few files, mostly unchanged between rounds. A round lists
every tenant through `SftpPool` and `scan_tenant`, exactly as the sensor does: the ledger
(SQLite by default, `--ledger-url` for PostgreSQL) records what it saw and decides what became
stable; the clock moves one settle interval per round, so files stabilise in the second round.
The cold round includes the SSH handshakes; warm rounds reuse the connections, as the
long-lived code server does.
Goal: a warm round of 1,000 tenants in <= 10 s on 2 cores.
"""

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import SecretStr

from bridge_pipelines.intake.scan import scan_tenant
from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.sandbox.sshd import KeyPair, free_port, generate_keypair, start_sshd
from bridge_pipelines.sftp.credentials import SftpCredentials
from bridge_pipelines.sftp.pool import SftpPool
from bridge_pipelines.tenants.models import FILE_KINDS, Folders, SftpConfig, TenantConfig

FILES_PER_FOLDER = 3
_EMBEDDED_SERVER = """
import signal, sys, threading
from pathlib import Path
from bridge_pipelines.sandbox.sftp_server import EmbeddedSftpServer
root, port, host_key, key_line = sys.argv[1:5]
server = EmbeddedSftpServer(Path(root), port=int(port), authorized_keys={"bench": [key_line]},
                            host_key_path=Path(host_key))
server.start()
print(server.host_key_line, flush=True)
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
stop.wait()
server.stop()
"""


def _make_tree(root: Path, prefix: str, tenants: int) -> None:
    for t in range(tenants):
        for kind in FILE_KINDS:
            folder = root / prefix.lstrip("/") / f"t{t:04d}" / "outbound" / kind
            folder.mkdir(parents=True, exist_ok=True)
            for f in range(FILES_PER_FOLDER):
                (folder / f"{kind}_20261121_14150{f}.csv").write_bytes(b"x" * (100 + f))


def _tenants(cfg: SftpConfig, prefix: str, count: int) -> list[TenantConfig]:
    out = []
    for t in range(count):
        base = f"{prefix.rstrip('/')}/t{t:04d}/outbound"
        folders = Folders(
            invoices=f"{base}/invoices",
            payments=f"{base}/payments",
            vendors=f"{base}/vendors",
            gl_accounts=f"{base}/gl_accounts",
            inbound=f"{prefix.rstrip('/')}/t{t:04d}/inbound",
        )
        out.append(TenantConfig(id=f"t{t:04d}", name=f"Tenant {t}", sftp=cfg, folders=folders))
    return out


def _touch_some(root: Path, prefix: str, tenants: int, share: float, round_no: int) -> int:
    """Stampli keeps writing: a few tenants get a new or growing file between rounds."""
    changed = max(1, int(tenants * share))
    for t in range(0, tenants, max(1, tenants // changed)):
        folder = root / prefix.lstrip("/") / f"t{t:04d}" / "outbound" / "invoices"
        with (folder / f"approved_invoices_round{round_no}.csv").open("ab") as handle:
            handle.write(b"y" * 50)
    return changed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--server", choices=["sshd", "embedded"], default="sshd")
    parser.add_argument("--workers", type=int, default=8, help="concurrent sensor evaluations")
    parser.add_argument("--rounds", type=int, default=3, help="warm rounds")
    parser.add_argument("--ledger-url", default=None, help="default: a fresh SQLite ledger")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4 * args.tenants + 256)), hard))

    cleanup: list[Path] = []
    process: subprocess.Popen[bytes] | None = None
    sshd = None
    if args.server == "sshd":
        sshd = start_sshd(max_startups=args.tenants + 100)
        root, prefix = sshd.root, sshd.remote("/tenants")
        key: KeyPair = sshd.key
        host, port, host_key, user = sshd.host, sshd.port, sshd.host_key_line, sshd.username
    else:
        home = Path(tempfile.mkdtemp(prefix="bench-listing-"))
        cleanup.append(home)
        root, prefix = home / "root", "/tenants"
        key = generate_keypair("ed25519")
        host, port, user = "127.0.0.1", free_port(), "bench"
        # Its own process, so the server does not compete with the client for the GIL.
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _EMBEDDED_SERVER,
                str(root),
                str(port),
                str(home / "hk"),
                key.public_line,
            ],
            stdout=subprocess.PIPE,
        )
        assert process.stdout is not None
        host_key = process.stdout.readline().decode().strip()
    try:
        started = time.perf_counter()
        _make_tree(root, "/tenants", args.tenants)
        print(
            f"{args.tenants} tenants x 4 folders x {FILES_PER_FOLDER} files "
            f"written in {time.perf_counter() - started:.1f} s ({args.server})"
        )
        cfg = SftpConfig(
            host=host,
            port=port,
            username=user,
            host_key=host_key,
            private_key="enc:v1:bench:AAAA",
            connect_timeout_s=60,
        )
        tenants = _tenants(cfg, prefix, args.tenants)
        credentials = SftpCredentials(private_key=SecretStr(key.private))
        pool = SftpPool()
        ledger_dir = Path(tempfile.mkdtemp(prefix="bench-ledger-"))
        cleanup.append(ledger_dir)
        ledger = Ledger(args.ledger_url or f"sqlite:///{ledger_dir / 'ledger.db'}")
        ledger.migrate()
        clock = {"now": datetime.now(UTC)}

        def scan(tenant: TenantConfig) -> tuple[int, int]:
            # Exactly what the sensor does: list every folder, let the ledger decide stability.
            with pool.get(tenant, lambda: credentials) as client:
                result = scan_tenant(tenant, client, ledger, now=clock["now"])
            return result.listed, len(result.newly_stable)

        def round_(label: str) -> float:
            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=args.workers) as executor:
                results = list(executor.map(scan, tenants))
            elapsed = time.perf_counter() - started
            seen = sum(r[0] for r in results)
            stable = sum(r[1] for r in results)
            print(
                f"  {label:<8} {elapsed:6.2f} s  {seen} files listed, {stable} became stable, "
                f"{len(pool)} connections"
            )
            clock["now"] += timedelta(seconds=tenants[0].sftp.settle_seconds + 1)
            return elapsed

        cpu0 = time.process_time()
        cold = round_("cold")
        warm = []
        for n in range(args.rounds):
            _touch_some(root, "/tenants", args.tenants, 0.01, n)
            warm.append(round_(f"warm {n + 1}"))
        cpu = time.process_time() - cpu0
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(
            f"machine: {os.cpu_count()} cores, load average {load}; "
            f"client CPU {cpu:.1f} s over all rounds; {args.workers} workers"
        )
        print(f"cold round (handshakes included): {cold:.2f} s")
        print(
            f"warm round: best {min(warm):.2f} s, median {statistics.median(warm):.2f} s "
            f"for {args.tenants} tenants ({4 * args.tenants} folders)"
        )
        print(
            f"goal <= 10 s for 1,000 tenants: "
            f"{'met' if min(warm) * 1000 / args.tenants <= 10 else 'NOT met'}"
        )
        pool.close_all()
    finally:
        if sshd is not None:
            sshd.cleanup()
        if process is not None:
            process.terminate()
            process.wait(timeout=30)
        for path in cleanup:
            shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    main()
