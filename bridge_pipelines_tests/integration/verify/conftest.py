"""A tenant on OpenSSH sshd posting into an ERP sandbox: the real intake and posting code,
run the way a sensor-triggered run does, then reconciled by `bridge verify`'s code."""

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from bridge_pipelines.intake.process import process_pending
from bridge_pipelines.intake.runtime import Runtime
from bridge_pipelines.intake.scan import scan_tenant
from bridge_pipelines.posting.run import post_tenant_day
from bridge_pipelines.sandbox.sap_b1.seed import SAP_B1_SEED
from bridge_pipelines.sandbox.sshd import STAMPLI_FOLDERS, SshdServer
from bridge_pipelines.sandbox.stampli_sim import StampliSimulator
from bridge_pipelines.sandbox.syspro.seed import SYSPRO_SEED
from bridge_pipelines.settings import Settings
from bridge_pipelines.tenants.erp import build_adapter
from bridge_pipelines.tenants.models import FILE_KINDS, TenantConfig
from bridge_pipelines.tenants.secrets import Keyring
from bridge_pipelines.verify import VerifyReport, run_verify

ERP_KINDS = ("syspro", "sap_b1")


@dataclass
class World:
    """One tenant: its Stampli server (sshd), simulator, ledger and ERP sandbox."""

    sshd: SshdServer
    ctx: Runtime
    tenant: TenantConfig
    simulator: StampliSimulator
    erp: Any  # SysproSandboxHandle | SapB1SandboxHandle

    @property
    def ledger(self) -> Any:
        return self.ctx.ledger

    def local(self, kind: str) -> Path:
        return self.sshd.local(f"/outbound/{kind}")

    def intake(self) -> None:
        """Two listings a settle apart (the file becomes stable), then take what is pending."""
        now = datetime.now(UTC)
        for later in (0.0, self.tenant.sftp.settle_seconds + 1):
            with self.ctx.sftp(self.tenant) as client:
                scan_tenant(self.tenant, client, self.ledger, now=now + timedelta(seconds=later))
        for kind in FILE_KINDS:
            days = {f.partition_day for f in self.ledger.pending_files(self.tenant.id, kind)}
            for day in days:
                process_pending(self.ctx, self.tenant, kind, day)

    def post(self) -> None:
        days = {r.partition_day for r in self.ledger.records(self.tenant.id, kind="invoices")}
        for day in sorted(d for d in days if d is not None):
            report = post_tenant_day(self.ctx, self.tenant, day, owner="test")
            assert report.aborted is None, report.aborted

    def demo_run(self, invoices: int = 4) -> None:
        """A demo-style delivery: vendors, an invoices export, taken and posted."""
        self.simulator.write_vendors()
        self.simulator.write_invoices(invoices, lines=(1, 2))
        self.intake()
        self.post()

    def verify(self, day: date | None = None) -> VerifyReport:
        return run_verify(self.tenant.id, day, ctx=self.ctx, tenant=self.tenant)

    def adapter(self) -> Any:
        return build_adapter(self.tenant, keyring=self.ctx.keyring)


def failing(report: VerifyReport) -> dict[str, int]:
    """`{check: count}` of the checks that fail, for exact assertions."""
    return {c.name: c.count for c in report.failing}


def _erp_section(kind: str, erp: Any, keyring: Keyring) -> tuple[dict[str, Any], dict[str, Any]]:
    if kind == "syspro":
        section = {
            "kind": "syspro",
            "base_url": erp.rest_url,
            "odata_url": erp.odata_url,
            "company": erp.company,
            "username": erp.operator,
            "password": keyring.encrypt("acme", "erp.password", erp.password),
        }
        maps = (SYSPRO_SEED.supplier_map, SYSPRO_SEED.ledger_map, SYSPRO_SEED.analysis_map)
    else:
        section = {
            "kind": "sap_b1",
            "base_url": erp.base_url + "/b1s/v1",
            "company": erp.company_db,
            "username": erp.user_name,
            "password": keyring.encrypt("acme", "erp.password", erp.password),
        }
        maps = (SAP_B1_SEED.supplier_map, SAP_B1_SEED.account_map, SAP_B1_SEED.profit_center_map)
    mapping = {"vendors": maps[0], "gl_accounts": maps[1], "cost_centers": maps[2]}
    return section, mapping


@pytest.fixture(params=ERP_KINDS)
def world(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    sshd: SshdServer,
) -> Iterator[World]:
    """A tenant on sshd posting into the SYSPRO or the SAP B1 sandbox (both, parametrised)."""
    kind = request.param
    erp = request.getfixturevalue("syspro_sandbox" if kind == "syspro" else "sapb1_sandbox")
    monkeypatch.delenv("BRIDGE_MASTER_KEYS", raising=False)
    monkeypatch.delenv("FAULT_AT", raising=False)
    for folder in STAMPLI_FOLDERS:
        path = sshd.root / folder
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
    settings = Settings(home=tmp_path / "home", mappings_dir=tmp_path / "mappings")
    settings.mappings_dir.mkdir(parents=True)
    keyring = Keyring.generate(settings.resolved_key_file)
    section, mapping = _erp_section(kind, erp, keyring)
    (settings.mappings_dir / "acme.yaml").write_text(yaml.safe_dump(mapping))
    tenant = TenantConfig.model_validate(
        {
            "id": "acme",
            "name": "Acme",
            "timezone": "America/Chicago",
            "sftp": {
                "host": sshd.host,
                "port": sshd.port,
                "username": sshd.username,
                "host_key": sshd.host_key_line,
                "private_key": keyring.encrypt("acme", "sftp.private_key", sshd.key.private),
                "settle_seconds": 2,
            },
            "folders": {kind_: sshd.remote(f"/outbound/{kind_}") for kind_ in FILE_KINDS}
            | {"inbound": sshd.remote("/inbound")},
            "erp": section,
        }
    )
    ctx = Runtime(settings=settings)
    simulator = StampliSimulator(sshd.root, seed=7)
    try:
        yield World(sshd, ctx, tenant, simulator, erp)
    finally:
        ctx.pool.close_all()
        ctx.ledger.dispose()
