"""`bridge workspace --shards K`: the Dagster workspace file for K code locations of tenants.

One location building every tenant's definitions is slow past a few hundred tenants (issue
19); K locations, each its own process, each load about 1/K of them (`tenants.shards`).
"""

import copy
import shlex
import sys
from pathlib import Path
from typing import Any

import click
import yaml

from bridge_pipelines.settings import get_settings
from bridge_pipelines.tenants.loader import tenant_files
from bridge_pipelines.tenants.shards import MAX_SHARDS, Shard, assign, shard_of

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


COMPOSE_SERVICE = "code-location"
COMPOSE_PORT = 4000
HELM_DEPLOYMENT = "bridge-pipelines"


def compose_service(shard: Shard) -> str:
    """Shard 1 is the base file's `code-location` service; shard i > 1 `code-location-<i>`."""
    return COMPOSE_SERVICE if shard.index == 1 else f"{COMPOSE_SERVICE}-{shard.index}"


def deploy_documents(count: int, helm_values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The deploy kit's files for K shards, by path under `deploy/`.

    - `workspace.shards.yaml`: the webserver's and the daemon's workspace, one `grpc_server`
      per shard service;
    - `docker-compose.shards.yaml`, an override of `docker-compose.yaml`: shard 1 is its
      `code-location` service, serving `-a shard_1_of_K`; shards 2..K copy it (`extends`);
      the webserver and the daemon mount the shards' workspace and wait for every shard;
    - `helm/values-shards.yaml`, on top of `helm/values.yaml`: K user deployments, each a copy
      of the base one serving its shard (Helm replaces the whole `deployments` list).
    """
    shards = [Shard(index, count) for index in range(1, count + 1)]
    workspace = {
        "load_from": [
            {
                "grpc_server": {
                    "host": compose_service(shard),
                    "port": COMPOSE_PORT,
                    "location_name": location_name(shard),
                }
            }
            for shard in shards
        ]
    }
    services: dict[str, Any] = {}
    for shard in shards:
        command = code_server_command(shard, COMPOSE_PORT, host="0.0.0.0")  # noqa: S104
        service: dict[str, Any] = {"command": [*command, "--log-format", "json"]}
        if shard.index > 1:
            service = {
                "extends": {"file": "docker-compose.yaml", "service": COMPOSE_SERVICE},
                **service,
            }
        services[compose_service(shard)] = service
    waits = {compose_service(shard): {"condition": "service_healthy"} for shard in shards}
    mount = ["./workspace.shards.yaml:/opt/dagster/workspace.yaml:ro"]
    for name in ("webserver", "daemon"):
        services[name] = {"volumes": list(mount), "depends_on": copy.deepcopy(waits)}
    (template,) = helm_values["dagster-user-deployments"]["deployments"]
    deployments = []
    for shard in shards:
        deployment = copy.deepcopy(template)
        deployment["name"] = f"{HELM_DEPLOYMENT}-{shard.name.replace('_', '-')}"
        deployment["codeServerArgs"] = [
            "--module-name",
            SHARDS_MODULE,
            "--attribute",
            shard.name,
        ]
        deployments.append(deployment)
    return {
        "workspace.shards.yaml": workspace,
        "docker-compose.shards.yaml": {"services": services},
        "helm/values-shards.yaml": {"dagster-user-deployments": {"deployments": deployments}},
    }


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
    "--deploy",
    "deploy_dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="Also write the deploy kit's shard files into this folder (the kit's deploy/): "
    "workspace.shards.yaml, docker-compose.shards.yaml, helm/values-shards.yaml.",
)
@click.option(
    "--which",
    "tenant_id",
    default=None,
    metavar="TENANT",
    help="Only print the shard and location that serve this tenant (to restart after editing "
    "its file).",
)
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Tenants folder to count per shard (default: BRIDGE_TENANTS_DIR, else ./tenants).",
)
def workspace(
    count: int,
    out: Path | None,
    grpc: str | None,
    deploy_dir: Path | None,
    tenant_id: str | None,
    directory: Path | None,
) -> None:
    """Write the Dagster workspace for K code locations, each serving a shard of the tenants.

    Without --grpc, `python_module` entries: `dagster dev` or `dagster-daemon` start one
    process per location. Tenants are assigned by a hash of their id (a tenant file's name),
    so adding tenants never moves the others, and growing K moves about 1/(K+1) of them.
    """
    if tenant_id is not None:
        shard = Shard(shard_of(tenant_id, count), count)
        click.echo(f"{tenant_id}: shard {shard}, location {location_name(shard)}")
        return
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
    if deploy_dir is not None:
        values = yaml.safe_load((deploy_dir / "helm" / "values.yaml").read_text())
        for name, document in deploy_documents(count, values).items():
            path = deploy_dir / name
            path.write_text(
                f"# Written by `bridge workspace --shards {count} --deploy deploy`: "
                'see RUNBOOK.md, "Shards".\n' + yaml.safe_dump(document, sort_keys=False)
            )
            click.echo(f"wrote {path}", err=True)
    sys.stdout.flush()
