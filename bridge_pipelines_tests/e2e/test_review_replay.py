"""The operator's loop: an unmapped invoice waits for review; fixing its mapping and replaying
posts it once; replaying a posted partition posts nothing twice."""

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from bridge_pipelines.demo.environment import DEMO_TENANTS, UNMAPPED_VENDOR, start_demo

BIN = Path(sys.executable).parent

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def bridge(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "bridge"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_hold_fix_mapping_replay_posts_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BRIDGE_", "DAGSTER_"))}
    once = bridge("demo", "--once", "--home", str(home), "--sftp-port-base", "0", env=env)
    assert once.returncode == 0, once.stdout + once.stderr
    assert "1 held for review" in once.stdout

    # The demo stopped its sandboxes; start them again on the same state, as an operator would.
    for name in list(os.environ):
        if name.startswith(("BRIDGE_", "DAGSTER_")):
            monkeypatch.delenv(name)
    environment = start_demo(home, ports=dict.fromkeys((t.id for t in DEMO_TENANTS), 0))
    try:
        env.update(environment.env())
        listed = bridge("review", "list", "acme", env=env)
        assert listed.returncode == 0, listed.stderr
        assert f"vendor {UNMAPPED_VENDOR}" in listed.stdout, listed.stdout
        posting_id = listed.stdout.split("#")[1].split()[0]

        # Fix: the ERP gets the supplier, the mapping file names it.
        assert environment.erps.get("syspro") is not None
        documents_before = _invoices(environment.erps.get("syspro").admin.documents())
        payments_before = _payments(environment.erps.get("syspro").admin.documents())
        mapping = home / "mappings" / "acme.yaml"
        table = yaml.safe_load(mapping.read_text())
        table["vendors"][UNMAPPED_VENDOR] = "SUP00001"
        mapping.write_text(yaml.safe_dump(table))
        resolved = bridge(
            "review",
            "resolve",
            posting_id,
            "--as",
            "planned",
            "--reason",
            "mapped to SUP00001",
            env=env,
        )
        assert resolved.returncode == 0, resolved.stdout + resolved.stderr
        status = yaml.safe_load(bridge("status", "acme", "--json", env=env).stdout)
        day = next(f["partition_day"] for f in status["files"] if f["partition_day"])

        replayed = bridge("replay", "acme", "--partition", day, env=env)
        assert replayed.returncode == 0, replayed.stdout + replayed.stderr
        after = _invoices(environment.erps.get("syspro").admin.documents())
        assert len(after) == len(documents_before) + 1
        # The payment that waited for this invoice is applied in the same replay.
        assert len(_payments(environment.erps.get("syspro").admin.documents())) > len(
            payments_before
        )
        again = bridge("replay", "acme", "--partition", day, env=env)
        assert again.returncode == 0, again.stdout + again.stderr
        final = _invoices(environment.erps.get("syspro").admin.documents())
        assert len(final) == len(after), "a replay posted something twice"
        keys = Counter((d["Supplier"], d["Invoice"]) for d in final)
        assert max(keys.values()) == 1
    finally:
        environment.stop()


def _invoices(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in documents if d.get("type") == "ap_invoice"]


def _payments(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in documents if d.get("type") == "ap_payment"]
