"""CPU cost of one evaluation of each sensor body for idle tenants, in-process.

`python -m bench sensor_cost [--tenants 5] [--ticks 20] [--sensors per_tenant|shared]
[--profile alerts]`: builds the tenants' definitions as the tests do (embedded SFTP server, SQLite
ledger, a temporary Dagster instance), evaluates every sensor `--ticks` times with
`dg.build_sensor_context`, and prints CPU-ms per evaluation and per tenant. `--profile NAME` adds
the top of a CPU cProfile of the sensors so named. This is the sensor bodies only: the daemon's own
cost per tick (state read, gRPC call, tick record) is what `bench daemon` measures.
"""

import argparse
import cProfile
import os
import pstats
import tempfile
import time
from pathlib import Path

import dagster as dg

from bridge_pipelines.defs import build_defs
from bridge_pipelines.defs.resources import BridgeResource
from bridge_pipelines.sandbox.sftp_server import EmbeddedSftpServer
from bridge_pipelines.settings import Settings
from bridge_pipelines.tenants.models import TenantConfig
from bridge_pipelines.tenants.secrets import Keyring

PASSWORD = "bench-password"


def _tenants(n: int, port: int, host_key: str, keyring: Keyring) -> list[TenantConfig]:
    return [
        TenantConfig.model_validate(
            {
                "id": f"t{i:03d}",
                "name": f"Tenant {i}",
                "timezone": "America/Chicago",
                "sftp": {
                    "host": "127.0.0.1",
                    "port": port,
                    "username": "stampli",
                    "host_key": host_key,
                    "password": keyring.encrypt(f"t{i:03d}", "sftp.password", PASSWORD),
                    "settle_seconds": 0.5,
                    "connect_timeout_s": 2,
                },
                "erp": {
                    "kind": "syspro",
                    "base_url": "http://127.0.0.1:9/SYSPROWCFService/Rest",
                    "company": "EDU1",
                    "username": "ADMIN",
                    "password": keyring.encrypt(f"t{i:03d}", "erp.password", "x"),
                },
            }
        )
        for i in range(n)
    ]


def _evaluate(
    defs: dg.Definitions, instance: dg.DagsterInstance, name: str, cursor: str | None
) -> str | None:
    sensor = defs.resolve_sensor_def(name)
    with dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        sensor_name=name,
        definitions=defs,
        resources={"bridge": BridgeResource()},
    ) as context:
        data = sensor.evaluate_tick(context)
    return data.cursor


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tenants", type=int, default=5)
    parser.add_argument("--ticks", type=int, default=20)
    parser.add_argument("--sensors", choices=["per_tenant", "shared"], default="per_tenant")
    parser.add_argument("--profile", default="", help="cProfile the sensors whose name has this")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-sensor-") as tmp:
        root = Path(tmp)
        os.environ.update(
            {
                "BRIDGE_HOME": str(root / "home"),
                "BRIDGE_MAPPINGS_DIR": str(root / "mappings"),
                "BRIDGE_SENSORS": args.sensors,
            }
        )
        os.environ.pop("BRIDGE_LEDGER_URL", None)
        os.environ.pop("BRIDGE_MASTER_KEYS", None)
        (root / "home").mkdir()
        keyring = Keyring.generate(Settings().resolved_key_file)
        server = EmbeddedSftpServer(
            root / "sftp", users={"stampli": PASSWORD}, host_key_path=root / "hk"
        )
        server.start()
        try:
            tenants = _tenants(args.tenants, server.port, server.host_key_line, keyring)
            defs = build_defs(tenants)
            names = [s.name for s in defs.sensors if s.name != "bridge_run_failure_alerts"]
            with dg.instance_for_test() as instance:
                cursors: dict[str, str | None] = {n: None for n in names}
                for name in names:  # warm: pool connections, ledger migration
                    cursors[name] = _evaluate(defs, instance, name, cursors[name])
                by_kind: dict[str, float] = {}
                profile = cProfile.Profile(
                    time.process_time
                )  # CPU, not wall (the machine is loaded)
                for name in names:
                    kind = name.split("_", 1)[1] if args.sensors == "per_tenant" else name
                    start = time.process_time()
                    for _ in range(args.ticks):
                        if args.profile and args.profile in name:
                            profile.enable()
                        cursors[name] = _evaluate(defs, instance, name, None)
                        profile.disable()
                    by_kind[kind] = by_kind.get(kind, 0.0) + time.process_time() - start
            print(
                f"{args.tenants} idle tenants, {args.ticks} evaluations each, "
                f"layout {args.sensors}; load average {os.getloadavg()[0]:.1f}"
            )
            for kind, cpu in sorted(by_kind.items()):
                per_tenant_ms = cpu / args.ticks / args.tenants * 1000
                print(f"  {kind:<28} {per_tenant_ms:7.1f} CPU-ms per tenant per evaluation")
            if args.profile:
                stats = pstats.Stats(profile)
                stats.sort_stats("cumulative").print_stats(25)
        finally:
            BridgeResource().intake().pool.close_all()
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
