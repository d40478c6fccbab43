"""A partner world: the SYSPRO sandbox with its month, a partner SFTP server, acme, a ledger."""

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bridge_pipelines.demo import partners as demo_partners
from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.partners.export import FileOutcome, PartnerRun
from bridge_pipelines.partners.models import PartnersFile
from bridge_pipelines.partners.periods import Period
from bridge_pipelines.sandbox.sftp_server import EmbeddedSftpServer
from bridge_pipelines.sandbox.syspro.period_data import previous_period
from bridge_pipelines.sandbox.syspro.profile import PROFILE
from bridge_pipelines.tenants.models import TenantConfig
from bridge_pipelines.tenants.secrets import Keyring
from bridge_pipelines_tests.support.erp_sandboxes import SysproSandboxHandle

PASSWORD = "Parent#Upload-1"


@dataclass
class PartnerWorld:
    """Everything a partner export test drives."""

    tenant: TenantConfig
    keyring: Keyring
    ledger: Ledger
    server: EmbeddedSftpServer
    syspro: SysproSandboxHandle
    period: Period
    tenants_dir: Path

    @property
    def inbound(self) -> Path:
        return self.server.root / demo_partners.PARTNER_FOLDER.strip("/")

    def partners(self, **overrides: Any) -> PartnersFile:
        files = overrides.pop("files", None)
        document = demo_partners.partner_document(
            port=overrides.pop("port", self.server.port),
            host_key=overrides.pop("host_key", self.server.host_key_line),
            password=overrides.pop("password", PASSWORD),
            encrypt=lambda field, plain: self.keyring.encrypt("acme", field, plain),
            files=files,
            **overrides,
        )
        return PartnersFile.model_validate(document)

    def run(
        self,
        period: Period | None = None,
        *,
        resend: bool = False,
        clock: Callable[[], datetime] | None = None,
        **overrides: Any,
    ) -> list[FileOutcome]:
        partner = self.partners(**overrides).partners[0]
        exporter = PartnerRun(
            self.tenant, partner, self.ledger, self.keyring, sleep=lambda s: None,
            **({"clock": clock} if clock else {}),
        )  # fmt: skip
        try:
            return exporter.run(period or self.period, resend=resend)
        finally:
            exporter.close()

    def received(self) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in sorted(self.inbound.iterdir()) if p.is_file()}


def acme_tenant(syspro: SysproSandboxHandle, keyring: Keyring, host_key: str) -> TenantConfig:
    encrypt = lambda field, plain: keyring.encrypt("acme", field, plain)  # noqa: E731
    return TenantConfig.model_validate(
        {
            "id": "acme",
            "name": "Acme Manufacturing",
            "timezone": "America/Chicago",
            "sftp": {
                "host": "127.0.0.1",
                "port": 22,
                "username": "stampli",
                "host_key": host_key,
                "password": encrypt("sftp.password", "unused"),
            },
            "erp": PROFILE.erp_section(syspro.base_url, encrypt),
        }
    )


@pytest.fixture
def partner_world(
    tmp_path: Path,
    tenant_keyring: Keyring,
    tenants_dir: Path,
    syspro_sandbox: SysproSandboxHandle,
) -> Iterator[PartnerWorld]:
    root = tmp_path / "partner-sftp"
    (root / demo_partners.PARTNER_FOLDER.strip("/")).mkdir(parents=True)
    server = EmbeddedSftpServer(
        root, users={demo_partners.PARTNER_USER: PASSWORD}, host_key_path=tmp_path / "hk"
    )
    server.start()
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    ledger.migrate()
    tenant = acme_tenant(syspro_sandbox, tenant_keyring, server.host_key_line)
    period = Period.parse(previous_period(datetime.now(UTC).date()))
    try:
        yield PartnerWorld(
            tenant, tenant_keyring, ledger, server, syspro_sandbox, period, tenants_dir
        )
    finally:
        server.stop()
        ledger.dispose()


def add_gl_journal(
    world: PartnerWorld, *, account: str = "10-6100", centre: str = "CC-EAST",
    amount: str = "125.40", changed_at: str | None = None,
) -> None:  # fmt: skip
    """A late journal posted in SYSPRO (written into the sandbox's state, as SYSPRO would)."""
    period = world.period
    changed = changed_at or f"{period.last_day.isoformat()}T23:00:00Z"
    with sqlite3.connect(world.syspro.running.state_dir / "sandbox.sqlite3") as conn:
        journal = 1 + conn.execute("SELECT MAX(Journal) FROM GenJournalDetail").fetchone()[0]
        for entry, (code, value) in enumerate(((account, amount), ("10-2000", f"-{amount}")), 1):
            conn.execute(
                "INSERT INTO GenJournalDetail VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (period.year, period.month, journal, entry, period.last_day.isoformat(), code,
                 centre, value, f"LATE-{journal}", "Late accrual", "GJ", changed),
            )  # fmt: skip
