"""Scale-out on Celery: two workers, one SIGKILLed mid-posting, every invoice posted once.

As separate processes: a PostgreSQL Dagster instance (a fresh database) with the product's
Celery run launcher (`deploy/dagster-celery.yaml`, its own queue on the RabbitMQ at
127.0.0.1:5672 so parallel sessions' workers take nothing), a PostgreSQL ledger, the SYSPRO and
SAP Business One sandboxes, SFTP, `dagster-daemon run` with a gRPC code server, and two
`dagster-celery worker start` processes of one run at a time each, each its own process group.

SYSPRO is told to commit the first invoice and then not answer, so its run waits on the
wire with the document already in the ERP; the worker holding that run is then SIGKILLed
with its whole process group, as a machine dies. The run must be failed by run monitoring
(the launcher's health check finds the worker gone), the tenant's slot freed, the invoice
re-requested and handled by the surviving worker without a second document (the ledger's
lookup before resend), the tenant's later file posted too, and no two runs of one tenant
ever started at once across the two workers.
"""

import itertools
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from dagster import DagsterRunStatus

from bench import daemon
from bench.posting_throughput import stampli_csv
from bench.sapb1_common import known_codes as sap_b1_codes
from bridge_pipelines.sandbox.faultworld.world import expire_leases
from bridge_pipelines_tests.support.services import require_or_skip

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.faults,
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.timeout(900),
]

RABBITMQ = ("127.0.0.1", 5672)
TENANT_FIELD = "bridge/tenant"
# Generous: a loaded 2-core machine (five sessions) starts the processes in minutes.
STEP_TIMEOUT_S = 420.0
T = TypeVar("T")
NUMBER_FIELD = {"syspro": "Invoice", "sap_b1": "NumAtCard"}  # as bench.daemon.PostedReader
ACTIVE = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
]


def _rabbitmq_reachable() -> bool:
    try:
        with socket.create_connection(RABBITMQ, timeout=3):
            return True
    except OSError:
        return False


def _wait(what: str, probe: Callable[[], T | None], timeout: float = STEP_TIMEOUT_S) -> T:
    """Poll `probe` until it returns something, or fail saying what did not happen."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(1)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")


@dataclass
class Cluster:
    """The world, the daemon, the two workers and a handle on the instance."""

    world: daemon.World
    dagster: daemon.Dagster
    workers: list[daemon.CeleryWorker]
    instance: Any


@pytest.fixture
def cluster(pg_url: str, tmp_path: Path) -> Iterator[Cluster]:
    require_or_skip(_rabbitmq_reachable(), "RabbitMQ not reachable at 127.0.0.1:5672")
    world = daemon.build_world(
        tmp_path,
        2,  # t0000 posts into SYSPRO, t0001 into SAP Business One
        tenants_per_sftp=25,
        settle=None,
        interval=None,
        instance="postgres",
        max_runs=None,
        launcher="celery",
    )
    workers: list[daemon.CeleryWorker] = []
    dagster = None
    try:
        config_path = tmp_path / "dagster_home" / "dagster.yaml"
        config = yaml.safe_load(config_path.read_text())
        config["run_monitoring"]["poll_interval_seconds"] = 5  # the deploy's 60 s, sooner
        config_path.write_text(yaml.safe_dump(config))
        workers = daemon.start_celery_workers(world, 2, None, "env")
        dagster = daemon.start_dagster(world, "grpc", daemon.CpuSampler(), "env")
        with daemon.dagster_instance(world) as instance:
            daemon.wait_until_ticking(instance, len(world.tenants), dagster)
            daemon.wait_celery_workers(workers)
            yield Cluster(world, dagster, workers, instance)
    finally:
        if dagster is not None:
            daemon.stop_dagster(dagster, daemon.CpuSampler())
        daemon.stop_celery_workers(workers, world.env.get("BRIDGE_CELERY_QUEUE"))
        daemon.stop_world(world)


def _drop(tenant: daemon.Tenant, k: int) -> str:
    """File `k` of the tenant (one invoice) into its SFTP folder; returns the invoice number."""
    codes = sap_b1_codes() if tenant.erp == "sap_b1" else None
    data = stampli_csv(
        1, seed=tenant.index * 10_000 + k, first=k, run=f"{tenant.index:04d}", codes=codes
    )
    (tenant.invoices_dir / f"approved_invoices_20261206_{k:04d}.csv").write_bytes(data)
    return data.decode().splitlines()[1].split(",")[1]


def _documents(cluster: Cluster) -> dict[str, list[dict[str, Any]]]:
    """The sandboxes' own AP documents, by the invoice number Stampli gave."""
    out: dict[str, list[dict[str, Any]]] = {}
    for kind, sandbox in cluster.world.sandboxes.items():
        for row in sandbox.admin.documents():
            out.setdefault(str(row[NUMBER_FIELD[kind]]), []).append(row)
    return out


def _references(cluster: Cluster) -> Counter[str]:
    """How many documents each of our external references names, in every sandbox."""
    return Counter(
        doc.reference
        for kind, sandbox in cluster.world.sandboxes.items()
        for doc in daemon._profile(kind).documents(sandbox.admin.documents())
    )


def _runs(cluster: Cluster, tenant: str) -> list[Any]:
    import dagster as dg

    return list(
        cluster.instance.get_run_records(filters=dg.RunsFilter(tags={TENANT_FIELD: tenant}))
    )


def _run_pid(cluster: Cluster, run_id: str) -> int | None:
    """The process that executes the run (Dagster's "Started process for run (pid: N)")."""
    import dagster as dg

    for record in cluster.instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ENGINE_EVENT
    ).records:
        found = re.search(r"Started process for run \(pid: (\d+)\)", record.event_log_entry.message)
        if found:
            return int(found.group(1))
    return None


def _worker_of(cluster: Cluster, pid: int) -> daemon.CeleryWorker:
    group = os.getpgid(pid)
    (worker,) = [w for w in cluster.workers if w.proc.pid == group]
    return worker


def _verify(cluster: Cluster, tenant: str) -> subprocess.CompletedProcess[str]:
    env = daemon.product_env(cluster.world, "env")
    return subprocess.run(
        [str(Path(sys.executable).parent / "bridge"), "verify", tenant],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_worker_killed_mid_posting_loses_nothing_and_posts_nothing_twice(
    cluster: Cluster,
) -> None:
    import dagster as dg

    syspro_tenant, b1_tenant = cluster.world.tenants
    syspro = cluster.world.sandboxes["syspro"]
    # The first posting is committed in SYSPRO, then the answer never comes (until the kill).
    syspro.admin.arm_fault(
        "hang_after_commit", count=1, seconds=600, **daemon._profile("syspro").write_match
    )
    first = _drop(syspro_tenant, 1)
    other = _drop(b1_tenant, 1)

    _wait(f"{first} committed in SYSPRO", lambda: first in _documents(cluster))
    started = _wait(
        f"the run of {syspro_tenant.id} started, with its process",
        lambda: [
            (r.dagster_run.run_id, pid)
            for r in _runs(cluster, syspro_tenant.id)
            if r.dagster_run.status == dg.DagsterRunStatus.STARTED
            and (pid := _run_pid(cluster, r.dagster_run.run_id))
        ],
    )
    (killed_run, pid), *_ = started
    victim = _worker_of(cluster, pid)
    (survivor,) = [w for w in cluster.workers if w is not victim]
    # A later file of the same tenant: its run must wait for the dead one to be failed,
    # although the surviving worker is free.
    later = _drop(syspro_tenant, 2)
    killed_at = time.time()
    os.killpg(victim.proc.pid, signal.SIGKILL)
    victim.proc.wait(timeout=60)
    syspro.admin.clear_faults()

    failed = _wait(
        "run monitoring fails the dead worker's run",
        lambda: (
            (run := cluster.instance.get_run_by_id(killed_run))
            and run.status == dg.DagsterRunStatus.FAILURE
            and run
        ),
    )
    assert failed
    # Time passes: the dead run's ledger leases (5 min) run out, so its postings may resume.
    expire_leases(cluster.world.env["BRIDGE_LEDGER_URL"], syspro_tenant.id)

    expected = [first, later, other]
    _wait(
        "every invoice posted, no run active",
        lambda: (
            all(n in _documents(cluster) for n in expected)
            and not cluster.instance.get_runs_count(dg.RunsFilter(statuses=ACTIVE))
        ),
    )

    # Exactly once, in the ERPs' own books, by our external reference.
    documents = _documents(cluster)
    for number in expected:
        assert len(documents[number]) == 1, (number, documents[number])
    references = _references(cluster)
    assert len(references) == len(expected) and set(references.values()) == {1}, references
    for tenant in (syspro_tenant.id, b1_tenant.id):
        verified = _verify(cluster, tenant)
        assert verified.returncode == 0, verified.stdout + verified.stderr

    # The killed run failed because its worker was gone; the survivor ran what followed.
    failure = [
        r.event_log_entry.message
        for r in cluster.instance.get_records_for_run(
            killed_run, of_type=dg.DagsterEventType.RUN_FAILURE
        ).records
    ]
    assert any("Celery" in m for m in failure), failure
    runs = _runs(cluster, syspro_tenant.id)
    after = [r for r in runs if r.create_timestamp.timestamp() > killed_at]
    assert after and all(r.dagster_run.status == dg.DagsterRunStatus.SUCCESS for r in after)
    for record in after:
        pid_after = _run_pid(cluster, record.dagster_run.run_id)
        assert pid_after is not None and _worker_of(cluster, pid_after) is survivor

    # One run per tenant at a time, across both workers.
    for tenant in (syspro_tenant.id, b1_tenant.id):
        spans = sorted((r.start_time, r.end_time) for r in _runs(cluster, tenant) if r.start_time)
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert end is not None and end <= start, spans
