"""The production shape: Dagster's instance (deploy/dagster.yaml) and the ledger on PostgreSQL."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.sandbox.postgres import (
    create_database,
    drop_database,
    postgres_reachable,
)
from bridge_pipelines_tests.e2e.sap_b1_demo import assert_globex_posted_once_into_sap_b1
from bridge_pipelines_tests.support.services import require_or_skip

BRIDGE = Path(sys.executable).parent / "bridge"
REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.slow]


def test_demo_cycle_on_postgres_instance_and_ledger(tmp_path: Path) -> None:
    require_or_skip(postgres_reachable(), "PostgreSQL not reachable at 127.0.0.1:5432")
    dagster_url = create_database(prefix="bridge_dagster_")
    ledger_url = create_database(prefix="bridge_ledger_")
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BRIDGE_", "DAGSTER_"))}
        env.update(DAGSTER_PG_URL=dagster_url, BRIDGE_LEDGER_URL=ledger_url)
        result = subprocess.run(
            [
                str(BRIDGE),
                "demo",
                "--once",
                "--home",
                str(tmp_path / "demo"),
                "--sftp-port-base",
                "0",
                "--instance-config",
                str(REPO / "deploy" / "dagster.yaml"),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        engine = sa.create_engine(dagster_url)
        with engine.connect() as conn:
            statuses = [r[0] for r in conn.execute(sa.text("SELECT status FROM runs"))]
        engine.dispose()
        assert statuses and set(statuses) == {"SUCCESS"}, statuses
        ledger = Ledger(ledger_url)
        try:
            files = ledger.files("acme") + ledger.files("globex")
            assert files and all(f.state.terminal for f in files)
            assert not (tmp_path / "demo" / "ledger.db").exists(), "ledger went to SQLite"
            # globex's invoices are in SAP B1 once each, as the PostgreSQL ledger says.
            assert_globex_posted_once_into_sap_b1(tmp_path / "demo", ledger)
        finally:
            ledger.dispose()
    finally:
        drop_database(dagster_url)
        drop_database(ledger_url)
