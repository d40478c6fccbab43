"""The analyst's review queue in Dagster: a held invoice is yellow, listed, and released from a
job (no shell) after the mapping is fixed: posted once, audited like the CLI."""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import yaml

from bridge_pipelines.defs import build_defs
from bridge_pipelines.defs.postings import posted_invoices_key
from bridge_pipelines.defs.review import review_queue_key
from bridge_pipelines.demo.environment import UNMAPPED_VENDOR, DemoEnvironment, start_demo
from bridge_pipelines.intake.runtime import Runtime
from bridge_pipelines.ledger.states import PostingState

BIN = Path(sys.executable).parent
pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DemoEnvironment]:
    home = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BRIDGE_", "DAGSTER_"))}
    once = subprocess.run(
        [str(BIN / "bridge"), "demo", "--once", "--home", str(home), "--sftp-port-base", "0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert once.returncode == 0, once.stdout + once.stderr
    for name in list(os.environ):
        if name.startswith(("BRIDGE_", "DAGSTER_")):
            monkeypatch.delenv(name)
    environment = start_demo(home, ports={"acme": 0, "globex": 0})
    for key, value in environment.env().items():
        monkeypatch.setenv(key, value)
    try:
        yield environment
    finally:
        environment.stop()


def latest_check(instance: dg.DagsterInstance, key: dg.AssetKey, name: str) -> object:
    records = instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(key, name), limit=1
    )
    assert records, f"{name} never evaluated"
    return records[0].event.dagster_event.event_specific_data  # type: ignore[union-attr]


def test_held_invoice_is_yellow_listed_and_released_from_a_job(demo: DemoEnvironment) -> None:
    ledger = Runtime.from_env().ledger
    instance = dg.DagsterInstance.get()
    posted = posted_invoices_key("acme")
    check = latest_check(instance, posted, "needs_review")
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN  # type: ignore[attr-defined]
    assert check.metadata["waiting"].value == 1  # type: ignore[attr-defined]
    reconciled = latest_check(instance, posted, "reconciled")
    assert not reconciled.passed  # type: ignore[attr-defined]
    assert reconciled.severity == dg.AssetCheckSeverity.WARN  # type: ignore[attr-defined]

    queue = instance.get_latest_materialization_event(review_queue_key("acme"))
    assert queue is not None and queue.asset_materialization is not None
    table = queue.asset_materialization.metadata["queue"].value
    [row] = table.records  # type: ignore[attr-defined]
    assert row.data["vendor"] == UNMAPPED_VENDOR
    assert "has no ERP supplier" in row.data["reason"] and row.data["reason"].endswith("Stampli")
    assert "bridge review resolve" in row.data["what to do"]
    posting_id = int(row.data["posting"].lstrip("#"))

    # Fix the mapping, then release from Dagster: posted at once, exactly once, audited.
    syspro = demo.erps.get("syspro")
    assert syspro is not None
    before = len(syspro.admin.documents())
    mapping = demo.home / "mappings" / "acme.yaml"
    table_file = yaml.safe_load(mapping.read_text())
    table_file["vendors"][UNMAPPED_VENDOR] = "SUP00001"
    mapping.write_text(yaml.safe_dump(table_file))
    defs = build_defs()
    release = defs.resolve_job_def("release_posting")
    config = {"ops": {"release_op": {"config": {"posting_id": posting_id, "reason": "mapped"}}}}
    result = release.execute_in_process(run_config=config, instance=instance)
    assert result.success
    assert ledger.get_posting(posting_id).state == PostingState.POSTED
    assert len(syspro.admin.documents()) == before + 1
    events = ledger.audit("acme", entity="posting", entity_id=posting_id)
    resolved = next(e for e in events if e.detail.get("resolved"))
    assert resolved.detail["reason"] == "mapped" and resolved.actor.startswith("dagster:")
    materialized = instance.get_latest_materialization_event(posted)
    assert materialized is not None and materialized.run_id == result.run_id

    again = release.execute_in_process(run_config=config, instance=instance, raise_on_error=False)
    assert not again.success
    assert len(syspro.admin.documents()) == before + 1

    # Dismiss globex's held invoice: off the queue, audited with the reason.
    [held] = ledger.review_queue("globex")
    dismiss = defs.resolve_job_def("dismiss_posting")
    done = dismiss.execute_in_process(
        run_config={
            "ops": {"dismiss_op": {"config": {"posting_id": held.posting.id, "reason": "paid"}}}
        },
        instance=instance,
    )
    assert done.success
    assert ledger.review_queue("globex") == []
    [event] = [
        e
        for e in ledger.audit("globex", entity="posting", entity_id=held.posting.id)
        if e.event == "posting_dismissed"
    ]
    assert event.detail["reason"] == "paid"
