"""A partner's month end to end: SYSPRO sandbox OData -> files -> the partner's SFTP server."""

from bridge_pipelines_tests.partners.conftest import PartnerWorld
from bridge_pipelines_tests.partners.x12check import validate_x12


def test_the_month_arrives_as_fixed_width_x12_810_and_csv(partner_world: PartnerWorld) -> None:
    outcomes = partner_world.run()

    assert [o.status for o in outcomes] == ["delivered"] * 3, outcomes
    received = partner_world.received()
    compact = partner_world.period.compact
    assert sorted(received) == [
        f"ACME_810_{compact}_01.x12",
        f"ACME_GL_{compact}_01.txt",
        f"ACME_PO_{compact}_01.csv",
    ]
    assert validate_x12(received[f"ACME_810_{compact}_01.x12"]) == []
    gl = received[f"ACME_GL_{compact}_01.txt"].decode("cp1252").split("\r\n")
    assert gl[-1] == "" and all(len(line) == 107 for line in gl[:-1])
    centres = [line[:10].strip() for line in gl[:-1]]
    assert centres == sorted(centres) and centres[0].startswith("ACM-")
    by_file = {o.file: o for o in outcomes}
    gl_totals = by_file["gl_journal.fixed_width"].totals
    assert gl_totals["debits"] == gl_totals["credits"]  # balanced journals
    assert by_file["gl_journal.fixed_width"].verified == "sha256"


def test_the_audit_lists_every_file_sent(partner_world: PartnerWorld) -> None:
    partner_world.run()
    delivered = [
        e for e in partner_world.ledger.audit("acme", entity="partner_export")
        if e.event == "export_delivered"
    ]  # fmt: skip
    assert sorted(e.detail["remote_name"] for e in delivered) == sorted(partner_world.received())
    for event in delivered:
        assert event.detail["partner"] == "parent_erp"
        assert event.detail["period"] == str(partner_world.period)
        assert event.detail["rows"] > 0 and event.detail["totals"]
        assert len(event.detail["sha256"]) == 64 and event.detail["verified"] == "sha256"
        assert event.at is not None
