"""What a run worker pays to import the code location, with and without compiled bytecode.

    python -m bench.import_cost [--repeat 3] [--module bridge_pipelines.definitions]

A Dagster run worker is a fresh `multiprocessing` spawn of the code server: it imports the
definitions module before anything runs. The spawn passes the parent's interpreter flags on, so
where `PYTHONDONTWRITEBYTECODE=1` is set the worker starts with `-B`. Each case runs
`python [-B] -c "import <module>"` in a fresh process and reads its user + system CPU from the
kernel (`RUSAGE_CHILDREN`), with a private bytecode cache (`PYTHONPYCACHEPREFIX`) so the
environment's own `__pycache__` folders are neither used nor changed:

- no .pyc, -B: every module compiled from source on every start (an environment installed
  without `--compile-bytecode`, workers with -B: nothing is ever cached);
- .pyc present, -B: -B only stops *writing* bytecode, existing .pyc files are still read;
- .pyc present, no -B.
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
from pathlib import Path


def _cpu_of(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(user + system CPU-s, wall s) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--module", default="bridge_pipelines.definitions")
    args = parser.parse_args()
    cache = Path(tempfile.mkdtemp(prefix="bench-pyc-"))
    base = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    base.setdefault("BRIDGE_HOME", str(cache / "home"))
    code = f"import {args.module}"
    try:
        empty = {**base, "PYTHONPYCACHEPREFIX": str(cache / "never-written")}
        warm = {**base, "PYTHONPYCACHEPREFIX": str(cache / "pyc")}
        _cpu_of([sys.executable, "-c", code], warm)  # fills the private cache
        cases = [
            ("no .pyc, python -B", [sys.executable, "-B", "-c", code], empty),
            (".pyc present, python -B", [sys.executable, "-B", "-c", code], warm),
            (".pyc present, python", [sys.executable, "-c", code], warm),
        ]
        print(f"import {args.module}: median of {args.repeat}, CPU-s (user + system) / wall s")
        for label, command, env in cases:
            runs = [_cpu_of(command, env) for _ in range(args.repeat)]
            cpu = statistics.median(r[0] for r in runs)
            wall = statistics.median(r[1] for r in runs)
            print(f"  {label:<26} {cpu:6.2f} CPU-s  {wall:6.2f} s wall")
        written = sum(1 for _ in (cache / "never-written").rglob("*.pyc"))
        print(f"  .pyc written by the -B runs: {written} (-B writes none)")
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} cores, load average {load}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
