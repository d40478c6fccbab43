"""`bridge workspace --shards K`: the Dagster workspace file for K code locations of tenants.

One location building every tenant's definitions is slow past a few hundred tenants (issue
19); K locations, each its own process, each load about 1/K of them (`tenants.shards`).
"""

import shlex
import sys
from pathlib import Path
from typing import Any

import click
import yaml

from bridge_pipelines.settings import get_settings
from bridge_pipelines.tenants.loader import tenant_files
from bridge_pipelines.tenants.shards import MAX_SHARDS, Shard, assign

LOCATION = "bridge_pipelines"
SHARDS_MODULE = "bridge_pipelines.shards"


def location_name(shard: Shard) -> str:
    """`bridge_pipelines` for a single location, else `bridge_pipelines_shard_3_of_8`."""
    return LOCATION if shard.count == 1 else f"{LOCATION}_{shard.name}"


def _grpc_address(grpc: str, shard: Shard) -> tuple[str, int]:
    """`host:port` -> shard i at port+i-1; `code-location-{i}:4000` -> one host per shard."""
    host, _, port = grpc.rpartition(":")
    if not host or not port.isdigit():
        raise click.BadParameter(f"{grpc!r}: expected HOST:PORT, e.g. localhost:4000")
    if "{i}" in host:
        return host.replace("{i}", str(shard.index)), int(port)
    return host, int(port) + shard.index - 1


def workspace_document(count: int, grpc: str | None = None) -> dict[str, Any]:
    """The workspace file's content: one `python_module` (or `grpc_server`) entry per shard."""
    entries: list[dict[str, Any]] = []
    for index in range(1, count + 1):
        shard = Shard(index, count)
        if grpc is not None:
            host, port = _grpc_address(grpc, shard)
            entries.append(
                {"grpc_server": {"host": host, "port": port, "location_name": location_name(shard)}}
            )
        elif count == 1:
            entries.append(
                {
                    "python_module": {
                        "module_name": f"{LOCATION}.definitions",
                        "location_name": LOCATION,
                    }
                }
            )
        else:
            entries.append(
                {
                    "python_module": {
                        "module_name": SHARDS_MODULE,
                        "attribute": shard.name,
                        "location_name": location_name(shard),
                    }
                }
            )
    return {"load_from": entries}


def code_server_command(shard: Shard, port: int, host: str = "127.0.0.1") -> list[str]:
    """The `dagster code-server start` command line that serves `shard` on `port`."""
    return [
        "dagster",
        "code-server",
        "start",
        "--host",
        host,
        "--port",
        str(port),
        "--module-name",
        SHARDS_MODULE,
        "--attribute",
        shard.name,
        "--location-name",
        location_name(shard),
    ]


@click.command(name="workspace")
@click.option(
    "--shards",
    "count",
    type=click.IntRange(1, MAX_SHARDS),
    required=True,
    help="Number of code locations; each loads the tenants that hash to it.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the workspace file here (default: standard output).",
)
@click.option(
    "--grpc",
    default=None,
    metavar="HOST:PORT",
    help="Point at long-lived code servers instead: shard i at PORT+i-1 on HOST, or at "
    "PORT on HOST with {i} replaced (e.g. 'code-location-{i}:4000'). Prints their commands.",
)
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Tenants folder to count per shard (default: BRIDGE_TENANTS_DIR, else ./tenants).",
)
def workspace(count: int, out: Path | None, grpc: str | None, directory: Path | None) -> None:
    """Write the Dagster workspace for K code locations, each serving a shard of the tenants.

    Without --grpc, `python_module` entries: `dagster dev` or `dagster-daemon` start one
    process per location. Tenants are assigned by a hash of their id (a tenant file's name),
    so adding tenants never moves the others, and growing K moves about 1/(K+1) of them.
    """
    document = workspace_document(count, grpc)
    header = (
        f"# {count} code location(s) of bridge_pipelines, written by `bridge workspace "
        f"--shards {count}{' --grpc ' + grpc if grpc else ''}`. Each loads the tenants\n"
        "# whose id hashes to its shard (bridge_pipelines/tenants/shards.py).\n"
    )
    text = header + yaml.safe_dump(document, sort_keys=False)
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text)
    folder = directory if directory is not None else get_settings().tenants_dir
    stems = [path.stem for path in tenant_files(folder)]
    sizes = assign(stems, count)
    click.echo(
        f"{len(stems)} tenant file(s) in {folder}: "
        + ", ".join(f"shard {i}: {len(ids)}" for i, ids in sizes.items()),
        err=True,
    )
    if grpc is not None:
        click.echo("start each code server (same environment as the daemon's runs):", err=True)
        for index in range(1, count + 1):
            shard = Shard(index, count)
            host, port = _grpc_address(grpc, shard)
            # One host per shard (a container or pod): listen on every interface of it.
            listen = "0.0.0.0" if "{i}" in grpc else host  # noqa: S104
            command = code_server_command(shard, port, host=listen)
            click.echo("  " + shlex.join(command), err=True)
    if out is not None:
        click.echo(f"wrote {out}", err=True)
    sys.stdout.flush()
