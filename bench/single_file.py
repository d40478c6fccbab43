"""The single-file path in one run: one Stampli export downloaded, parsed, validated, documented.

    python -m bench single_file [--lines 1000000] [--runs 3]

Everything is measured side by side in this one process, alternating the two sides of each
comparison so a busy machine slows both alike (ratios, not seconds, are the figures to read):

1. parse: raw `polars.read_csv(path, infer_schema=False)` (every column a string: the floor)
   against the product path: `parse_export` (read, every field and invoice rule, pandera on the
   accepted frame) plus `result.documents` (one canonical document per invoice: JSON text,
   sha256, identity, rows, day, amount). Goal: product <= 2.0x raw, wall time.
2. memory: peak RSS growth (VmHWM minus RSS after imports) of a fresh interpreter running the
   product path, the file's bytes included, against the file size. Goal: <= 4x. The same is
   shown for raw polars for scale.
3. download: the same file from OpenSSH's sshd on loopback, the product's
   `SftpClient.download` (sha256 while streaming, re-stat, fsync, rename) against OpenSSH's
   `sftp` forced to the cipher our client negotiated, transfer only (OpenSSH's as
   (3 gets - 1 get) / 2 in one session, so its start-up cancels out). Goal: >= 0.9x.
"""

import argparse
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.parse import _cpu, export_of
from bench.sftp_download import _openssh, product_login

_PROBE = """
import json, sys
import psutil, polars, pandera.polars, lxml.etree
from pathlib import Path
from bridge_pipelines.stampli.parse import parse_export
p = Path(sys.argv[1])
before = psutil.Process().memory_info().rss
if sys.argv[2] == "raw":
    n = polars.read_csv(p, infer_schema=False).height
else:
    r = parse_export("invoices", p.read_bytes(), source=p.name)
    n = len(r.documents)
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the (big) parent at exec.
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0]
print(json.dumps({"before": before, "peak": int(hwm.split()[1]) * 1024, "n": n}))
"""


def _timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    gc.collect()
    start, cpu = time.perf_counter(), _cpu()
    result = fn()
    return time.perf_counter() - start, _cpu() - cpu, result


def _raw(path: Path) -> int:
    import polars as pl

    return pl.read_csv(path, infer_schema=False).height


def _product(path: Path) -> tuple[int, int, int]:
    from bridge_pipelines.stampli.parse import parse_export

    result = parse_export("invoices", path.read_bytes(), source=path.name)
    return result.rows_accepted, len(result.errors), len(result.documents)


def _peak(path: Path, which: str) -> int:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, str(path), which],
        check=True,
        capture_output=True,
        text=True,
    )
    probe = json.loads(out.stdout.strip().splitlines()[-1])
    return int(probe["peak"]) - int(probe["before"])


def _parse_figures(path: Path, lines: int, runs: int) -> dict[str, float]:
    raw: list[tuple[float, float]] = []
    ours: list[tuple[float, float]] = []
    docs = 0
    for _ in range(runs):
        wall, cpu, height = _timed(lambda: _raw(path))
        assert height == lines, height
        raw.append((wall, cpu))
        wall, cpu, (accepted, errors, docs) = _timed(lambda: _product(path))
        assert accepted == lines and errors == 0, (accepted, errors)
        ours.append((wall, cpu))
    return {
        "raw_s": min(w for w, _ in raw),
        "raw_cpu": min(c for _, c in raw),
        "ours_s": min(w for w, _ in ours),
        "ours_cpu": min(c for _, c in ours),
        "documents": docs,
    }


def _download_figures(path: Path, runs: int) -> dict[str, Any]:
    from bridge_pipelines.sandbox.sshd import start_sshd
    from bridge_pipelines.sftp.client import SftpClient

    size = path.stat().st_size
    server = start_sshd()
    work = Path(tempfile.mkdtemp(prefix="bench-single-"))
    try:
        folder = server.remote("/outbound/invoices")
        shutil.copyfile(path, server.local(f"/outbound/invoices/{path.name}"))
        cfg, credentials = product_login(server)
        ours: list[float] = []
        theirs: list[float] = []
        cipher = "?"
        local = work / "openssh.csv"
        for _ in range(runs):
            with SftpClient.connect(cfg, credentials) as client:
                started = time.perf_counter()
                got = client.download(folder, path.name, work, max_bytes=size + 1)
                ours.append(time.perf_counter() - started)
                cipher = str(getattr(client.transport, "remote_cipher", "?"))
            assert got.size == size
            got.path.unlink()
            get = f"get {folder}/{path.name} {local}\n"
            one = _openssh(server, get, cipher)
            assert local.stat().st_size == size
            three = _openssh(server, get * 3, cipher)
            local.unlink()
            theirs.append(max((three - one) / 2, 1e-9))
        return {"cipher": cipher, "ours_s": min(ours), "openssh_s": min(theirs)}
    finally:
        server.cleanup()
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3, help="runs per side (best is kept)")
    parser.add_argument("--no-download", action="store_true", help="skip the SFTP comparison")
    args = parser.parse_args(argv)

    path = export_of(args.lines)
    size = path.stat().st_size
    load_before = os.getloadavg()
    print(f"file: {path.name}, {size / 1e6:.1f} MB, {args.lines:,} invoice lines")

    parse = _parse_figures(path, args.lines, args.runs)
    peaks = sorted(_peak(path, "product") for _ in range(3))
    raw_peak = sorted(_peak(path, "raw") for _ in range(3))[1]
    download = None if args.no_download else _download_figures(path, args.runs)
    load_after = os.getloadavg()

    ratio = parse["ours_s"] / parse["raw_s"]
    memory = peaks[1] / size
    print(
        f"machine: {os.cpu_count()} cores, load average {load_before[0]:.1f} before, "
        f"{load_after[0]:.1f} after; best of {args.runs}, sides alternating\n"
    )
    print(f"{'':44} {'seconds':>8} {'cpu s':>8}")
    print(f"{'raw polars.read_csv (all strings)':44} {parse['raw_s']:8.2f} {parse['raw_cpu']:8.2f}")
    print(
        f"{'parse + validate + documents (product)':44} {parse['ours_s']:8.2f} "
        f"{parse['ours_cpu']:8.2f}"
    )
    print(f"  {int(parse['documents']):,} invoice documents")
    verdicts = [ratio <= 2.0, memory <= 4.0]
    print(
        f"  product / raw: {ratio:.2f}x wall, {parse['ours_cpu'] / parse['raw_cpu']:.2f}x CPU "
        f"(goal <= 2.0x wall: {'met' if ratio <= 2.0 else 'NOT met'})"
    )
    print(
        f"peak RSS growth, product path (fresh process, median of 3): {peaks[1] / 1e6:.0f} MB = "
        f"{memory:.2f}x file size (range {peaks[0] / size:.2f}-{peaks[-1] / size:.2f}x; "
        f"raw polars alone {raw_peak / size:.2f}x) (goal <= 4x: "
        f"{'met' if memory <= 4.0 else 'NOT met'})"
    )
    if download is not None:
        mb = size / 1e6
        share = download["openssh_s"] / download["ours_s"]
        verdicts.append(share >= 0.9)
        print(f"download, same cipher ({download['cipher']}), transfer only:")
        print(f"  OpenSSH sftp        {mb / download['openssh_s']:8.1f} MB/s")
        print(f"  product download    {mb / download['ours_s']:8.1f} MB/s (sha256 + fsync incl.)")
        print(
            f"  product / OpenSSH: {share:.2f}x (goal >= 0.9x: "
            f"{'met' if share >= 0.9 else 'NOT met'})"
        )
    print(f"goals: {'all met' if all(verdicts) else 'NOT all met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
