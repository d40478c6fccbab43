"""`bridge verify` against the real thing: sshd, the ERP sandboxes, a SQLite ledger.

A demo-style run reconciles clean; then each invariant is broken on purpose, the way it would
break in production, and verify must name exactly that one.
"""

import os
import time
from datetime import UTC, datetime, timedelta

import pytest

from bridge_pipelines.errors import ConfigError
from bridge_pipelines.intake.scan import scan_tenant
from bridge_pipelines.ledger.states import PostingState
from bridge_pipelines_tests.contract.syspro import payloads as syspro_xml
from bridge_pipelines_tests.integration.verify.conftest import World, failing

pytestmark = pytest.mark.sshd

STRAY_REF = "BP0000000000000000ZZ"  # our shape, but no ledger knows it


def _posted(world: World) -> list:
    return world.ledger.postings(world.tenant.id, states=[PostingState.POSTED])


def _create_in_erp(world: World, reference: str, number: str) -> None:
    """A document keyed in the ERP by hand (or by a second, rogue poster) with `reference`."""
    if world.tenant.erp.kind == "syspro":
        user_id = world.erp.logon()
        answer = world.erp.post(user_id, syspro_xml.ap_invoice(invoice=number, reference=reference))
        assert "<ErrorDescription>" not in answer.text, answer.text
        world.erp.call("Logoff", UserId=user_id)
        return
    cookies = world.erp.login()
    body = {
        "CardCode": "V10001",
        "DocType": "dDocument_Service",
        "NumAtCard": reference,
        "DocumentLines": [{"AccountCode": "_SYS00000006100", "LineTotal": 10}],
    }
    answer = world.erp.request("POST", "PurchaseInvoices", cookies, json=body)
    assert answer.status_code == 201, answer.text


def test_a_clean_run_reconciles_then_a_stray_and_a_duplicate_are_caught(world: World) -> None:
    world.demo_run(4)
    report = world.verify()
    assert report.ok, report.to_dict()
    posted = _posted(world)
    assert posted and report.counts["posted"] == len(posted)
    assert report.counts["erp_documents"] == len(posted)
    assert report.counts["files"] == report.counts["files_terminal"] >= 2
    assert report.counts["remote_files"] >= 2

    # Keyed by hand with one of our references: the ledger never had it.
    _create_in_erp(world, STRAY_REF, "MANUAL-1")
    report = world.verify()
    assert failing(report) == {"unknown_to_ledger": 1}
    assert report.check("unknown_to_ledger").items[0]["external_ref"] == STRAY_REF

    # The same invoice a second time (another number, the same reference): posted twice.
    ref = posted[0].external_ref
    _create_in_erp(world, ref, "DUP-1")
    report = world.verify()
    # The twin is also unknown to the ledger, and its amount is not the source's.
    assert failing(report) == {"unknown_to_ledger": 2, "duplicates": 1, "journal_imbalances": 1}
    [dup] = report.check("duplicates").items
    assert dup["external_ref"] == ref and posted[0].erp_doc_id in dup["erp_documents"]


def test_lost_invoices_and_files_left_behind_are_caught(world: World) -> None:
    world.demo_run(3)
    assert world.verify().ok
    # Approved invoices taken in, never posted (the run died before posting).
    world.simulator.write_invoices(2, lines=(1, 1))
    world.intake()
    # A file stuck mid-intake, and one on the server the sensor never saw.
    stuck = world.simulator.write_invoices(1, lines=(1, 1))
    now = datetime.now(UTC)
    with world.ctx.sftp(world.tenant) as client:
        for later in (0, world.tenant.sftp.settle_seconds + 1):
            scan_tenant(world.tenant, client, world.ledger, now=now + timedelta(seconds=later))
    [row] = [f for f in world.ledger.files(world.tenant.id) if f.name == stuck.name]
    world.ledger.mark_downloaded(row.id, sha256="0" * 64, size=row.size, archive_path="/x")
    missed = world.local("invoices") / "invoices_missed.csv"
    missed.write_bytes(stuck.read_bytes())
    old = time.time() - 3600
    os.utime(missed, (old, old))

    report = world.verify()
    assert failing(report) == {"lost": 2, "files_not_terminal": 2}
    assert {i["state"] for i in report.check("lost").items} == {None}
    where = {(i["where"], i["name"]) for i in report.check("files_not_terminal").items}
    assert where == {("ledger", stuck.name), ("sftp", missed.name)}

    # The next run posts them; the stuck file is still stuck, the missed one still missed.
    world.post()
    assert failing(world.verify()) == {"files_not_terminal": 2}


def test_a_posting_the_erp_lost_is_caught(world: World) -> None:
    world.demo_run(2)
    posted = {p.external_ref for p in _posted(world)}
    # The ledger says posted; the ERP no longer has them (a company restored from a backup).
    world.erp.admin.reset()
    report = world.verify()
    assert failing(report) == {"lost": len(posted)}
    items = report.check("lost").items
    assert {i["external_ref"] for i in items} == posted
    assert all("ERP has no document" in i["message"] for i in items)


def test_an_erp_that_refuses_us_is_an_error_not_a_pass(world: World) -> None:
    world.demo_run(1)
    world.erp.admin.arm_fault("auth_fail", path="*", count=100)
    with pytest.raises(ConfigError):
        world.verify()


def test_verify_only_reads(world: World) -> None:
    world.demo_run(2)
    before = world.erp.admin.documents()
    since = max((r["id"] for r in world.erp.admin.requests()), default=0)
    assert world.verify().ok
    calls = world.erp.admin.requests(since=since)
    assert world.erp.admin.documents() == before
    writes = [
        (r["method"], r["path"])
        for r in calls
        if r["method"] != "GET" and not r["path"].endswith(("/Login", "/Logout"))
    ]
    assert calls and writes == []
    # SYSPRO is read through OData: no e.net session, so the pipeline's operator stays on.
    assert not any("SYSPROWCFService" in r["path"] for r in calls)
