"""Alerts reach the tenant's people: a failed run and an invoice held too long arrive at a
local Slack webhook sink and a local SMTP server, naming tenant, what, how many and where to act.
"""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml

from bridge_pipelines.defs import build_defs
from bridge_pipelines.defs.alerts import run_failure_alerts
from bridge_pipelines.defs.resources import BridgeResource
from bridge_pipelines.tenants.secrets import Keyring
from bridge_pipelines_tests.support.sinks import HttpSink, SmtpSink

BIN = Path(sys.executable).parent
pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def demo_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("alerts") / "demo"
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
    return home


@pytest.fixture
def demo_home(
    demo_once: Path,
    monkeypatch: pytest.MonkeyPatch,
    slack_sink: HttpSink,
    smtp_sink: SmtpSink,
) -> Path:
    home = demo_once
    for name in list(os.environ):
        if name.startswith(("BRIDGE_", "DAGSTER_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("BRIDGE_HOME", str(home))
    monkeypatch.setenv("BRIDGE_TENANTS_DIR", str(home / "tenants"))
    monkeypatch.setenv("BRIDGE_MAPPINGS_DIR", str(home / "mappings"))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster_home"))
    monkeypatch.setenv("BRIDGE_SMTP_HOST", smtp_sink.host)
    monkeypatch.setenv("BRIDGE_SMTP_PORT", str(smtp_sink.port))
    monkeypatch.setenv("BRIDGE_UI_URL", "http://127.0.0.1:3999")
    # acme's routing lives in its tenant file; the webhook URL is a secret, so ciphertext.
    path = home / "tenants" / "acme.yaml"
    tenant = yaml.safe_load(path.read_text())
    webhook = Keyring.load().encrypt("acme", "alerts.slack_webhook_url", slack_sink.url)
    tenant["alerts"] = {
        "slack_webhook_url": webhook,
        "email_to": ["ap-team@acme.example"],
        "held_after_minutes": 0,
    }
    path.write_text(yaml.safe_dump(tenant))
    return home


def test_a_held_invoice_alerts_once_on_slack_and_by_mail(
    demo_home: Path, slack_sink: HttpSink, smtp_sink: SmtpSink
) -> None:
    defs = build_defs()
    sensor = defs.resolve_sensor_def("acme_alerts")
    instance = dg.DagsterInstance.get()
    context = dg.build_sensor_context(
        instance=instance, resources={"bridge": BridgeResource()}, definitions=defs
    )
    sensor.evaluate_tick(context)
    held = [p for p in slack_sink.posts if "waiting for review" in p["body"]["text"]]
    assert len(held) == 1, slack_sink.posts
    text = held[0]["body"]["text"]
    assert text.startswith("tenant acme: invoices waiting for review longer than 0 min")
    assert "(1)" in text and "has no ERP supplier" in text
    assert "bridge review list acme" in text
    assert "http://127.0.0.1:3999/assets/acme/review/review_queue" in text
    [mail] = [m for m in smtp_sink.messages if "waiting for review" in str(m["Subject"])]
    assert mail["To"] == "ap-team@acme.example"
    assert str(mail["Subject"]).startswith("[bridge] acme: invoices waiting")

    # Said once: the next tick, with the same queue, sends nothing more.
    again = dg.build_sensor_context(
        instance=instance,
        resources={"bridge": BridgeResource()},
        definitions=defs,
        cursor=context.cursor,
    )
    sensor.evaluate_tick(again)
    assert len([p for p in slack_sink.posts if "waiting for review" in p["body"]["text"]]) == 1


def test_a_failed_run_alerts_its_tenant(
    demo_home: Path, slack_sink: HttpSink, smtp_sink: SmtpSink
) -> None:
    @dg.op
    def boom() -> None:
        raise RuntimeError("the ERP said 503")

    @dg.job(tags={"bridge/tenant": "acme", "bridge/what": "post invoices"})
    def failing() -> None:
        boom()

    instance = dg.DagsterInstance.get()
    result = failing.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    run = instance.get_run_by_id(result.run_id)
    assert run is not None
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE)
    context = dg.build_run_status_sensor_context(
        sensor_name=run_failure_alerts.name,
        dagster_instance=instance,
        dagster_run=run,
        dagster_event=failure,
    ).for_run_failure()
    run_failure_alerts(context)
    [post] = slack_sink.posts
    text = post["body"]["text"]
    assert text.startswith("tenant acme: run failed: post invoices (1)")
    assert f"http://127.0.0.1:3999/runs/{run.run_id}" in text
    assert "bridge status acme" in text
    [mail] = smtp_sink.messages
    assert mail["Subject"] == "[bridge] acme: run failed: post invoices (1)"
