"""The `reconciled` asset check: `bridge verify` for the partition, after its postings."""

import dagster as dg
import pytest

from bridge_pipelines.defs import build_defs
from bridge_pipelines.defs.postings import posted_invoices_key
from bridge_pipelines.defs.reconcile import RECONCILED_CHECK
from bridge_pipelines_tests.integration.verify.conftest import World
from bridge_pipelines_tests.integration.verify.test_verify_erps import STRAY_REF, _create_in_erp

pytestmark = pytest.mark.sshd


def _run_postings(world: World, day: str) -> dg.AssetCheckEvaluation:
    defs = build_defs([world.tenant])
    job = defs.resolve_implicit_global_asset_job_def()
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(
            asset_selection=[posted_invoices_key(world.tenant.id)],
            partition_key=day,
            instance=instance,
            raise_on_error=False,
        )
    assert result.success
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    # Nothing of the day waits for a person: `needs_review` passes beside `reconciled`.
    assert evaluations["needs_review"].passed
    return evaluations[RECONCILED_CHECK]


@pytest.mark.parametrize("world", ["syspro"], indirect=True)
def test_reconciled_runs_after_postings_and_fails_on_a_stray(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = world.ctx.settings
    monkeypatch.setenv("BRIDGE_HOME", str(settings.home))
    monkeypatch.setenv("BRIDGE_MAPPINGS_DIR", str(settings.mappings_dir))
    world.demo_run(2)
    [day] = {r.partition_day for r in world.ledger.records(world.tenant.id, kind="invoices")}
    assert day is not None

    passed = _run_postings(world, day.isoformat())
    assert passed.check_name == RECONCILED_CHECK and passed.passed
    assert passed.severity == dg.AssetCheckSeverity.ERROR
    assert passed.metadata["posted"].value == passed.metadata["erp_documents"].value >= 1
    assert passed.metadata["checks"].value["lost"] == {"status": "ok", "count": 0}

    _create_in_erp(world, STRAY_REF, "MANUAL-1")
    failed = _run_postings(world, day.isoformat())
    assert not failed.passed
    assert failed.metadata["checks"].value["unknown_to_ledger"] == {"status": "fail", "count": 1}
    assert STRAY_REF in failed.metadata["failures"].value
