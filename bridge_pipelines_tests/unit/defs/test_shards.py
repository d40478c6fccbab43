"""K code locations of tenants: each tenant's definitions in exactly one, one alert per failure."""

from pathlib import Path

import dagster as dg
import pytest
from dagster._core.remote_origin import (
    GrpcServerCodeLocationOrigin,
    RemoteJobOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.test_utils import create_run_for_test

from bridge_pipelines.defs import alerts, build_defs
from bridge_pipelines.defs.alerts import run_failure_alerts
from bridge_pipelines.defs.notify import Alert
from bridge_pipelines.tenants.shards import Shard

BROKEN = "id: hooli\nname: Hooli\nsftp:\n  host: 10.0.0.13\n  port: 70000\n  username: hooli\n"


def _tenants_of(defs: dg.Definitions) -> set[str]:
    keys = defs.resolve_asset_graph().get_all_asset_keys()
    return {key.path[0] for key in keys}


def test_each_shard_builds_only_its_tenants_and_broken_files(
    sealed_tenants: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (sealed_tenants / "hooli.yaml").write_text(BROKEN)
    everyone = _tenants_of(build_defs())
    assert {"acme", "globex", "initech", "hooli"} <= everyone
    seen: list[str] = []
    for index in (1, 2):
        monkeypatch.setenv("BRIDGE_SHARD", f"{index}/2")
        defs = build_defs()
        dg.Definitions.validate_loadable(defs)
        seen.extend(sorted(_tenants_of(defs)))
        assert build_defs(shard=Shard(index, 2)).resolve_asset_graph().get_all_asset_keys() == (
            defs.resolve_asset_graph().get_all_asset_keys()
        )
    assert sorted(seen) == sorted(everyone)  # every tenant (and the broken file) exactly once
    assert "hooli" in _tenants_of(build_defs(shard=Shard(1, 2)))


def test_a_failed_run_is_alerted_by_its_own_location_only(
    sealed_tenants: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every location has `bridge_run_failure_alerts`; a run must page its tenant once."""
    sent: list[str] = []

    def deliver(runtime: object, alert: Alert, tenant: object) -> list[str]:
        sent.append(alert.tenant)
        return ["test"]

    monkeypatch.setattr(alerts, "_deliver", deliver)
    locations = ["bridge_pipelines_shard_1_of_2", "bridge_pipelines_shard_2_of_2"]
    origins = {
        name: RemoteRepositoryOrigin(
            GrpcServerCodeLocationOrigin(host="localhost", port=4000 + i, location_name=name),
            "__repository__",
        )
        for i, name in enumerate(locations)
    }
    with dg.instance_for_test() as instance:

        def tick(location: str, cursor: str | None) -> str | None:
            context = dg.SensorEvaluationContext(
                instance_ref=None,
                instance=instance,
                cursor=cursor,
                repository_name="__repository__",
                sensor_name=run_failure_alerts.name,
                code_location_origin=origins[location].code_location_origin,
            )
            run_failure_alerts.evaluate_tick(context)
            return context.cursor

        cursors = {name: tick(name, None) for name in locations}  # first tick: starts here
        for tenant, location in (("acme", locations[0]), ("globex", locations[1])):
            run = create_run_for_test(
                instance,
                job_name=f"{tenant}_post",
                tags={"bridge/tenant": tenant},
                remote_job_origin=RemoteJobOrigin(origins[location], f"{tenant}_post"),
            )
            instance.report_run_failed(run)
        for name in locations:
            tick(name, cursors[name])
    assert sorted(sent) == ["acme", "globex"]


@pytest.mark.e2e
@pytest.mark.slow
def test_the_generated_workspace_loads_every_tenant_once_in_separate_processes(
    sealed_tenants: Path, tmp_path: Path
) -> None:
    """`bridge workspace --shards 2`, loaded as `dagster dev` / the daemon load it."""
    from click.testing import CliRunner
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import WorkspaceFileTarget

    from bridge_pipelines.cli import main

    (sealed_tenants / "hooli.yaml").write_text(BROKEN)
    out = tmp_path / "workspace.yaml"
    written = CliRunner().invoke(main, ["workspace", "--shards", "2", "--out", str(out)])
    assert written.exit_code == 0, written.output
    assert "4 tenant file(s)" in written.output and "shard 1: 2, shard 2: 2" in written.output
    per_location: dict[str, list[str]] = {}
    with (
        dg.instance_for_test() as instance,
        WorkspaceProcessContext(instance, WorkspaceFileTarget([str(out)])) as process,
    ):
        context = process.create_request_context()
        for name, entry in context.get_code_location_entries().items():
            assert entry.load_error is None, f"{name}: {entry.load_error}"
            assert entry.code_location is not None
            (repository,) = entry.code_location.get_repositories().values()
            tenants = {node.asset_key.path[0] for node in repository.get_asset_node_snaps()}
            per_location[name] = sorted(tenants)
            sensors = {s.name for s in repository.get_sensors()}
            assert run_failure_alerts.name in sensors
    assert per_location == {
        "bridge_pipelines_shard_1_of_2": ["acme", "hooli"],
        "bridge_pipelines_shard_2_of_2": ["globex", "initech"],
    }


def test_which_names_the_location_that_builds_the_tenant(sealed_tenants: Path) -> None:
    """After editing a tenant file the operator restarts the location `--which` names."""
    from click.testing import CliRunner

    from bridge_pipelines.cli import main

    for tenant in ("acme", "globex", "initech"):
        shown = CliRunner().invoke(main, ["workspace", "--shards", "3", "--which", tenant])
        assert shown.exit_code == 0, shown.output
        index = int(shown.output.split("shard ")[1].split("/")[0])
        assert shown.output.strip().endswith(f"bridge_pipelines_shard_{index}_of_3")
        assert tenant in _tenants_of(build_defs(shard=Shard(index, 3)))
