"""A broken third tenant file leaves acme and globex posting: its tenant alone is stopped, with
a failing placeholder that names file, field and problem."""

import os
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from bridge_pipelines.defs.broken import broken_tenant_key
from bridge_pipelines.demo.cycle import run_cycle
from bridge_pipelines.demo.environment import DemoEnvironment, start_demo
from bridge_pipelines.intake.runtime import Runtime
from bridge_pipelines.tenants.loader import inspect_tenants

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

BROKEN = """\
id: hooli
name: Hooli
timezone: Mars/Olympus_Mons
sftp:
  host: 127.0.0.1
  port: 2299
  username: hooli
  host_key: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH1RnO2tKaJqoevMC680gptyeY2fo5rgqgtTxkKjWiec
  password: enc:v1:k1:QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB
"""


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DemoEnvironment]:
    for name in list(os.environ):
        if name.startswith(("BRIDGE_", "DAGSTER_")):
            monkeypatch.delenv(name)
    environment = start_demo(tmp_path / "demo", fresh=True, ports={"acme": 0, "globex": 0})
    for key, value in environment.env().items():
        monkeypatch.setenv(key, value)
    try:
        yield environment
    finally:
        environment.stop()


def test_a_broken_third_tenant_file_leaves_the_others_posting(demo: DemoEnvironment) -> None:
    (demo.tenants_dir / "hooli.yaml").write_text(BROKEN)
    demo.seed_files()
    check = inspect_tenants(demo.tenants_dir)
    assert [t.id for t in check.tenants] == ["acme", "globex", "initech", "summit"]
    assert [str(p) for p in check.problems] == [
        f"{demo.tenants_dir}/hooli.yaml: timezone: unknown IANA time zone 'Mars/Olympus_Mons'"
    ]
    ledger = Runtime.from_env().ledger
    with dg.DagsterInstance.get() as instance:
        summaries = run_cycle(
            check.tenants,
            ledger,
            instance=instance,
            problems=check.problems,
            clerk=demo.pay_in_erps,  # summit's payments are made in Acumatica
        )
        # The placeholder fails visibly, once, and is never retried.
        from bridge_pipelines.defs import build_defs

        defs = build_defs(check.tenants, check.problems)
        sensor = defs.resolve_sensor_def("hooli_tenant_file")
        context = dg.build_sensor_context(instance=instance, definitions=defs)
        [request] = sensor.evaluate_tick(context).run_requests or []
        job = defs.resolve_implicit_global_asset_job_def()
        result = job.execute_in_process(
            asset_selection=request.asset_selection,
            instance=instance,
            tags=dict(request.tags),
            raise_on_error=False,
        )
    assert not result.success
    assert request.asset_selection == [broken_tenant_key("hooli")]
    by_tenant = {s.tenant: s for s in summaries}
    for tenant in ("acme", "globex", "initech", "summit"):
        assert by_tenant[tenant].ok, by_tenant[tenant].lines()
        assert by_tenant[tenant].postings["posted"] > 0
