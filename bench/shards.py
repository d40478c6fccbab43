"""Many tenants over K code locations: load time, memory, UI response, sensor tick gaps.

`python -m bench shards --tenants 1000 --shards 1 8 [--daemon 180]` writes N tenant files
(bench.defs_load's), then for each K: starts K code servers (`dagster api grpc -m
bridge_pipelines.shards -a shard_<i>_of_<K>`, each its own process) and `dagster-webserver`
against a fresh SQLite instance, and prints
- per location: tenants, seconds from process start to serving, resident memory;
- the webserver's GraphQL time (median and max of --repeat) for what a user opens: one tenant's
  asset group, the global asset lineage, one tenant's asset, the runs list, the automation
  page's sensor list, and reloading one location (what a tenant-file change costs);
- with --daemon S: `dagster-daemon` for S seconds, every tick gap per location (sensors run
  against an unreachable SFTP port and ciphertext no key opens: their ticks fail fast, which
  is the daemon's and the code servers' own overhead, the figure of interest here).
"""

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from bench.daemon import _free_port, _percentile
from bench.defs_load import TENANT, ZONES
from bridge_pipelines.cli.workspace import location_name
from bridge_pipelines.defs.shared_sensors import INTAKE_SENSOR
from bridge_pipelines.tenants.shards import Shard, shard_of

BIN = Path(sys.executable).parent
INSTANCE = """telemetry:
  enabled: false
sensors:
  use_threads: true
  num_workers: 4
"""

Q_GROUP = """query($g: AssetGroupSelector!) { assetNodes(group: $g) {
  id assetKey { path } groupName description isPartitioned
  dependencyKeys { path } dependedByKeys { path } } }"""
Q_LINEAGE = """{ assetNodes { id assetKey { path } groupName
  dependencyKeys { path } dependedByKeys { path } } }"""
Q_ASSET = """query($k: AssetKeyInput!) { assetNodeOrError(assetKey: $k) { ... on AssetNode {
  id description opNames jobNames partitionDefinition { description }
  assetChecksOrError { ... on AssetChecks { checks { name } } }
  assetMaterializations(limit: 1) { runId } } } }"""
Q_RUNS = """{ runsOrError(limit: 25) { ... on Runs { results { runId status jobName tags {
  key value } } } } }"""
Q_SENSORS = """{ workspaceOrError { ... on Workspace { locationEntries { name
  locationOrLoadError { ... on RepositoryLocation { repositories { name
  sensors { id name sensorState { status ticks(limit: 1) { status timestamp } } }
  schedules { id name } } } } } } } }"""
Q_LOCATIONS = """{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus
  locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
Q_RELOAD = """mutation($l: String!) { reloadRepositoryLocation(repositoryLocationName: $l) {
  __typename ... on WorkspaceLocationEntry { loadStatus } } }"""


@dataclass
class Location:
    shard: Shard
    port: int
    proc: subprocess.Popen[bytes]
    started: float
    tenants: int
    ready_s: float = float("nan")
    rss_mb: float = 0.0


@dataclass
class Figures:
    count: int
    locations: list[Location]
    queries: dict[str, list[float]] = field(default_factory=dict)
    gaps: dict[str, list[float]] = field(default_factory=dict)
    ticks: dict[str, int] = field(default_factory=dict)
    intake_gaps: dict[str, list[float]] = field(default_factory=dict)
    sensors: dict[str, int] = field(default_factory=dict)
    ticked: dict[str, int] = field(default_factory=dict)
    daemon_s: float = 0.0


def write_tenants(folder: Path, n: int) -> list[str]:
    ids = []
    for i in range(n):
        tid = f"tenant_{i:04d}"
        (folder / f"{tid}.yaml").write_text(TENANT.format(id=tid, n=i, zone=ZONES[i % len(ZONES)]))
        ids.append(tid)
    return ids


def _graphql(url: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(
        f"{url}/graphql", body, {"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=600) as response:
        answer: dict[str, Any] = json.loads(response.read())
    if answer.get("errors"):
        raise RuntimeError(f"GraphQL errors: {answer['errors']}")
    return answer["data"]


def _tree_rss_mb(pid: int) -> float:
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
        return sum(p.memory_info().rss for p in procs) / 2**20
    except psutil.NoSuchProcess:
        return 0.0


def _create_instance(env: dict[str, str]) -> None:
    import dagster as dg

    saved = dict(os.environ)
    os.environ.update(env)
    try:
        with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
            instance.get_runs_count()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _wait_serving(location: Location, log: Path, timeout: float) -> None:
    from dagster._grpc.client import DagsterGrpcClient

    client = DagsterGrpcClient(port=location.port, host="127.0.0.1")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if location.proc.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"code server {location.shard} exited:\n{tail}")
        try:
            client.ping("")
        except Exception:
            time.sleep(0.2)
            continue
        location.ready_s = time.monotonic() - location.started
        return
    raise RuntimeError(f"code server {location.shard} not serving after {timeout:.0f} s")


@contextmanager
def _processes(procs: list[subprocess.Popen[bytes]]) -> Iterator[None]:
    try:
        yield
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def _timed(repeat: int, call: Callable[[], object]) -> list[float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return times


def run_k(root: Path, ids: list[str], count: int, args: argparse.Namespace) -> Figures:
    """K code servers + webserver (+ daemon) on a fresh instance; every figure of one K."""
    home = root / f"k{count}"
    (home / "dagster_home").mkdir(parents=True)
    (home / "dagster_home" / "dagster.yaml").write_text(INSTANCE)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("BRIDGE_", "DAGSTER_"))},
        "BRIDGE_TENANTS_DIR": str(root / "tenants"),
        "BRIDGE_HOME": str(home / "bridge"),
        "BRIDGE_SENSORS": args.sensors,
        "DAGSTER_HOME": str(home / "dagster_home"),
    }
    logs = home / "logs"
    logs.mkdir()
    _create_instance(env)  # once: K servers creating a fresh SQLite instance at once collide
    sizes: dict[int, int] = defaultdict(int)
    for tenant in ids:
        sizes[shard_of(tenant, count)] += 1
    locations: list[Location] = []
    procs: list[subprocess.Popen[bytes]] = []
    with _processes(procs):
        for index in range(1, count + 1):
            shard, port = Shard(index, count), _free_port()
            log = logs / f"code_{index}.log"
            command = [
                str(BIN / "dagster"),
                "api",
                "grpc",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--module-name",
                "bridge_pipelines.shards",
                "--attribute",
                shard.name,
                "--location-name",
                location_name(shard),
            ]
            with log.open("wb") as out:
                proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
            procs.append(proc)
            locations.append(Location(shard, port, proc, time.monotonic(), sizes[index]))
        for location in locations:
            _wait_serving(location, logs / f"code_{location.shard.index}.log", args.timeout)
        for location in locations:
            location.rss_mb = _tree_rss_mb(location.proc.pid)
        workspace = home / "workspace.yaml"
        workspace.write_text(
            json.dumps(
                {
                    "load_from": [
                        {
                            "grpc_server": {
                                "host": "127.0.0.1",
                                "port": loc.port,
                                "location_name": location_name(loc.shard),
                            }
                        }
                        for loc in locations
                    ]
                }
            )
        )
        web_port = _free_port()
        with (logs / "webserver.log").open("wb") as out:
            procs.append(
                subprocess.Popen(
                    [
                        str(BIN / "dagster-webserver"),
                        "-h",
                        "127.0.0.1",
                        "-p",
                        str(web_port),
                        "-w",
                        str(workspace),
                    ],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )
        url = f"http://127.0.0.1:{web_port}"
        _wait_webserver(url, count, args.timeout, procs[-1], logs / "webserver.log")
        figures = Figures(count, locations)
        _queries(url, ids, count, args.repeat, figures)
        report(figures, len(ids))
        if args.daemon:
            _daemon(home, env, workspace, args.daemon, figures, procs)
            report_ticks(figures)
    return figures


def _wait_webserver(
    url: str, count: int, timeout: float, proc: subprocess.Popen[bytes], log: Path
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"dagster-webserver exited; see {log}")
        try:
            entries = _graphql(url, Q_LOCATIONS)["workspaceOrError"]["locationEntries"]
        except OSError:
            time.sleep(0.5)
            continue
        loaded = [e for e in entries if e["loadStatus"] == "LOADED"]
        errors = [e for e in loaded if e["locationOrLoadError"]["__typename"] == "PythonError"]
        if errors:
            raise RuntimeError(f"locations failed to load: {errors}")
        if len(loaded) == count:
            return
        time.sleep(0.5)
    raise RuntimeError(f"the webserver did not load {count} locations in {timeout:.0f} s")


def _queries(url: str, ids: list[str], count: int, repeat: int, figures: Figures) -> None:
    tenant = ids[len(ids) // 2]
    shard = Shard(shard_of(tenant, count), count)
    group = {
        "groupName": tenant,
        "repositoryName": "__repository__",
        "repositoryLocationName": location_name(shard),
    }
    nodes = _graphql(url, Q_GROUP, {"g": group})["assetNodes"]
    assert nodes, f"no assets in group {tenant}"
    key = {"path": nodes[0]["assetKey"]["path"]}
    q = figures.queries
    q["tenant asset group"] = _timed(repeat, lambda: _graphql(url, Q_GROUP, {"g": group}))
    q["global asset lineage"] = _timed(repeat, lambda: _graphql(url, Q_LINEAGE))
    q["one tenant's asset"] = _timed(repeat, lambda: _graphql(url, Q_ASSET, {"k": key}))
    q["runs list"] = _timed(repeat, lambda: _graphql(url, Q_RUNS))
    q["automation (sensors)"] = _timed(repeat, lambda: _graphql(url, Q_SENSORS))
    name = location_name(shard)
    q["reload one location"] = _timed(repeat, lambda: _graphql(url, Q_RELOAD, {"l": name}))


def _daemon(
    home: Path,
    env: dict[str, str],
    workspace: Path,
    seconds: float,
    figures: Figures,
    procs: list[subprocess.Popen[bytes]],
) -> None:
    import dagster as dg
    from dagster._core.scheduler.instigation import InstigatorType

    with (home / "logs" / "daemon.log").open("wb") as out:
        daemon = subprocess.Popen(
            [str(BIN / "dagster-daemon"), "run", "-w", str(workspace)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    procs.append(daemon)
    start = time.time()
    figures.daemon_s = seconds
    time.sleep(seconds)
    daemon.terminate()
    try:
        daemon.wait(timeout=20)
    except subprocess.TimeoutExpired:  # still finishing sensor ticks: its ticks are stored
        daemon.kill()
        daemon.wait()
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
            states = instance.all_instigator_state(instigator_type=InstigatorType.SENSOR)
            for state in states:
                where = state.origin.repository_origin.code_location_origin.location_name
                ticks = instance.get_ticks(state.instigator_origin_id, state.selector_id)
                stamps = sorted(t.timestamp for t in ticks if t.timestamp >= start)
                figures.ticks[where] = figures.ticks.get(where, 0) + len(stamps)
                figures.sensors[where] = figures.sensors.get(where, 0) + 1
                figures.ticked[where] = figures.ticked.get(where, 0) + bool(stamps)
                figures.gaps.setdefault(where, []).extend(
                    b - a for a, b in itertools.pairwise(stamps)
                )
                if state.instigator_name == INTAKE_SENSOR:
                    figures.intake_gaps[where] = [b - a for a, b in itertools.pairwise(stamps)]
    finally:
        os.environ.clear()
        os.environ.update(saved)


def report(figures: Figures, n_tenants: int) -> None:
    k = figures.count
    print(f"\n--- {n_tenants} tenants, K={k} code location(s) ---")
    print(f"{'location':<34} {'tenants':>7} {'ready s':>8} {'RSS MB':>7}")
    for loc in figures.locations:
        print(
            f"{location_name(loc.shard):<34} {loc.tenants:>7} {loc.ready_s:>8.1f} "
            f"{loc.rss_mb:>7.0f}"
        )
    ready = [loc.ready_s for loc in figures.locations]
    total = sum(loc.rss_mb for loc in figures.locations)
    print(f"all serving after {max(ready):.1f} s; code servers' memory {total:.0f} MB in total")
    print(f"{'GraphQL (webserver)':<24} {'median s':>9} {'max s':>7}")
    for name, times in figures.queries.items():
        print(f"{name:<24} {statistics.median(times):>9.2f} {max(times):>7.2f}")
    sys.stdout.flush()


def report_ticks(figures: Figures) -> None:
    total = sum(figures.ticks.values())
    print(
        f"daemon {figures.daemon_s:.0f} s: {total} sensor ticks "
        f"({total / figures.daemon_s:.1f}/s), "
        f"{sum(figures.ticked.values())} of {sum(figures.sensors.values())} sensors ticked"
    )
    for where, gaps in sorted(figures.gaps.items()):
        ticked = f"{figures.ticked[where]}/{figures.sensors[where]} sensors ticked"
        if gaps:
            print(
                f"  {where}: {figures.ticks[where]} ticks, {ticked}, gaps p50 "
                f"{_percentile(gaps, 50):.1f} s, p95 {_percentile(gaps, 95):.1f} s, "
                f"max {max(gaps):.1f} s"
            )
        else:
            print(f"  {where}: {figures.ticks[where]} ticks, {ticked}, none ticked twice")
        intake = figures.intake_gaps.get(where)
        if intake:
            print(
                f"    {INTAKE_SENSOR} (every tenant of the location): gaps p50 "
                f"{_percentile(intake, 50):.1f} s, max {max(intake):.1f} s"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--shards", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--repeat", type=int, default=5, help="times each query is timed")
    parser.add_argument(
        "--daemon", type=float, default=0, metavar="SECONDS", help="run the daemon this long"
    )
    parser.add_argument("--timeout", type=float, default=1200)
    parser.add_argument(
        "--sensors",
        choices=["per_tenant", "shared"],
        default="per_tenant",
        help="BRIDGE_SENSORS: three sensors per tenant, or three per code location",
    )
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at start")
    with tempfile.TemporaryDirectory(prefix="bench_shards_") as tmp:
        root = Path(tmp)
        (root / "tenants").mkdir()
        ids = write_tenants(root / "tenants", args.tenants)
        for count in args.shards:
            run_k(root, ids, count, args)
            print(f"load average {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
