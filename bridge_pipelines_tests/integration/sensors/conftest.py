"""A tenant's sensor ticked the way the daemon ticks it, against a real SFTP server and ledger.

The tenant (SYSPRO, whose sandbox the sensor never calls) lists the embedded SFTP server; its
ledger is SQLite under `tmp_path`, reached through `BridgeResource` and `BRIDGE_*` variables as
in the code location. The Dagster instance is a temporary persistent one, so tests can put
runs in it the way the daemon would have launched them. Settling uses the real clock (the
sensor lists "now"), so the settle interval is short.
"""

import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from bridge_pipelines.defs import build_defs
from bridge_pipelines.defs.resources import BridgeResource
from bridge_pipelines.ledger.models import FileRow
from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.sandbox.sftp_server import EmbeddedSftpServer
from bridge_pipelines.settings import Settings
from bridge_pipelines.tenants.models import TenantConfig
from bridge_pipelines.tenants.secrets import Keyring

PASSWORD = "correct horse battery staple"
SETTLE_S = 0.5
TENANT = "acme"
SENSOR = f"{TENANT}_stampli_files"
# The sensor never reads a file's contents: any bytes do.
EXPORT = b"InvoiceNumber,VendorId,InvoiceDate,Currency,Amount\nINV-1,V100,2026-05-04,USD,10.00\n"
# What a run for a day's batch materializes: the day's Stampli files, their postings and
# payments, and the day's AP aging.
DAY_SELECTION = {
    dg.AssetKey([TENANT, "stampli", "stampli_invoices"]),
    dg.AssetKey([TENANT, "stampli", "stampli_payments"]),
    dg.AssetKey([TENANT, "erp", "posted_invoices"]),
    dg.AssetKey([TENANT, "erp", "posted_payments"]),
    dg.AssetKey([TENANT, "erp", "ap_aging"]),
}


@dataclass(frozen=True)
class Tick:
    """What one evaluation returned: the daemon launches `requests` and stores `cursor`."""

    requests: list[dg.RunRequest]
    skip_message: str | None
    cursor: str | None


@dataclass
class SensorWorld:
    root: Path
    server: EmbeddedSftpServer
    tenant: TenantConfig
    defs: dg.Definitions
    instance: dg.DagsterInstance

    @property
    def ledger(self) -> Ledger:
        return BridgeResource().intake().ledger

    def drop(self, name: str, data: bytes, folder: str = "outbound/invoices") -> Path:
        path = self.root / folder / name
        path.write_bytes(data)
        return path

    def tick(self, cursor: str | None = None) -> Tick:
        """One evaluation of the tenant's sensor, as the daemon makes it."""
        sensor = self.defs.resolve_sensor_def(SENSOR)
        with dg.build_sensor_context(
            instance=self.instance,
            cursor=cursor,
            sensor_name=SENSOR,
            definitions=self.defs,
            resources={"bridge": BridgeResource()},
        ) as context:
            data = sensor.evaluate_tick(context)
        return Tick(list(data.run_requests or []), data.skip_message, data.cursor)

    def settle(self) -> None:
        """Let the settle interval pass on the real clock."""
        time.sleep(SETTLE_S + 0.2)

    def files(self) -> dict[str, FileRow]:
        return {f.name: f for f in self.ledger.files(TENANT)}

    def add_run(
        self, tags: dict[str, str], status: dg.DagsterRunStatus = dg.DagsterRunStatus.STARTED
    ) -> dg.DagsterRun:
        """A run in the instance as the daemon launched it; FAILURE: it died without its files."""
        run = dg.DagsterRun(
            job_name="__ASSET_JOB", run_id=str(uuid.uuid4()), tags=tags, status=status
        )
        return self.instance.add_run(run)


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SensorWorld]:
    # The shell's BRIDGE_LEDGER_URL or BRIDGE_MASTER_KEYS must not reach this tenant's state.
    for name in [n for n in os.environ if n.startswith("BRIDGE_")]:
        monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("BRIDGE_HOME", str(home))
    monkeypatch.setenv("BRIDGE_MAPPINGS_DIR", str(tmp_path / "mappings"))
    settings = Settings()
    keyring = Keyring.generate(settings.resolved_key_file)
    root = tmp_path / "sftp"
    server = EmbeddedSftpServer(root, users={"stampli": PASSWORD}, host_key_path=tmp_path / "hk")
    server.start()
    tenant = TenantConfig.model_validate(
        {
            "id": TENANT,
            "name": "Acme",
            "timezone": "America/Chicago",
            "sftp": {
                "host": "127.0.0.1",
                "port": server.port,
                "username": "stampli",
                "host_key": server.host_key_line,
                "password": keyring.encrypt(TENANT, "sftp.password", PASSWORD),
                "settle_seconds": SETTLE_S,
                "connect_timeout_s": 2,
            },
            "erp": {
                "kind": "syspro",
                "base_url": "http://127.0.0.1:9/SYSPROWCFService/Rest",
                "company": "EDU1",
                "username": "ADMIN",
                "password": keyring.encrypt(TENANT, "erp.password", "erp-secret"),
            },
        }
    )
    with dg.instance_for_test() as instance:
        try:
            yield SensorWorld(root, server, tenant, build_defs([tenant]), instance)
        finally:
            ctx = BridgeResource().intake()
            ctx.pool.close_all()
            ctx.ledger.dispose()
            server.stop()
