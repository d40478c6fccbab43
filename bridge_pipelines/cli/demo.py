"""`bridge demo`: the product on its embedded sandboxes, in the Dagster UI or headless."""

import errno
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from bridge_pipelines.demo.environment import DemoEnvironment

DEFAULT_HOME = Path(".demo")


@click.command()
@click.option("--once", is_flag=True, help="Run one headless cycle, print a summary, exit.")
@click.option("--home", type=click.Path(path_type=Path), default=DEFAULT_HOME, show_default=True)
@click.option("--fresh", is_flag=True, help="Start from an empty demo folder.")
@click.option("--port", type=int, default=3000, show_default=True, help="Dagster UI port.")
@click.option(
    "--cadence",
    type=float,
    default=60.0,
    show_default=True,
    help="Seconds between simulated Stampli exports.",
)
@click.option(
    "--sftp-port-base",
    type=int,
    default=2222,
    show_default=True,
    help="First demo SFTP port (one per tenant); 0 picks free ports.",
)
@click.option(
    "--instance-config",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    default=None,
    help="Dagster instance YAML (default: the repo's dagster.yaml, "
    "SQLite); deploy/dagster.yaml runs on PostgreSQL via DAGSTER_PG_URL.",
)
@click.option(
    "--timeout",
    type=float,
    default=120.0,
    show_default=True,
    help="With --once: give up after this many seconds.",
)
def demo(
    once: bool,
    home: Path,
    fresh: bool,
    port: int,
    cadence: float,
    sftp_port_base: int,
    instance_config: Path | None,
    timeout: float,
) -> None:
    """Run the demo: SFTP servers, Stampli simulators and ERP sandboxes, then Dagster on top.

    Three tenants on three ERPs: acme posts into the SYSPRO sandbox, globex into the SAP Business
    One sandbox, initech into the Infor M3 sandbox (ION API). Without --once this starts the Dagster
    UI (webserver + daemon) on http://127.0.0.1:PORT; the sensors pick files up, the runs parse,
    record and post them.
    Ctrl-C stops everything.
    """
    from bridge_pipelines.demo.environment import DEMO_TENANTS, REPO_ROOT, start_demo

    ports = {
        spec.id: (sftp_port_base + i if sftp_port_base else 0)
        for i, spec in enumerate(DEMO_TENANTS)
    }
    taken = [(f"SFTP ({tenant})", p, "SFTP_PORT") for tenant, p in ports.items() if p]
    if not once:
        taken.append(("Dagster UI", port, "UI_PORT"))
    for what, number, variable in taken:
        if not _port_free(number):
            raise click.ClickException(
                f"port {number} for the demo's {what} is taken on 127.0.0.1: choose another, "
                f"`make demo {variable}=<port>` (or --port / --sftp-port-base; "
                "SFTP_PORT=0 picks free SFTP ports)"
            )
    environment = start_demo(
        home, fresh=fresh or once, ports=ports, instance_config=instance_config
    )
    try:
        environment.seed_files()
        if once:
            sys.exit(_run_once(environment, timeout))
        environment.start_cadence(cadence)
        _master_data_first(environment)
        for tenant in environment.tenants:
            click.echo(
                f"tenant {tenant.spec.id}: Stampli SFTP on 127.0.0.1:{tenant.server.port} "
                f"(files under {tenant.root}), ERP {tenant.spec.erp}"
            )
        for line in environment.erp_lines():
            click.echo(line)
        click.echo(f"Dagster UI: http://127.0.0.1:{port}  (Ctrl-C to stop)")
        env = {**os.environ, **environment.env()}
        command = [
            sys.executable,
            "-m",
            "dagster",
            "dev",
            "-w",
            str(REPO_ROOT / "workspace.yaml"),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ]
        # Its own process group: at stop, whatever dagster dev started (webserver, daemon,
        # code servers and their workers) is ended together, none left orphaned.
        process = subprocess.Popen(command, env=env, cwd=REPO_ROOT, start_new_session=True)
        signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
        try:
            process.wait()
        except KeyboardInterrupt:
            click.echo("stopping: Dagster, then the sandboxes ...", err=True)
        finally:
            _stop_group(process)
    finally:
        environment.stop()


def _port_free(port: int) -> bool:
    """True when nothing listens on 127.0.0.1:`port` (a bind test, closed at once)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is free
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            return exc.errno != errno.EADDRINUSE
    return True


STOP_GRACE_S = 5.0


def _master_data_first(environment: "DemoEnvironment") -> None:
    """ERP master data and the mapping materialized before the UI opens (lineage complete)."""
    import dagster as dg

    from bridge_pipelines.demo.cycle import materialize_master_data
    from bridge_pipelines.tenants.loader import inspect_tenants

    os.environ.update(environment.env())
    tenants = inspect_tenants(environment.tenants_dir).tenants
    with dg.DagsterInstance.get() as instance:
        for tenant_id, ok in materialize_master_data(tenants, instance).items():
            if not ok:
                click.echo(f"tenant {tenant_id}: ERP master data export failed (see the UI)")


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to dagster dev's whole group, then SIGKILL to what is left after a grace."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut this short
    for signum in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, signum)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + STOP_GRACE_S
        while time.monotonic() < deadline and _group_alive(process.pid):
            process.poll()
            time.sleep(0.2)
        if not _group_alive(process.pid):
            break
    process.poll()


def _group_alive(pgid: int) -> bool:
    """Whether any process of the group still runs (zombies of ours excepted)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _raise_keyboard_interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _run_once(environment: "DemoEnvironment", timeout: float) -> int:
    import dagster as dg

    from bridge_pipelines.demo.cycle import run_cycle
    from bridge_pipelines.intake.runtime import Runtime
    from bridge_pipelines.tenants.loader import inspect_tenants

    started = time.monotonic()
    # A tenant file that does not load stops only its tenant, as in the code location.
    check = inspect_tenants(environment.tenants_dir)
    ledger = Runtime.from_env().ledger
    with dg.DagsterInstance.get() as instance:
        summaries = run_cycle(
            check.tenants,
            ledger,
            instance=instance,
            timeout_s=timeout,
            problems=check.problems,
            clerk=environment.pay_in_erps,
        )
    for summary in summaries:
        for line in summary.lines():
            click.echo(line)
    for problem in check.problems:
        click.echo(f"tenant file does not load (its tenant is stopped): {problem}")
    ok = all(s.ok for s in summaries) and not check.problems
    click.echo(f"demo cycle {'OK' if ok else 'FAILED'} in {time.monotonic() - started:.1f} s")
    return 0 if ok else 1
