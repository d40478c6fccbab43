"""Time to load the Dagster definitions of N tenants, as the code server does at start-up.

Writes N tenant files, then in a fresh interpreter: import, `load_tenants`, `build_defs`, and
resolving the repository (what `dagster dev` / the code server does before serving).
"""

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

TENANT = """id: {id}
name: Tenant {n}
timezone: {zone}
sftp:
  host: 127.0.0.1
  port: 2222
  username: t{n}
  host_key: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl
  password: enc:v1:k1:QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB
"""
ERP = """erp:
  kind: syspro
  base_url: http://127.0.0.1:1/SYSPROWCFService/Rest
  company: DEMO
  username: BRIDGE
  password: enc:v1:k1:QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB
"""
ZONES = ["UTC", "America/Chicago", "Europe/Berlin", "Asia/Tokyo", "America/New_York"]

PROBE = """
import time, os
t0 = time.perf_counter()
import dagster as dg
from bridge_pipelines.defs import build_defs
from bridge_pipelines.tenants.loader import load_tenants
t1 = time.perf_counter()
tenants = load_tenants()
t2 = time.perf_counter()
defs = build_defs(tenants)
repo = defs.get_repository_def()
repo.get_all_jobs(); repo.asset_graph.get_all_asset_keys()
t3 = time.perf_counter()
n_assets = len(repo.asset_graph.get_all_asset_keys())
print(f"{t1-t0:.2f} {t2-t1:.2f} {t3-t2:.2f} {n_assets} {len(list(repo.sensor_defs))} "
      f"{len(list(repo.schedule_defs))} {len(repo.get_all_jobs())}")
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument(
        "--erp",
        action="store_true",
        help="Give every tenant a SYSPRO ERP: master-data assets, postings and a schedule each.",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for n in range(args.tenants):
            tid = f"tenant_{n:04d}"
            (folder / f"{tid}.yaml").write_text(
                TENANT.format(id=tid, n=n, zone=ZONES[n % len(ZONES)]) + (ERP if args.erp else "")
            )
        env = {"BRIDGE_TENANTS_DIR": str(folder), "PATH": "/usr/bin:/bin"}
        out = subprocess.run(
            [sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, check=True
        ).stdout.split()
    imports, load, build, assets, sensors, schedules, jobs = (
        float(out[0]),
        float(out[1]),
        float(out[2]),
        out[3],
        out[4],
        out[5],
        out[6],
    )
    print(
        f"tenants: {args.tenants}  assets: {assets}  sensors: {sensors}  "
        f"schedules: {schedules}  jobs: {jobs}"
    )
    print(f"import dagster + bridge_pipelines: {imports:6.2f} s")
    print(f"load + validate tenant files:      {load:6.2f} s")
    print(f"build + resolve definitions:       {build:6.2f} s")
    print(f"total definitions load:            {imports + load + build:6.2f} s")


if __name__ == "__main__":
    main()
