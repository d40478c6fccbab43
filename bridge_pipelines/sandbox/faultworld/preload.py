"""Imported once by the fork server of pipeline passes, so that no pass pays for imports.

Without byte-code caches a pass spent ~3 s compiling Dagster's storage and execution modules
it imports lazily; the fork server imports them here once, and every forked pass inherits them.
A module missing from an installed version is simply skipped.
"""

import contextlib
import importlib

WARM = (
    "bridge_pipelines.defs",
    "bridge_pipelines.verify.run",
    "dagster._core.storage.runs",
    "dagster._core.storage.event_log",
    "dagster._core.storage.schedules",
    "dagster._core.storage.sqlite_storage",
    "dagster._core.storage.event_log.sqlite.consolidated_sqlite_event_log",
    "dagster._core.execution.api",
    "dagster._core.execution.execute_in_process",
    "dagster._core.executor.in_process",
    "dagster._core.execution.plan.execute_step",
    "dagster._core.execution.plan.execute_plan",
    "dagster._core.definitions.sensor_definition",
    "dagster._core.instance.factory",
    "dagster._core.storage.dagster_run",
    "dagster._core.storage.compute_log_manager",
    "dagster._core.storage.local_compute_log_manager",
    "dagster._core.storage.noop_compute_log_manager",
    "dagster._core.run_coordinator",
    "dagster._core.launcher",
    "dagster._core.launcher.sync_in_memory_run_launcher",
    "dagster._core.secrets.env_file",
    "dagster._core.storage.fs_io_manager",
    "dagster._core.storage.mem_io_manager",
    "sqlalchemy.dialects.sqlite",
    "sqlalchemy.dialects.postgresql",
    "dagster._core.definitions.external_asset",
    "dagster._core.definitions.repository_definition.repository_data_builder",
    "dagster._core.execution.plan.active",
    "dagster._core.instance.runs.run_domain",
    "dagster._core.storage.legacy_storage",
    "dagster._core.storage.migration.utils",
    "dagster._core.storage.root",
    "dagster._core.system_config.composite_descent",
    "dagster._core.types.transform_typing",
    "pandera.polars",
    "pandera.backends.polars.container",
    "pandera.backends.polars.components",
    "pandera.backends.polars.builtin_checks",
    "pandera.strategies",
    "hypothesis",
    "fsspec",
    "upath",
    "structlog",
)


def warm() -> None:
    """Import every module above that exists, and every registered connector's adapter."""
    from bridge_pipelines.erps import registry

    for plugin in registry.plugins():
        plugin.factory()
    for name in WARM:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


warm()
