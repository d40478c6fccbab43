"""A tenant on the embedded SFTP server whose ERP is the SYSPRO sandbox, and its intake context."""

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bridge_pipelines.erps.base import ErpAdapter
from bridge_pipelines.intake.process import process_pending
from bridge_pipelines.intake.runtime import Runtime
from bridge_pipelines.intake.scan import scan_tenant
from bridge_pipelines.sandbox.sftp_server import EmbeddedSftpServer
from bridge_pipelines.settings import Settings
from bridge_pipelines.tenants.erp import build_adapter
from bridge_pipelines.tenants.models import TenantConfig
from bridge_pipelines.tenants.secrets import Keyring
from bridge_pipelines_tests.support.erp_sandboxes import SysproSandboxHandle

PASSWORD = "correct horse battery staple"
VENDOR_COLUMNS = (
    "VendorId",
    "VendorName",
    "TaxId",
    "Email",
    "Phone",
    "AddressLine1",
    "AddressLine2",
    "City",
    "Region",
    "PostalCode",
    "Country",
    "Currency",
    "PaymentTerms",
    "Status",
    "ErpVendorCode",
    "ModifiedAt",
)


@dataclass
class MasterWorld:
    root: Path
    server: EmbeddedSftpServer
    ctx: Runtime
    tenant: TenantConfig
    sandbox: SysproSandboxHandle

    @property
    def inbound(self) -> Path:
        return self.root / "inbound"

    def adapter(self) -> ErpAdapter:
        return build_adapter(self.tenant, keyring=self.ctx.keyring)

    def map_vendors(self, pins: dict[str, str]) -> None:
        lines = ["vendors:"] + [f'  "{k}": "{v}"' for k, v in pins.items()]
        path = self.ctx.settings.resolved_mappings_dir / f"{self.tenant.id}.yaml"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def receive_vendors(self, name: str, rows: list[dict[str, str]]) -> None:
        """Drop a Stampli vendors export and take it through intake into the ledger."""
        out = io.StringIO(newline="")
        writer = csv.DictWriter(out, VENDOR_COLUMNS, lineterminator="\n", restval="")
        writer.writeheader()
        writer.writerows(rows)
        (self.root / "outbound" / "vendors" / name).write_bytes(out.getvalue().encode())
        clock = datetime.now(UTC)
        for later in (0, self.tenant.sftp.settle_seconds + 1):
            with self.ctx.sftp(self.tenant) as client:
                scan_tenant(
                    self.tenant, client, self.ctx.ledger, now=clock + timedelta(seconds=later)
                )
        for day in {
            f.partition_day for f in self.ctx.ledger.pending_files(self.tenant.id, "vendors")
        }:
            process_pending(self.ctx, self.tenant, "vendors", day)
        files = {f.name: f for f in self.ctx.ledger.files(self.tenant.id)}
        assert files[name].state.value == "parsed", files[name].reason


@pytest.fixture
def world(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, syspro_sandbox: SysproSandboxHandle
) -> Iterator[MasterWorld]:
    monkeypatch.delenv("BRIDGE_MASTER_KEYS", raising=False)
    root = tmp_path / "sftp"
    server = EmbeddedSftpServer(root, users={"stampli": PASSWORD}, host_key_path=tmp_path / "hk")
    server.start()
    settings = Settings(home=tmp_path / "home", mappings_dir=tmp_path / "mappings")
    settings.home.mkdir()
    settings.mappings_dir.mkdir()
    keyring = Keyring.generate(settings.resolved_key_file)
    tenant = TenantConfig.model_validate(
        {
            "id": "acme",
            "name": "Acme",
            "timezone": "America/Chicago",
            "sftp": {
                "host": "127.0.0.1",
                "port": server.port,
                "username": "stampli",
                "host_key": server.host_key_line,
                "password": keyring.encrypt("acme", "sftp.password", PASSWORD),
                "settle_seconds": 5,
            },
            "erp": {
                "kind": "syspro",
                "base_url": syspro_sandbox.rest_url,
                "odata_url": syspro_sandbox.odata_url,
                "company": syspro_sandbox.company,
                "username": syspro_sandbox.operator,
                "password": keyring.encrypt("acme", "erp.password", syspro_sandbox.password),
            },
        }
    )
    ctx = Runtime(settings=settings)
    try:
        yield MasterWorld(root, server, ctx, tenant, syspro_sandbox)
    finally:
        ctx.pool.close_all()
        server.stop()
