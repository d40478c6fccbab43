"""Re-running a period: nothing changes on the partner's server; changes go out as a new file."""

from datetime import UTC, datetime, timedelta

import pytest

from bridge_pipelines.partners.build import stamp
from bridge_pipelines_tests.partners.conftest import PartnerWorld, add_gl_journal
from bridge_pipelines_tests.partners.x12check import validate_x12


def test_rerunning_the_period_changes_nothing_on_the_partner_server(
    partner_world: PartnerWorld,
) -> None:
    partner_world.run()
    first = partner_world.received()
    mtimes = {p.name: p.stat().st_mtime_ns for p in partner_world.inbound.iterdir()}

    again = partner_world.run()

    assert {o.status for o in again} == {"already_delivered"}
    assert partner_world.received() == first
    assert {p.name: p.stat().st_mtime_ns for p in partner_world.inbound.iterdir()} == mtimes


def test_a_resend_is_the_same_bytes_under_the_same_name(partner_world: PartnerWorld) -> None:
    partner_world.run()
    first = partner_world.received()
    for path in partner_world.inbound.iterdir():  # the partner imported and removed them
        path.unlink()

    resent = partner_world.run(resend=True)

    assert {o.status for o in resent} == {"resent"}
    assert partner_world.received() == first  # same bytes, same X12 control numbers
    events = [e.event for e in partner_world.ledger.audit("acme", entity="partner_export")]
    assert events.count("export_resent") == 3


def test_rows_changed_after_the_close_go_out_as_the_next_file(
    partner_world: PartnerWorld,
) -> None:
    partner_world.run()
    add_gl_journal(partner_world)

    outcomes = partner_world.run()

    compact = partner_world.period.compact
    late = [o for o in outcomes if o.status == "delivered"]
    assert [o.remote_name for o in late] == [f"ACME_GL_{compact}_02.txt"]
    assert late[0].rows == 2  # only what changed since the first file
    text = partner_world.received()[f"ACME_GL_{compact}_02.txt"].decode("cp1252")
    assert "LATE-" in text and text.count("\r\n") == 2


def test_x12_control_numbers_are_never_reused(partner_world: PartnerWorld) -> None:
    files = [
        {**f, "name": f"INV{n}_{{period}}_{{seq}}.x12"} for n, f in enumerate([_810()] * 1, start=1)
    ]
    partner_world.run(files=files)
    exports = partner_world.ledger.partner_exports("acme")
    numbers = [e.control_number for e in exports]
    again = partner_world.ledger.next_control_number("acme", "parent_erp")
    assert again > max(n for n in numbers if n is not None)
    data = next(iter(partner_world.received().values()))
    assert validate_x12(data) == []


def _810() -> dict:
    from bridge_pipelines.demo.partners import INVOICES_810

    return dict(INVOICES_810)


@pytest.mark.parametrize("line_ending", ["lf", "crlf"])
def test_the_830_validates(partner_world: PartnerWorld, line_ending: str) -> None:
    spec = {
        "dataset": "purchase_orders",
        "format": "x12_830",
        "name": "ACME_830_{period}_{seq:02d}.x12",
        "line_ending": line_ending,
    }
    outcomes = partner_world.run(files=[spec])
    assert [o.status for o in outcomes] == ["delivered"]
    (data,) = partner_world.received().values()
    assert data.startswith(b"ISA*00*") and b"ST*830*0001" in data
    assert validate_x12(data) == []


def test_rows_changed_in_the_last_minutes_wait_for_the_next_run(
    partner_world: PartnerWorld,
) -> None:
    partner_world.run()
    now = datetime.now(UTC).replace(microsecond=0)
    add_gl_journal(partner_world, changed_at=stamp(now - timedelta(seconds=30)))

    soon = partner_world.run(clock=lambda: now)
    assert "delivered" not in {o.status for o in soon}  # may still be committing in SYSPRO

    later = partner_world.run(clock=lambda: now + timedelta(minutes=5))
    assert [o.remote_name for o in later if o.status == "delivered"] == [
        f"ACME_GL_{partner_world.period.compact}_02.txt"
    ]
