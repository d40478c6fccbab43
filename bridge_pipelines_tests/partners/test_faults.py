"""The partner exports' faults: each ends in a clear state, and a later run completes the period.

Partner server down, refusing our credentials, a changed host key, a cut mid-upload (OpenSSH
sshd behind the fault proxy), a full disk, a SYSPRO OData page failing halfway, an unmapped
account. After each, the partner's server holds no partial file under a final name, and the
ledger holds no export built from half a period.
"""

import dataclasses
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge_pipelines.partners.export import syspro_settings
from bridge_pipelines.partners.reader import open_reader
from bridge_pipelines.sandbox.fault_proxy import Cut, FaultProxy
from bridge_pipelines.sandbox.sshd import SshdServer, generate_keypair
from bridge_pipelines_tests.partners.conftest import PartnerWorld
from bridge_pipelines_tests.partners.x12check import validate_x12

pytestmark = [pytest.mark.faults]


def _finals(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


def test_partner_server_down_then_back(partner_world: PartnerWorld) -> None:
    with FaultProxy(("127.0.0.1", partner_world.server.port)) as proxy:
        proxy.refuse()
        failed = partner_world.run(port=proxy.port)
        assert {o.status for o in failed} == {"failed"}
        assert "after 4 attempts" in (failed[0].error or "")
        assert partner_world.received() == {}
        built = partner_world.ledger.partner_exports("acme")
        assert {e.state for e in built} == {"built"}

        proxy.clear()
        done = partner_world.run(port=proxy.port)
    assert sorted(o.status for o in done) == ["delivered"] * 3
    received = partner_world.received()
    assert len(received) == 3  # one file each, built once: no second copy
    by_name = {e.remote_name: e.sha256 for e in partner_world.ledger.partner_exports("acme")}
    assert set(by_name) == set(received)


def test_refused_credentials_are_tried_twice_then_stop(partner_world: PartnerWorld) -> None:
    sleeps: list[float] = []
    partner = partner_world.partners(password="not-the-password").partners[0]
    from bridge_pipelines.partners.export import PartnerRun

    run = PartnerRun(partner_world.tenant, partner, partner_world.ledger, partner_world.keyring,
                     sleep=sleeps.append)  # fmt: skip
    outcomes = run.run(partner_world.period)
    run.close()
    assert {o.status for o in outcomes} == {"failed"}
    assert "authentication failed" in (outcomes[0].error or "")
    assert "2 attempts" in (outcomes[0].error or "")
    assert sleeps == [2.0]  # one backed-off retry, no lockout storm
    assert partner_world.received() == {}


def test_a_changed_host_key_is_refused_naming_both_fingerprints(
    partner_world: PartnerWorld,
) -> None:
    pinned = partner_world.server.host_key_line
    partner_world.server.rotate_host_key()
    outcomes = partner_world.run(host_key=pinned)
    error = outcomes[0].error or ""
    assert {o.status for o in outcomes} == {"failed"}
    assert "HostKeyError" in error and error.count("SHA256:") == 2
    assert partner_world.received() == {}


def test_a_full_disk_leaves_no_file_under_the_final_name(partner_world: PartnerWorld) -> None:
    partner_world.server.faults.inbound_full = True
    outcomes = partner_world.run()
    assert {o.status for o in outcomes} == {"failed"}
    assert _finals(partner_world.inbound) == []

    partner_world.server.faults.inbound_full = False
    assert sorted(o.status for o in partner_world.run()) == ["delivered"] * 3


@pytest.fixture
def sshd_inbound(sshd: SshdServer) -> Iterator[tuple[SshdServer, Path]]:
    folder = sshd.local("/partner_inbound")
    folder.mkdir(parents=True, exist_ok=True)
    for path in folder.iterdir():
        path.unlink()
    yield sshd, folder


@pytest.mark.sshd
def test_a_cut_mid_upload_to_openssh_leaves_no_partial_file(
    partner_world: PartnerWorld, sshd_inbound: tuple[SshdServer, Path]
) -> None:
    sshd, folder = sshd_inbound
    encrypt = lambda field, plain: partner_world.keyring.encrypt("acme", field, plain)  # noqa: E731
    only_gl = [f for f in partner_world.partners().partners[0].files if f.dataset == "gl_journal"]
    with FaultProxy((sshd.host, sshd.port)) as proxy:
        sftp = {
            "host": "127.0.0.1",
            "port": proxy.port,
            "username": sshd.username,
            "host_key": sshd.host_key_line,
            "private_key": encrypt(
                "partners.parent_erp.sftp.private_key", sshd.encrypted_key.private
            ),
            "private_key_passphrase": encrypt(
                "partners.parent_erp.sftp.private_key_passphrase",
                sshd.encrypted_key.passphrase or "",
            ),
            "connect_timeout_s": 5,
            "operation_timeout_s": 5,
        }
        files = [f.model_dump() for f in only_gl]
        # The handshake and login take a few KB; the cut falls inside the file's bytes.
        proxy.set(up=Cut(after_bytes=30_000))
        cut = partner_world.run(sftp=sftp, folder=sshd.remote("/partner_inbound"), files=files)
        assert [o.status for o in cut] == ["failed"]
        assert _finals(folder) == []

        proxy.clear()
        done = partner_world.run(sftp=sftp, folder=sshd.remote("/partner_inbound"), files=files)
    assert [o.status for o in done] == ["delivered"]
    (export,) = partner_world.ledger.partner_exports("acme")
    assert _finals(folder) == [export.remote_name]
    assert (folder / export.remote_name).stat().st_size == export.size


def test_an_odata_page_failing_halfway_writes_no_file(partner_world: PartnerWorld) -> None:
    syspro = partner_world.syspro
    syspro.admin.configure(odata_page_size=100)
    syspro.admin.arm_fault("error_before_commit", path="*/GenJournalDetail", skip=3, count=50)
    settings = dataclasses.replace(
        syspro_settings(partner_world.tenant, partner_world.keyring),
        max_attempts=2,
        backoff_initial=0.01,
    )
    from bridge_pipelines.partners.export import PartnerRun

    partner = partner_world.partners().partners[0]
    run = PartnerRun(partner_world.tenant, partner, partner_world.ledger, partner_world.keyring,
                     reader=open_reader(settings), sleep=lambda s: None)  # fmt: skip
    outcomes = {o.file: o for o in run.run(partner_world.period)}
    assert outcomes["gl_journal.fixed_width"].status == "failed"
    assert outcomes["ap_invoices.x12_810"].status == "delivered"
    assert not any(n.startswith("ACME_GL") for n in partner_world.received())
    assert (
        partner_world.ledger.partner_cursor(
            "acme", "parent_erp", "gl_journal.fixed_width", str(partner_world.period)
        )
        is None
    )

    syspro.admin.clear_faults()
    outcomes = {o.file: o for o in run.run(partner_world.period)}
    run.close()
    assert outcomes["gl_journal.fixed_width"].status == "delivered"
    assert outcomes["gl_journal.fixed_width"].rows == 800  # the whole month, not half of it


def test_an_unmapped_account_stops_that_file_and_names_it(partner_world: PartnerWorld) -> None:
    accounts = dict(partner_world.partners().partners[0].accounts)
    del accounts["10-6100"]
    outcomes = {o.file: o for o in partner_world.run(accounts=accounts)}
    gl = outcomes["gl_journal.fixed_width"]
    assert gl.status == "failed"
    assert "account '10-6100' (first at journal" in (gl.error or "")
    assert f"ACME_GL_{partner_world.period.compact}_01.txt: not written" in (gl.error or "")
    assert outcomes["ap_invoices.x12_810"].status == "delivered"
    received = partner_world.received()
    assert not any(n.startswith("ACME_GL") for n in received)
    x12 = next(v for k, v in received.items() if k.endswith(".x12"))
    assert validate_x12(x12) == []
    events = partner_world.ledger.audit("acme", entity="partner_export")
    assert any(e.event == "export_failed" and "10-6100" in e.detail["reason"] for e in events)


@pytest.mark.sshd
def test_openssh_refusing_our_key_is_tried_twice_then_stops(
    partner_world: PartnerWorld, sshd_inbound: tuple[SshdServer, Path]
) -> None:
    sshd, folder = sshd_inbound
    stranger = generate_keypair("ed25519", passphrase="not authorised anywhere")
    encrypt = lambda field, plain: partner_world.keyring.encrypt("acme", field, plain)  # noqa: E731
    sftp = {
        "host": sshd.host,
        "port": sshd.port,
        "username": sshd.username,
        "host_key": sshd.host_key_line,
        "private_key": encrypt("partners.parent_erp.sftp.private_key", stranger.private),
        "private_key_passphrase": encrypt(
            "partners.parent_erp.sftp.private_key_passphrase", stranger.passphrase or ""
        ),
    }
    outcomes = partner_world.run(sftp=sftp, folder=sshd.remote("/partner_inbound"))
    assert {o.status for o in outcomes} == {"failed"}
    error = outcomes[0].error or ""
    assert "authentication failed" in error and "2 attempts" in error
    assert stranger.passphrase not in error
    assert _finals(folder) == []


def test_rows_changed_while_the_partner_was_down_are_sent_once(
    partner_world: PartnerWorld,
) -> None:
    with FaultProxy(("127.0.0.1", partner_world.server.port)) as proxy:
        proxy.refuse()
        partner_world.run(port=proxy.port)  # built, not delivered
        (gl,) = [
            e for e in partner_world.ledger.partner_exports("acme") if e.dataset.startswith("gl")
        ]
        late = f"{partner_world.period.last_day.isoformat()}T23:59:00Z"
        with sqlite3.connect(partner_world.syspro.running.state_dir / "sandbox.sqlite3") as conn:
            conn.execute("UPDATE GenJournalDetail SET ChangedAt = ? WHERE Journal = 2", (late,))
        proxy.clear()
        done = partner_world.run(port=proxy.port)
    names = sorted(o.remote_name or "" for o in done if o.status == "delivered")
    compact = partner_world.period.compact
    assert f"ACME_GL_{compact}_01.txt" in names and f"ACME_GL_{compact}_02.txt" in names
    first = next(e for e in partner_world.ledger.partner_exports("acme") if e.id == gl.id)
    second = next(e for e in partner_world.ledger.partner_exports("acme") if e.seq == 2)
    assert first.row_count + second.row_count == gl.row_count  # every line once
    events = [e.event for e in partner_world.ledger.audit("acme", entity="partner_export")]
    assert "export_rebuilt" in events
