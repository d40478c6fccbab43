"""The demo's world: SFTP servers, Stampli simulators, ERP sandboxes and tenant files.

Tenants on their ERPs side by side: `acme` posts into the SYSPRO sandbox, `globex` into the
SAP Business One Service Layer sandbox (A/P service invoices), `initech` into the Infor
CloudSuite (M3) sandbox through the ION API (APS450MI supplier invoice batches), `summit` (a
construction firm) into the Acumatica sandbox (AP bills with job-cost coding, released).
Everything lives under one folder (`.demo/` by default) and is generated on first use: a
keyring, SSH host keys, tenant files with encrypted secrets pinned to those host keys, a mapping
file per tenant, the ERP sandboxes' state under `erp/<kind>/`. Nothing secret is committed to
git.
"""

import os
import secrets as pysecrets
import shutil
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from bridge_pipelines.demo.ap_clerk import clerk_checks, record_checks
from bridge_pipelines.demo.partners import start_partner_server
from bridge_pipelines.erps import registry
from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.posting.payment_run import records_payments
from bridge_pipelines.posting.payments import PaymentBook
from bridge_pipelines.posting.run import posting_target
from bridge_pipelines.sandbox.demo_company import DEMO_COMPANY
from bridge_pipelines.sandbox.erp_base.profile import SandboxProfile
from bridge_pipelines.sandbox.erp_base.runner import RunningSandbox, start_sandbox
from bridge_pipelines.sandbox.sftp_server import EmbeddedSftpServer
from bridge_pipelines.sandbox.stampli_sim import StampliSimulator
from bridge_pipelines.tenants.loader import load_tenants
from bridge_pipelines.tenants.models import TenantConfig
from bridge_pipelines.tenants.secrets import Keyring

REPO_ROOT = Path(__file__).resolve().parents[2]
UNMAPPED_VENDOR = "V-0012"


@dataclass(frozen=True)
class DemoTenantSpec:
    """A demo tenant: who it is and how its Stampli exports look."""

    id: str
    name: str
    timezone: str
    port: int
    auth: str  # "password" or "key"
    invoice_format: Literal["csv", "xml"]
    seed: int
    erp: str = "none"  # an ERP kind whose connector ships a sandbox and a demo seed


DEMO_TENANTS = (
    DemoTenantSpec(
        "acme", "Acme Manufacturing", "America/Chicago", 2222, "password", "csv", 1, "syspro"
    ),
    DemoTenantSpec(
        "globex", "Globex Distribution", "Europe/Berlin", 2223, "key", "xml", 2, "sap_b1"
    ),
    DemoTenantSpec(
        "initech", "Initech Industrial", "America/New_York", 2224, "password", "csv", 3, "infor_m3"
    ),
    # A mid-sized construction firm on Acumatica: job-cost branches, projects, subaccounts.
    DemoTenantSpec(
        "summit",
        "Summit Ridge Builders",
        "America/Denver",
        2225,
        "password",
        "csv",
        3,
        "acumatica",
    ),
)


@dataclass
class DemoTenant:
    """A running demo tenant: its SFTP root, server and simulator."""

    spec: DemoTenantSpec
    root: Path
    server: EmbeddedSftpServer
    simulator: StampliSimulator


@dataclass
class DemoEnvironment:
    """Running servers and simulators; `stop()` shuts everything down."""

    home: Path
    tenants: list[DemoTenant] = field(default_factory=list)
    erps: dict[str, RunningSandbox] = field(default_factory=dict)
    partner_servers: dict[str, EmbeddedSftpServer] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def erp_lines(self) -> list[str]:
        """One line per running ERP sandbox: its API root and where its documents are listed."""
        lines = []
        for kind, sandbox in sorted(self.erps.items()):
            users = ", ".join(t.spec.id for t in self.tenants if t.spec.erp == kind)
            lines.append(
                f"{kind} sandbox for {users or '-'}: {sandbox.base_url}{_seed(kind).api_root} "
                f"(posted documents: {sandbox.base_url}/_sandbox/documents)"
            )
        return lines

    @property
    def tenants_dir(self) -> Path:
        return self.home / "tenants"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster_home"

    def env(self) -> dict[str, str]:
        """Environment variables that point the product at this demo."""
        return {
            "BRIDGE_HOME": str(self.home),
            "BRIDGE_TENANTS_DIR": str(self.tenants_dir),
            "DAGSTER_HOME": str(self.dagster_home),
            "BRIDGE_MAPPINGS_DIR": str(self.home / "mappings"),
        }

    def apply_env(self) -> None:
        os.environ.update(self.env())

    def load_tenants(self) -> list[TenantConfig]:
        return load_tenants(self.tenants_dir)

    def seed_files(self) -> None:
        """One realistic first delivery per tenant, messiness included."""
        for tenant in self.tenants:
            sim = tenant.simulator
            sim.write_vendors()
            sim.write_gl_accounts()
            first = sim.write_invoices(8, fmt=tenant.spec.invoice_format, bad_invoices=1)
            sim.write_payments()
            sim.redeliver(first)
            if tenant.spec.erp != "none":
                # A vendor the ERP does not have: held for review, never posted to a guess.
                sim.write_invoices(1, fmt=tenant.spec.invoice_format, vendor_id=UNMAPPED_VENDOR)
                # Stampli paid it: the payment waits, with its reason, until it is posted.
                sim.write_payments(vendor_id=UNMAPPED_VENDOR)
            growing = threading.Thread(
                target=sim.write_growing, args=("invoices", 6.0), daemon=True, name="growing"
            )
            growing.start()
            self._threads.append(growing)

    def pay_in_erps(self, tenants: list[TenantConfig], ledger: Ledger) -> dict[str, list[str]]:
        """The AP clerk of each reconcile-only ERP pays what Stampli paid; refusals per tenant.

        Run once the tenants' bills are posted, so the reconciliation has both sides to match.
        """
        refused: dict[str, list[str]] = {}
        for tenant in tenants:
            sandbox = self.erps.get(tenant.erp.kind)
            if sandbox is None or records_payments(tenant):
                continue
            route = _seed(tenant.erp.kind).clerk_route
            mapping = self.home / "mappings" / f"{tenant.id}.yaml"
            tables = yaml.safe_load(mapping.read_text()) if mapping.exists() else None
            if not route or not tables:
                continue
            book = PaymentBook.load(ledger, tenant.id, posting_target(tenant))
            checks = clerk_checks(book, tables.get("vendors") or {})
            refused[tenant.id] = record_checks(sandbox.base_url, route, checks)
        return refused

    def start_cadence(self, interval_s: float) -> None:
        """Stampli exports about every 5 minutes; the demo compresses that."""
        for tenant in self.tenants:
            thread = threading.Thread(
                target=tenant.simulator.run,
                args=(interval_s, self._stop),
                name=f"stampli-sim-{tenant.spec.id}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        for tenant in self.tenants:
            tenant.server.stop()
        for server in self.partner_servers.values():
            server.stop()
        for sandbox in self.erps.values():
            sandbox.stop()


def start_demo(
    home: Path,
    *,
    fresh: bool = False,
    ports: dict[str, int] | None = None,
    instance_config: Path | None = None,
) -> DemoEnvironment:
    """Create (or reuse) the demo folder and start one SFTP server per tenant."""
    home = home.resolve()
    if fresh and home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True, exist_ok=True)
    environment = DemoEnvironment(home=home)
    environment.apply_env()
    keyring = _keyring(home)
    environment.tenants_dir.mkdir(exist_ok=True)
    environment.dagster_home.mkdir(exist_ok=True)
    shutil.copyfile(
        instance_config or REPO_ROOT / "dagster.yaml", environment.dagster_home / "dagster.yaml"
    )
    try:
        for kind in sorted({spec.erp for spec in DEMO_TENANTS} - {"none"}):
            environment.erps[kind] = start_sandbox(_seed(kind).app, home / "erp" / kind)
        for spec in DEMO_TENANTS:
            # Ports given for some tenants: the others pick free ones (never a fixed port).
            port = spec.port if ports is None else ports.get(spec.id, 0)
            environment.tenants.append(_start_tenant(environment, spec, port, keyring))
    except BaseException:
        environment.stop()  # no orphaned sandbox process or SFTP server
        raise
    return environment


def _keyring(home: Path) -> Keyring:
    path = home / "keys.json"
    return Keyring.load(path) if path.exists() else Keyring.generate(path)


def _start_tenant(
    environment: DemoEnvironment, spec: DemoTenantSpec, port: int, keyring: Keyring
) -> DemoTenant:
    home = environment.home
    root = home / "sftp" / spec.id
    root.mkdir(parents=True, exist_ok=True)
    credentials_file = home / "credentials" / f"{spec.id}.yaml"
    credentials = _demo_credentials(credentials_file, spec)
    users = {"stampli": credentials["password"]} if spec.auth == "password" else {}
    keys = {"stampli": [credentials["public_key"]]} if spec.auth == "key" else {}
    server = EmbeddedSftpServer(
        root,
        port=port,
        users=users,
        authorized_keys=keys,
        host_key_path=home / "host_keys" / f"{spec.id}_ed25519",
    )
    server.start()
    erp = _erp_section(environment, spec, keyring)
    _write_tenant_file(
        home / "tenants" / f"{spec.id}.yaml", spec, server, credentials, keyring, erp
    )
    if spec.erp == "syspro":  # the SYSPRO tenant sends its month to its parent (issue 14)
        environment.partner_servers[spec.id] = start_partner_server(
            home,
            spec.id,
            environment.tenants_dir,
            lambda f, plain: keyring.encrypt(spec.id, f, plain),
        )
    simulator = StampliSimulator(root, seed=spec.seed, invoice_format=spec.invoice_format)
    return DemoTenant(spec=spec, root=root, server=server, simulator=simulator)


def _seed(kind: str) -> SandboxProfile:
    """The connector's sandbox profile: its app, demo tenant block and mapping."""
    profile = registry.plugin(kind).sandbox_profile()
    if not isinstance(profile, SandboxProfile):
        raise ValueError(f"the {kind} connector ships no sandbox; the demo cannot run it")
    return profile


def _erp_section(
    environment: DemoEnvironment, spec: DemoTenantSpec, keyring: Keyring
) -> dict[str, object]:
    """The tenant's ERP connection, and a mapping file from the sandbox company's seed.

    The seed maps every Stampli code the ERP has; the codes it lacks on purpose (a vendor and
    a GL account) stay unmapped, so the demo shows invoices held for review.
    """
    sandbox = environment.erps.get(spec.erp)
    if sandbox is None:
        return {"kind": "none"}
    seed = _seed(spec.erp)
    _write_mapping(environment, spec, registry.plugin(spec.erp).display_name, seed.mapping)
    return seed.erp_section(
        sandbox.base_url, lambda field, plain: keyring.encrypt(spec.id, field, plain)
    )


def _write_mapping(
    environment: DemoEnvironment,
    spec: DemoTenantSpec,
    erp_name: str,
    mapping: Mapping[str, Mapping[str, str]],
) -> None:
    """`<home>/mappings/<tenant>.yaml`, written once: an operator's edits are kept.

    Inactive accounts are left out: they take no postings, and a mapping onto one is reported
    as a problem on every run.
    """
    path = environment.home / "mappings" / f"{spec.id}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        return
    inactive = {a.code for a in DEMO_COMPANY.gl_accounts if not a.active}
    tables: dict[str, Any] = {name: dict(table) for name, table in mapping.items()}
    tables["gl_accounts"] = {
        k: v for k, v in tables.get("gl_accounts", {}).items() if k not in inactive
    }
    path.write_text(
        f"# Stampli code -> {erp_name} code, generated from the sandbox's demo company.\n"
        + yaml.safe_dump(tables, sort_keys=True)
    )


def _demo_credentials(path: Path, spec: DemoTenantSpec) -> dict[str, str]:
    """Random per-install credentials, kept 0600 beside the demo (the server side needs them)."""
    if path.exists():
        loaded: dict[str, str] = yaml.safe_load(path.read_text())
        return loaded
    path.parent.mkdir(parents=True, exist_ok=True)
    key = ed25519.Ed25519PrivateKey.generate()
    passphrase = pysecrets.token_urlsafe(16)
    credentials = {
        "password": pysecrets.token_urlsafe(18),
        "passphrase": passphrase,
        "private_key": key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.BestAvailableEncryption(passphrase.encode()),
        ).decode(),
        "public_key": key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode(),
    }
    path.touch(mode=0o600)
    path.write_text(yaml.safe_dump(credentials))
    return credentials


def _write_tenant_file(
    path: Path,
    spec: DemoTenantSpec,
    server: EmbeddedSftpServer,
    credentials: dict[str, str],
    keyring: Keyring,
    erp: dict[str, object],
) -> None:
    sftp: dict[str, object] = {
        "host": "127.0.0.1",
        "port": server.port,
        "username": "stampli",
        "host_key": server.host_key_line,
        "settle_seconds": 3,
        "connect_timeout_s": 10,
        "max_file_bytes": 50 * 1024 * 1024,
    }
    if spec.auth == "password":
        sftp["password"] = keyring.encrypt(spec.id, "sftp.password", credentials["password"])
    else:
        sftp["private_key"] = keyring.encrypt(
            spec.id, "sftp.private_key", credentials["private_key"]
        )
        sftp["private_key_passphrase"] = keyring.encrypt(
            spec.id, "sftp.private_key_passphrase", credentials["passphrase"]
        )
    document = {
        "id": spec.id,
        "name": spec.name,
        "timezone": spec.timezone,
        "sftp": sftp,
        "erp": erp,
        "schedules": {
            "sensor_interval_s": 5,
            **(_seed(spec.erp).schedules if spec.erp != "none" else {}),
        },
        "partitions_start": (date.today() - timedelta(days=7)).isoformat(),
    }
    header = (
        f"# Demo tenant generated by `bridge demo` (SFTP on 127.0.0.1:{server.port}).\n"
        "# Secret fields are ciphertext bound to this tenant and field; see tenants/README.md.\n"
    )
    path.write_text(header + yaml.safe_dump(document, sort_keys=False))
