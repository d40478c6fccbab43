"""The intake path on a real SFTP server: scan, settle, download, archive, parse, record.

Each case is a file a tenant could really drop; the assertions are what an operator sees in
`bridge status`: a state and a reason for every file, raw copies kept, nothing half-recorded.
"""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bridge_pipelines.intake.process import process_pending
from bridge_pipelines.intake.runtime import Runtime
from bridge_pipelines.intake.scan import scan_tenant
from bridge_pipelines.sandbox.sftp_server import EmbeddedSftpServer
from bridge_pipelines.sandbox.stampli_sim import StampliSimulator
from bridge_pipelines.settings import Settings
from bridge_pipelines.stampli.invoices import FIELDS as INVOICE_FIELDS
from bridge_pipelines.tenants.models import TenantConfig
from bridge_pipelines.tenants.secrets import Keyring

PASSWORD = "correct horse battery staple"


class World:
    def __init__(self, root: Path, server: EmbeddedSftpServer, ctx: Runtime, tenant: TenantConfig):
        self.root, self.server, self.ctx, self.tenant = root, server, ctx, tenant
        self.clock = datetime.now(UTC)

    def drop(self, folder: str, name: str, data: bytes) -> Path:
        path = self.root / folder.strip("/") / name
        path.write_bytes(data)
        return path

    def scan(self, advance_s: float = 0.0) -> list[str]:
        self.clock += timedelta(seconds=advance_s)
        with self.ctx.sftp(self.tenant) as client:
            result = scan_tenant(self.tenant, client, self.ctx.ledger, now=self.clock)
        return [row.name for row in result.newly_stable]

    def settle(self) -> list[str]:
        first = self.scan()
        return first + self.scan(self.tenant.sftp.settle_seconds + 1)

    def take(self, kind: str = "invoices") -> None:
        for day in {f.partition_day for f in self.ctx.ledger.pending_files(self.tenant.id, kind)}:
            process_pending(self.ctx, self.tenant, kind, day)  # type: ignore[arg-type]

    def files(self) -> dict[str, tuple[str, str | None]]:
        return {f.name: (f.state.value, f.reason) for f in self.ctx.ledger.files(self.tenant.id)}


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.delenv("BRIDGE_MASTER_KEYS", raising=False)
    root = tmp_path / "sftp"
    server = EmbeddedSftpServer(root, users={"stampli": PASSWORD}, host_key_path=tmp_path / "hk")
    server.start()
    settings = Settings(home=tmp_path / "home")
    settings.home.mkdir()
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
                "max_file_bytes": 64 * 1024,
            },
        }
    )
    ctx = Runtime(settings=settings)
    try:
        yield World(root, server, ctx, tenant)
    finally:
        ctx.pool.close_all()
        server.stop()


def good_invoices(world: World, n: int = 3) -> bytes:
    path = StampliSimulator(world.root, seed=7).write_invoices(n, messy=True)
    data = path.read_bytes()
    path.unlink()
    return data


def test_good_file_beside_an_unsafe_name_both_get_a_state(world: World) -> None:
    world.drop("/outbound/invoices", "approved_invoices_1.csv", good_invoices(world))
    world.drop("/outbound/invoices", "evil\x1b[31m.csv", b"x")
    stable = world.settle()
    assert stable == ["approved_invoices_1.csv"]
    world.take()
    files = world.files()
    assert files["approved_invoices_1.csv"][0] == "parsed"
    ((name, (state, reason)),) = [(n, v) for n, v in files.items() if n.startswith("evil")]
    assert state == "quarantined" and "unsafe file name" in (reason or "")
    assert "\x1b" not in name, "a control character reached the ledger"


def test_growing_file_is_not_taken_until_it_stops(world: World) -> None:
    path = world.drop("/outbound/invoices", "approved_invoices_2.csv", b"InvoiceId,")
    assert world.scan() == []
    path.write_bytes(good_invoices(world))  # grew between listings
    assert world.scan(10) == []
    assert world.scan(10) == ["approved_invoices_2.csv"]


def test_file_that_vanishes_before_download_is_recorded_with_a_reason(world: World) -> None:
    path = world.drop("/outbound/invoices", "approved_invoices_3.csv", good_invoices(world))
    world.settle()
    path.unlink()
    world.take()
    state, reason = world.files()["approved_invoices_3.csv"]
    assert state == "vanished" and reason


def test_oversized_file_is_quarantined_naming_the_limit(world: World) -> None:
    world.drop("/outbound/invoices", "approved_invoices_4.csv", b"x" * (65 * 1024))
    world.settle()
    world.take()
    state, reason = world.files()["approved_invoices_4.csv"]
    assert state == "quarantined"
    assert "65536" in (reason or "") or "64" in (reason or ""), reason


def test_a_server_that_lies_about_a_size_is_cut_at_the_cap_and_quarantined(world: World) -> None:
    name = "approved_invoices_6.csv"
    world.server.faults.understate_size = {name: 1_000}
    world.drop("/outbound/invoices", name, b"x" * (4 * 1024 * 1024))
    assert world.settle() == [name]
    world.take()
    state, reason = world.files()[name]
    assert state == "quarantined"
    assert "the limit is 65536 bytes (sftp.max_file_bytes)" in (reason or ""), reason
    assert [p for p in world.ctx.work_dir.iterdir()] == []
    assert not world.ctx.archive_dir.exists() or not any(world.ctx.archive_dir.rglob("*"))


def test_a_file_of_bad_rows_writes_a_thousand_row_errors_and_a_summary(world: World) -> None:
    # Before: every located error went to the ledger (13 per row here: 15,600 rows).
    header = ",".join(f.column for f in INVOICE_FIELDS)
    rows = "".join(f"X{n}" + "," * (len(INVOICE_FIELDS) - 1) + "\n" for n in range(1_200))
    name = "approved_invoices_7.csv"
    world.drop("/outbound/invoices", name, f"{header}\n{rows}".encode())
    world.settle()
    world.take()
    (file,) = [f for f in world.ctx.ledger.files(world.tenant.id) if f.name == name]
    assert file.state.value == "parsed"
    assert (file.rows_total, file.rows_rejected) == (1_200, 1_200)
    errors = world.ctx.ledger.row_errors(world.tenant.id, file_id=file.id)
    assert len(errors) == 1_001
    assert errors[0].row == 1 and errors[0].field == "InvoiceNumber"
    assert errors[-1].row is None
    assert errors[-1].message.startswith("and 14,600 more row errors of these kinds: field ")


def test_binary_garbage_is_quarantined_and_its_raw_copy_kept(world: World) -> None:
    garbage = bytes(range(256)) * 10
    world.drop("/outbound/invoices", "approved_invoices_5.csv", garbage)
    world.settle()
    world.take()
    row = world.ctx.ledger.files(world.tenant.id)[0]
    assert row.state.value == "quarantined" and row.reason
    assert row.archive_path and Path(row.archive_path).read_bytes() == garbage


def test_same_bytes_under_new_name_is_duplicate_and_rerun_changes_nothing(world: World) -> None:
    data = good_invoices(world)
    world.drop("/outbound/invoices", "approved_invoices_6.csv", data)
    world.settle()
    world.take()
    world.drop("/outbound/invoices", "approved_invoices_6_again.csv", data)
    world.settle()
    world.take()
    files = world.files()
    assert files["approved_invoices_6.csv"][0] == "parsed"
    assert files["approved_invoices_6_again.csv"][0] == "duplicate"
    before = world.ctx.ledger.records(world.tenant.id)
    world.take()
    assert world.ctx.ledger.records(world.tenant.id) == before


HEADER = (
    "InvoiceId,InvoiceNumber,VendorId,VendorName,InvoiceDate,DueDate,PostingDate,Currency,"
    "InvoiceTotal,TaxAmount,PONumber,LineNumber,LineDescription,GLAccount,CostCenter,LineAmount,"
    "ApprovedBy,ApprovedAt,DocumentType\n"
)


def one_invoice(description: str) -> bytes:
    row = (
        "STI-9,A-77,V-0001,Acme,2026-11-20,2026-12-20,,USD,110.00,10.00,,1,"
        f'"{description}",6100,CC-EAST,100.00,j.doe,2026-11-21T13:02:11-05:00,Invoice\n'
    )
    return (HEADER + row).encode()


def test_changed_invoice_arriving_again_is_held_with_both_versions(world: World) -> None:
    world.drop("/outbound/invoices", "approved_invoices_7.csv", one_invoice("Capacitors, 10uF"))
    world.settle()
    world.take()
    world.drop("/outbound/invoices", "approved_invoices_8.csv", one_invoice("Resistors, 1k"))
    world.settle()
    world.take()
    held = world.ctx.ledger.held_records(world.tenant.id)
    assert len(held) == 1
    new, old = held[0]
    assert new.identity == old.identity == "V-0001|A-77|Invoice"
    assert new.content_hash != old.content_hash
    assert "Resistors" in str(new.payload) and "Capacitors" in str(old.payload)
    assert new.reason and "approved_invoices_7.csv" in new.reason
