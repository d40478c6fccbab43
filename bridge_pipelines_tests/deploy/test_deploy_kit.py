"""The deploy kit, checked offline: no container engine, no cluster.

What a broken kit would do to an operator: a compose service built from a missing context, an
environment variable the product never reads (so the setting silently does nothing), an
instance file Dagster refuses at start-up, a workspace pointing at no service, Helm values
naming another module or another tenant tag than the code.
"""

import importlib
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml
from dagster._core.instance.config import dagster_instance_config
from dagster_celery.launcher import CeleryRunLauncher

from bridge_pipelines.settings import Settings
from bridge_pipelines.tenants.secrets import ENV_VAR as KEYS_ENV_VAR

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
BIN = Path(sys.executable).parent
PRODUCT_SERVICES = ("code-location", "webserver", "daemon", "celery-worker")
# Variables the kit sets that Dagster or its libraries read, not the product.
DAGSTER_VARS = {"DAGSTER_HOME"}


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "docker-compose.yaml").read_text())
    return loaded


def _product_env_names() -> set[str]:
    """Every BRIDGE_* variable the product reads."""
    return {f"BRIDGE_{name.upper()}" for name in Settings.model_fields} | {KEYS_ENV_VAR}


def _env_refs(document: Any) -> set[str]:
    """`{env: NAME}` references in a Dagster config document."""
    found: set[str] = set()
    if isinstance(document, dict):
        if set(document) == {"env"}:
            found.add(str(document["env"]))
        for value in document.values():
            found |= _env_refs(value)
    elif isinstance(document, list):
        for value in document:
            found |= _env_refs(value)
    return found


def _mounted_instance(service: dict[str, Any]) -> Path:
    for volume in service.get("volumes", []):
        source, target, *_ = volume.split(":")
        if target == "/opt/dagster/dagster_home/dagster.yaml":
            return (DEPLOY / source).resolve()
    return DEPLOY / "dagster.yaml"  # the image's own


def test_every_product_service_is_built_from_the_repository_with_the_kits_dockerfile() -> None:
    services = _compose()["services"]
    for name in PRODUCT_SERVICES:
        build = services[name]["build"]
        context = (DEPLOY / build["context"]).resolve()
        assert context == REPO, name
        assert (context / build["dockerfile"]).is_file(), name
        assert services[name]["image"].startswith("bridge-pipelines:"), name


def test_every_bridge_variable_in_compose_is_one_the_product_reads() -> None:
    services = _compose()["services"]
    known = _product_env_names()
    for name in PRODUCT_SERVICES:
        env = services[name]["environment"]
        bridge = {k for k in env if k.startswith("BRIDGE_")}
        assert bridge <= known, f"{name}: {sorted(bridge - known)} are read by nothing"
        # The ledger and the keys must be set, or each container keeps its own SQLite ledger.
        assert {"BRIDGE_LEDGER_URL", "BRIDGE_HOME", "BRIDGE_TENANTS_DIR"} <= bridge, name
        assert "BRIDGE_KEY_FILE" in bridge or KEYS_ENV_VAR in bridge, name


def test_every_variable_the_instance_file_reads_is_set_in_each_service() -> None:
    services = _compose()["services"]
    for name in PRODUCT_SERVICES:
        instance = yaml.safe_load(_mounted_instance(services[name]).read_text())
        needed = _env_refs(instance)
        assert needed, "the instance file reads its PostgreSQL URL from the environment"
        missing = needed - set(services[name]["environment"])
        assert not missing, f"{name} lacks {sorted(missing)}"
    worker = yaml.safe_load((DEPLOY / "celery-worker.yaml").read_text())
    assert _env_refs(worker) <= set(services["celery-worker"]["environment"])


def test_postgres_urls_name_the_installed_driver() -> None:
    """SQLAlchemy 2.1 reads `postgresql://` as psycopg 3, which is not installed."""
    env = _compose()["services"]["daemon"]["environment"]
    for name in ("DAGSTER_PG_URL", "BRIDGE_LEDGER_URL"):
        assert env[name].startswith("postgresql+psycopg2://"), name
    helm = yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())
    assert helm["postgresql"]["postgresqlScheme"] == "postgresql+psycopg2"


def test_files_and_volumes_the_services_mount_exist_or_are_the_operators() -> None:
    compose = _compose()
    runbook = (DEPLOY / "RUNBOOK.md").read_text()
    named = set(compose["volumes"])
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./config/"):
                assert f"deploy/{source[2:]}" in runbook, f"{source}: RUNBOOK says what goes there"
            elif source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name}: {source}"
            else:
                assert source in named, f"{name}: volume {source} is not declared"
    for secret in compose["secrets"].values():
        assert f"deploy/{secret['file'][2:]}" in runbook


def test_the_workspace_points_at_the_code_location_service_and_its_port() -> None:
    workspace = yaml.safe_load((DEPLOY / "workspace.yaml").read_text())
    (entry,) = workspace["load_from"]
    server = entry["grpc_server"]
    services = _compose()["services"]
    assert server["host"] in services
    command = services[server["host"]]["command"]
    assert command[command.index("--port") + 1] == str(server["port"])
    assert command[command.index("--location-name") + 1] == server["location_name"]
    assert command[command.index("--module-name") + 1] == "bridge_pipelines.definitions"


@pytest.mark.parametrize("service", ["code-location", "webserver", "daemon"])
def test_each_dagster_command_accepts_its_options(service: str) -> None:
    """The options on the compose command lines exist in the installed Dagster's CLI."""
    command = _compose()["services"][service]["command"]
    program = BIN / command[0]
    subcommands = [c for c in command[1:3] if not c.startswith("-")]
    shown = subprocess.run(
        [str(program), *subcommands, "--help"], capture_output=True, text=True, check=True
    ).stdout
    for option in (c for c in command if c.startswith("--")):
        assert re.search(rf"{re.escape(option)}\b", shown), f"{shlex.join(command)}: {option}"


def test_the_celery_launcher_and_workers_come_from_the_locked_optional_extra() -> None:
    pyproject = (REPO / "pyproject.toml").read_text()
    assert re.search(r'celery = \[\s*"dagster-celery==0\.29\.27"', pyproject)
    lock = (REPO / "uv.lock").read_text()
    assert '[[package]]\nname = "dagster-celery"\nversion = "0.29.27"' in lock
    launcher = yaml.safe_load((DEPLOY / "dagster-celery.yaml").read_text())["run_launcher"]
    # dagster-celery's launcher with the health check that fails a dead worker's runs.
    assert launcher["module"] == "bridge_pipelines.runs.celery_launcher"
    module = importlib.import_module(launcher["module"])
    assert issubclass(getattr(module, launcher["class"]), CeleryRunLauncher)
    command = _compose()["services"]["celery-worker"]["command"]
    assert command[:3] == ["dagster-celery", "worker", "start"]
    # The code location imported once per worker, before the pool forks.
    assert command[command.index("--includes") + 1] == "bridge_pipelines.definitions"
    assert command[command.index("--") :] == ["--", "--concurrency", "1"]
    queue = command[command.index("--queue") + 1]
    assert launcher["config"]["default_queue"] == queue


def test_the_celery_instance_file_is_the_production_one_plus_its_run_launcher() -> None:
    plain = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())
    celery = yaml.safe_load((DEPLOY / "dagster-celery.yaml").read_text())
    celery.pop("run_launcher")
    assert celery == plain


@pytest.mark.parametrize("filename", ["dagster.yaml", "dagster-celery.yaml"])
def test_dagster_accepts_the_instance_files(filename: str) -> None:
    config, _ = dagster_instance_config(str(DEPLOY), filename)
    assert config["storage"]["postgres"]["postgres_url"] == {"env": "DAGSTER_PG_URL"}


@pytest.mark.postgres
def test_the_production_instance_starts_on_postgresql(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """deploy/dagster.yaml as the daemon (or `bridge demo --instance-config`) loads it.

    DAGSTER_PG_URL is all it needs: compute logs stay under DAGSTER_HOME.
    """
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((DEPLOY / "dagster.yaml").read_text())
    monkeypatch.setenv("DAGSTER_PG_URL", pg_url)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.compute_log_manager).__name__ == "LocalComputeLogManager"
        assert str(instance.compute_log_manager._base_dir).startswith(str(home))
        assert instance.get_runs_count() == 0
        assert instance.get_settings("python_logs")["managed_python_loggers"] == [
            "bridge_pipelines"
        ]
        queue = instance.get_concurrency_config().run_queue_config
        assert queue is not None
        assert queue.max_concurrent_runs == 16
        tenant_limit = {"key": "bridge/tenant", "value": {"applyLimitPerUniqueValue": True}}
        assert {**tenant_limit, "limit": 1} in queue.tag_concurrency_limits


def test_helm_values_run_the_real_module_with_the_products_settings() -> None:
    values = yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    args = deployment["codeServerArgs"]
    assert args[args.index("--module-name") + 1] == "bridge_pipelines.definitions"
    assert set(deployment["env"]) - DAGSTER_VARS - {"DAGSTER_COMPUTE_LOG_DIR"} <= (
        _product_env_names()
    )
    mounts = {m["mountPath"]: m["name"] for m in deployment["volumeMounts"]}
    volumes = {v["name"]: v for v in deployment["volumes"]}
    env = deployment["env"]
    assert volumes[mounts[env["BRIDGE_TENANTS_DIR"]]]["configMap"]["name"] == "bridge-tenants"
    key_dir = os.path.dirname(env["BRIDGE_KEY_FILE"])
    assert volumes[mounts[key_dir]]["secret"]["secretName"] == "bridge-keys"
    assert volumes[mounts[env["BRIDGE_HOME"]]]["persistentVolumeClaim"]["claimName"]
    # The ledger URL (a password) comes from a Secret, never from the values file.
    assert "BRIDGE_LEDGER_URL" not in env
    assert {"name": "bridge-env"} in deployment["envSecrets"]
    runbook = (DEPLOY / "RUNBOOK.md").read_text()
    for name in ("bridge-tenants", "bridge-mappings", "bridge-keys", "bridge-env", "bridge-state"):
        assert name in runbook, name


def test_helm_run_queue_limits_the_tag_the_sensors_set() -> None:
    values = yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())
    queue = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    sensors = (REPO / "bridge_pipelines" / "defs" / "sensors.py").read_text()
    for limit in queue["tagConcurrencyLimits"]:
        assert f'"{limit["key"]}": tenant.id' in sensors
    production = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())["concurrency"]["runs"]
    assert queue["maxConcurrentRuns"] == production["max_concurrent_runs"]


SHARD_FILES = ("workspace.shards.yaml", "docker-compose.shards.yaml", "helm/values-shards.yaml")


def _shard_count() -> int:
    return len(yaml.safe_load((DEPLOY / "workspace.shards.yaml").read_text())["load_from"])


def test_the_committed_shard_files_are_what_bridge_workspace_writes(tmp_path: Path) -> None:
    """Edited by hand, they drift from the generator (and from the base files they extend)."""
    from click.testing import CliRunner

    from bridge_pipelines.cli import main

    (tmp_path / "helm").mkdir()
    (tmp_path / "helm" / "values.yaml").write_text((DEPLOY / "helm" / "values.yaml").read_text())
    count = _shard_count()
    written = CliRunner().invoke(
        main,
        ["workspace", "--shards", str(count), "--deploy", str(tmp_path), "--dir", str(tmp_path)],
    )
    assert written.exit_code == 0, written.output
    for name in SHARD_FILES:
        assert (tmp_path / name).read_text() == (DEPLOY / name).read_text(), name


def test_the_shards_workspace_points_at_one_compose_service_per_shard() -> None:
    base = _compose()["services"]
    override = yaml.safe_load((DEPLOY / "docker-compose.shards.yaml").read_text())["services"]
    entries = [
        e["grpc_server"]
        for e in yaml.safe_load((DEPLOY / "workspace.shards.yaml").read_text())["load_from"]
    ]
    count = len(entries)
    assert count > 1
    attributes = []
    for entry in entries:
        service = override[entry["host"]]
        if "extends" in service:
            assert service["extends"] == {"file": "docker-compose.yaml", "service": "code-location"}
        else:
            assert entry["host"] in base  # shard 1 is the base file's code-location
        command = service["command"]
        assert command[command.index("--port") + 1] == str(entry["port"])
        assert command[command.index("--location-name") + 1] == entry["location_name"]
        assert command[command.index("--module-name") + 1] == "bridge_pipelines.shards"
        attributes.append(command[command.index("--attribute") + 1])
    assert attributes == [f"shard_{i}_of_{count}" for i in range(1, count + 1)]
    assert len({e["location_name"] for e in entries}) == count
    for name in ("webserver", "daemon"):
        assert set(override[name]["depends_on"]) == {e["host"] for e in entries}
        (mount,) = override[name]["volumes"]
        assert mount == "./workspace.shards.yaml:/opt/dagster/workspace.yaml:ro"
        assert any(v.endswith(":/opt/dagster/workspace.yaml:ro") for v in base[name]["volumes"])
    # The options exist in the installed Dagster's `code-server start`.
    shown = subprocess.run(
        [str(BIN / "dagster"), "code-server", "start", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for option in (c for c in override["code-location"]["command"] if c.startswith("--")):
        assert re.search(rf"{re.escape(option)}\b", shown), option


def test_helm_shard_values_are_k_copies_of_the_base_deployment_each_serving_its_shard() -> None:
    (base,) = yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())[
        "dagster-user-deployments"
    ]["deployments"]
    deployments = yaml.safe_load((DEPLOY / "helm" / "values-shards.yaml").read_text())[
        "dagster-user-deployments"
    ]["deployments"]
    count = _shard_count()
    assert len(deployments) == count
    assert len({d["name"] for d in deployments}) == count
    for index, deployment in enumerate(deployments, start=1):
        assert deployment["codeServerArgs"] == [
            "--module-name",
            "bridge_pipelines.shards",
            "--attribute",
            f"shard_{index}_of_{count}",
        ]
        same = {k: v for k, v in deployment.items() if k not in {"name", "codeServerArgs"}}
        assert same == {k: v for k, v in base.items() if k not in {"name", "codeServerArgs"}}
    assert "values-shards.yaml" in (DEPLOY / "RUNBOOK.md").read_text()
