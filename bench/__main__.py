"""`python -m bench`: every benchmark in turn, each printing its own figures.

`python -m bench soak --invoices 200 --tenants 2` runs the named benchmarks only; options after
a name go to that benchmark.
"""

import subprocess
import sys

BENCHES = [
    "single_file",
    "parse",
    "hostile_parse",
    "sftp_download",
    "listing",
    "sensor_cost",
    "defs_load",
    "shards",
    "posting_throughput",
    "sapb1_posting",
    "sapb1_sessions",
    "infor_posting",
    "acumatica_posting",
    "e2e_latency",
    "payment_judging",
    "partner_export",
    "import_cost",
    "daemon",
    "soak",
]


def main() -> int:
    runs: list[list[str]] = []
    for arg in sys.argv[1:]:
        if runs and arg not in BENCHES:
            runs[-1].append(arg)  # an option (or its value) of the benchmark named before
        else:
            runs.append([arg])
    runs = runs or [[name] for name in BENCHES]
    failed = 0
    for name, *options in runs:
        print(f"\n=== bench.{name} ===", flush=True)
        failed += subprocess.call([sys.executable, "-m", f"bench.{name}", *options]) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
