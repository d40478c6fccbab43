"""`python -m bench`: every benchmark in turn, each printing its own figures."""

import subprocess
import sys

BENCHES = [
    "parse",
    "sftp_download",
    "listing",
    "defs_load",
    "posting_throughput",
    "sapb1_posting",
    "sapb1_sessions",
    "e2e_latency",
]


def main() -> int:
    names = sys.argv[1:] or BENCHES
    failed = 0
    for name in names:
        print(f"\n=== bench.{name} ===", flush=True)
        failed += subprocess.call([sys.executable, "-m", f"bench.{name}"]) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
