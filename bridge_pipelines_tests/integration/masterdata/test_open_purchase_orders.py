"""SAP B1 open purchase orders -> Stampli's inbound PO file, over a real sshd.

The SAP B1 sandbox holds the demo company's POs (three open, one closed); the tenant's inbound
folder is on OpenSSH's sshd. What Stampli would read is checked row by row, money as text.
"""

import csv
import io
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest

from bridge_pipelines.defs.masterdata import build_master_data_assets, erp_key
from bridge_pipelines.defs.resources import BridgeResource
from bridge_pipelines.intake.runtime import Runtime
from bridge_pipelines.masterdata.sync import export_open_purchase_orders
from bridge_pipelines.sandbox.sap_b1.seed import SAP_B1_SEED
from bridge_pipelines.sandbox.sshd import SshdServer
from bridge_pipelines.settings import Settings
from bridge_pipelines.tenants.erp import build_adapter
from bridge_pipelines.tenants.models import TenantConfig
from bridge_pipelines.tenants.secrets import Keyring
from bridge_pipelines_tests.support.erp_sandboxes import SapB1SandboxHandle

NOW = datetime(2026, 11, 21, 20, 15, 0, tzinfo=UTC)  # 14:15:00 in Chicago
HEADER = (
    "PONumber,VendorId,OrderDate,Currency,LineNumber,ItemDescription,Quantity,UnitCost,"
    "LineAmount,OpenAmount,Status"
)


@dataclass
class PoWorld:
    tenant: TenantConfig
    ctx: Runtime
    inbound: Path  # the local folder behind the tenant's inbound folder


def tenant_for(
    tenant_id: str, keyring: Keyring, sshd: SshdServer, inbound: str, erp: dict[str, str]
) -> TenantConfig:
    return TenantConfig.model_validate(
        {
            "id": tenant_id,
            "name": tenant_id.title(),
            "timezone": "America/Chicago",
            "sftp": {
                "host": sshd.host,
                "port": sshd.port,
                "username": sshd.username,
                "host_key": sshd.host_key_line,
                "private_key": keyring.encrypt(tenant_id, "sftp.private_key", sshd.key.private),
            },
            "folders": {"inbound": inbound},
            "erp": {**erp, "password": keyring.encrypt(tenant_id, "erp.password", erp["password"])},
            "schedules": {"open_purchase_orders_cron": "15 */2 * * *"},
        }
    )


@pytest.fixture
def po_world(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    sshd: SshdServer,
    sapb1_sandbox: SapB1SandboxHandle,
) -> Iterator[PoWorld]:
    for name, value in (
        ("BRIDGE_HOME", tmp_path / "home"),
        ("BRIDGE_MAPPINGS_DIR", tmp_path / "mappings"),
        ("BRIDGE_KEY_FILE", tmp_path / "home" / "keys.json"),
    ):
        value.mkdir(parents=True, exist_ok=True) if name != "BRIDGE_KEY_FILE" else None
        monkeypatch.setenv(name, str(value))
    monkeypatch.delenv("BRIDGE_MASTER_KEYS", raising=False)
    settings = Settings()
    keyring = Keyring.generate(settings.resolved_key_file)
    folder = f"/inbound/{tmp_path.name}"  # the sshd is shared by the session
    local = sshd.local(folder)
    local.mkdir()
    erp = {
        "kind": "sap_b1",
        "base_url": sapb1_sandbox.base_url,
        "company": sapb1_sandbox.company_db,
        "username": sapb1_sandbox.user_name,
        "password": sapb1_sandbox.password,
    }
    tenant = tenant_for("acme", keyring, sshd, sshd.remote(folder), erp)
    ctx = Runtime(settings=settings)
    try:
        yield PoWorld(tenant, ctx, local)
    finally:
        ctx.pool.close_all()
        shutil.rmtree(local, ignore_errors=True)


def expected_rows(stampli_ids: dict[str, str]) -> list[dict[str, str]]:
    """The open POs of the sandbox's seed, as the file must list them."""
    return [
        {
            "PONumber": str(po.doc_num),
            "VendorId": stampli_ids.get(po.card_code, po.card_code),
            "OrderDate": po.doc_date,
            "Currency": "USD",
            "LineNumber": str(n),
            "ItemDescription": text,
            "Quantity": "",  # service lines: amounts only
            "UnitCost": "",
            "LineAmount": f"{amount:.2f}",
            "OpenAmount": f"{amount:.2f}",
            "Status": "Open",
        }
        for po in SAP_B1_SEED.purchase_orders
        if po.status == "bost_Open"
        for n, (_, text, amount) in enumerate(po.lines)
    ]


def read_csv(path: Path) -> tuple[bytes, list[dict[str, str]]]:
    data = path.read_bytes()
    return data, list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


def test_open_purchase_orders_land_in_inbound_with_their_amounts(po_world: PoWorld) -> None:
    stampli_id = next(v for v, code in SAP_B1_SEED.supplier_map.items() if code == "V10001")
    mapping = po_world.ctx.settings.resolved_mappings_dir / "acme.yaml"
    mapping.write_text(f'vendors:\n  "{stampli_id}": "V10001"\n')
    with build_adapter(po_world.tenant, keyring=po_world.ctx.keyring) as erp:
        report = export_open_purchase_orders(po_world.ctx, po_world.tenant, erp, now=NOW)

    assert report.file.name == "purchase_orders_20261121_141500.csv"
    assert sorted(p.name for p in po_world.inbound.iterdir()) == [report.file.name]
    data, rows = read_csv(po_world.inbound / report.file.name)
    assert data.split(b"\n", 1)[0].decode() == HEADER and b"\r" not in data
    assert rows == expected_rows({"V10001": stampli_id})
    assert "4" not in {r["PONumber"] for r in rows}, "the closed PO is not listed"
    assert (report.lines, report.purchase_orders) == (4, 3)
    assert report.open_amount == {"USD": Decimal("6470.50")}
    assert report.line_amount == {"USD": Decimal("6470.50")}


def test_the_asset_uploads_the_file_and_reports_it(po_world: PoWorld) -> None:
    (asset,) = [
        a
        for a in build_master_data_assets(po_world.tenant)
        if erp_key("acme", "open_purchase_orders") in a.keys
    ]
    result = dg.materialize([asset], resources={"bridge": BridgeResource()})
    assert result.success
    (event,) = result.asset_materializations_for_node(asset.node_def.name)
    metadata = {k: v.value for k, v in event.metadata.items()}
    (name,) = [p.name for p in po_world.inbound.iterdir()]
    assert metadata["file_name"] == name and name.startswith("purchase_orders_")
    assert metadata["dagster/row_count"] == 4 and metadata["purchase_orders"] == 3
    assert metadata["open_amount"] == {"USD": "6470.50"}  # Decimal text, never a float
    assert read_csv(po_world.inbound / name)[1] == expected_rows({})


def test_an_erp_without_purchase_orders_fails_the_materialization_visibly(
    po_world: PoWorld, sshd: SshdServer
) -> None:
    syspro = {"kind": "syspro", "base_url": "http://127.0.0.1:9/SYSPROWCFService/Rest",
              "company": "DEMO", "username": "BRIDGE", "password": "pw"}  # fmt: skip
    folder = sshd.remote(f"/inbound/{po_world.inbound.name}")
    tenant = tenant_for("globex", po_world.ctx.keyring, sshd, folder, syspro)
    key = erp_key("globex", "open_purchase_orders")
    (asset,) = [a for a in build_master_data_assets(tenant) if key in a.keys]
    result = dg.materialize([asset], resources={"bridge": BridgeResource()}, raise_on_error=False)
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    message = str(failure.step_failure_data.error)
    assert "schedules.open_purchase_orders_cron" in message
    assert "does not read purchase orders" in message
    assert list(po_world.inbound.iterdir()) == [], "nothing uploaded"
