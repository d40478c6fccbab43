"""`bridge sandbox up`: the demo's sandboxes on their own (SFTP, Stampli simulators, ERPs)."""

import signal
import time
from pathlib import Path

import click


@click.group(name="sandbox")
def group() -> None:
    """The sandboxes the demo and the tests run on."""


@group.command()
@click.option("--home", type=click.Path(path_type=Path), default=Path(".demo"), show_default=True)
@click.option(
    "--sftp-port-base",
    type=int,
    default=2222,
    show_default=True,
    help="First SFTP port (one per demo tenant); 0 picks free ports.",
)
@click.option(
    "--cadence",
    type=float,
    default=60.0,
    show_default=True,
    help="Seconds between simulated Stampli exports.",
)
def up(home: Path, sftp_port_base: int, cadence: float) -> None:
    """Start the demo tenants' SFTP servers, Stampli simulators and ERP sandboxes until Ctrl-C.

    The ERP sandboxes are SYSPRO (acme), the SAP Business One Service Layer (globex), Infor M3
    behind the ION API Gateway (initech) and Acumatica (summit), with their state under
    HOME/erp/<kind>. Tenant files pinned to these servers are written to HOME/tenants, so a
    Dagster started with BRIDGE_TENANTS_DIR pointing there (and BRIDGE_HOME=HOME) picks the
    files up.
    """
    from bridge_pipelines.demo.environment import DEMO_TENANTS, start_demo

    ports = {
        s.id: (sftp_port_base + i if sftp_port_base else 0) for i, s in enumerate(DEMO_TENANTS)
    }
    environment = start_demo(home, ports=ports)
    # A plain `kill` must not orphan the ERP sandbox processes: stop them as Ctrl-C does.
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        environment.seed_files()
        environment.start_cadence(cadence)
        for tenant in environment.tenants:
            click.echo(
                f"{tenant.spec.id}: sftp://stampli@127.0.0.1:{tenant.server.port} "
                f"host key {tenant.server.host_key_line.split()[0]} (root {tenant.root}), "
                f"ERP {tenant.spec.erp}"
            )
        for line in environment.erp_lines():
            click.echo(line)
        click.echo(f"tenant files: {environment.tenants_dir}  (Ctrl-C to stop)")
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        click.echo("stopping")
    finally:
        environment.stop()


def _raise_keyboard_interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt
