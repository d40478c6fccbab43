"""A tenant file that does not load stops only itself: a failing placeholder in its place.

One typo in one tenant file used to fail the whole code location, so every tenant stopped.
Now the file gets its own group with one asset, `[<file stem>, tenant_file]`, whose
description lists every problem (`file: field: message`), and a sensor that runs it once per
distinct set of problems: the run fails (never retried, a configuration error does not heal
by waiting), its `loads` check is red, and the run-failure alerts fire. Every other tenant
keeps loading, running and posting.
"""

import hashlib
import re
from collections.abc import Iterator, Mapping, Sequence

import dagster as dg

from bridge_pipelines.errors import FieldProblem

LOADS_CHECK = "loads"
_NOT_A_NAME = re.compile(r"[^A-Za-z0-9_]")


def broken_group_name(stem: str, taken: set[str]) -> str:
    """A Dagster-safe name for the file's group, distinct from every tenant loaded."""
    name = _NOT_A_NAME.sub("_", stem) or "tenant"
    if not name[0].isalpha():
        name = f"t_{name}"
    while name in taken:
        name = f"{name}_file"
    return name


def broken_tenant_key(name: str) -> dg.AssetKey:
    """`[<file stem>, tenant_file]`."""
    return dg.AssetKey([name, "tenant_file"])


def problems_text(problems: Sequence[FieldProblem]) -> str:
    """One line per problem, `file: field: message` (values are never quoted)."""
    return "\n".join(str(p) for p in problems)


def build_broken_tenant_defs(
    name: str, problems: Sequence[FieldProblem]
) -> tuple[dg.AssetsDefinition, dg.SensorDefinition]:
    """The placeholder asset and the sensor that makes it fail visibly, once per problem set."""
    key = broken_tenant_key(name)
    text = problems_text(problems)
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    listing = "\n".join(f"- `{p}`" for p in problems)

    @dg.asset(
        key=key,
        group_name=name,
        kinds={"yaml"},
        tags={"bridge/tenant": name, "bridge/config": "broken"},
        check_specs=[
            dg.AssetCheckSpec(
                LOADS_CHECK,
                asset=key,
                description="The tenant file validates; fix it and reload the code location.",
            )
        ],
        description=(
            "**This tenant file does not load**, so its tenant is stopped (every other tenant "
            f"runs). Fix it, check with `bridge tenants check`, then reload:\n\n{listing}"
        ),
    )
    def _asset() -> Iterator[dg.AssetCheckResult]:
        yield dg.AssetCheckResult(
            check_name=LOADS_CHECK,
            asset_key=key,
            passed=False,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={"problems": dg.MetadataValue.md(listing)},
        )
        # Not retried: a configuration error does not go away by waiting.
        raise dg.Failure(
            description=f"tenant file does not load:\n{text}",
            metadata={"problems": dg.MetadataValue.md(listing)},
            allow_retries=False,
        )

    @dg.sensor(
        name=f"{name}_tenant_file",
        asset_selection=dg.AssetSelection.assets(key),
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Fails the tenant file's placeholder once per distinct set of problems.",
    )
    def _sensor() -> dg.RunRequest:
        return dg.RunRequest(
            run_key=f"{name}-tenant-file-{digest}",
            asset_selection=[key],
            tags={"bridge/tenant": name, "bridge/config": "broken"},
        )

    return _asset, _sensor


def broken_files(
    problems: Sequence[FieldProblem], tenant_ids: set[str]
) -> Mapping[str, list[FieldProblem]]:
    """Problems grouped by the placeholder name of their file."""
    by_file: dict[str, list[FieldProblem]] = {}
    for problem in problems:
        by_file.setdefault(problem.file, []).append(problem)
    named: dict[str, list[FieldProblem]] = {}
    taken = set(tenant_ids)
    for file, found in sorted(by_file.items()):
        stem = file.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        name = broken_group_name(stem, taken)
        taken.add(name)
        named[name] = found
    return named
