"""Bad input and faults through the posting engine and a real ledger: a clear state, no double."""

from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from bridge_pipelines.erps.base import PostableInvoice, PostableInvoiceLine
from bridge_pipelines.errors import ConfigError
from bridge_pipelines.ledger.models import RecordRow
from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.ledger.states import PostingState
from bridge_pipelines.posting.payload_hash import payload_hash
from bridge_pipelines_tests.erps.harness import TENANT, ErpUnderTest, open_ledger

pytestmark = pytest.mark.contract


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    opened = open_ledger(tmp_path / "l.db")
    try:
        yield opened
    finally:
        opened.dispose()


def _batches(infor: ErpUnderTest) -> list[dict[str, object]]:
    return [d for d in infor.admin.documents() if d["type"] == "invoice_batch"]


def test_a_line_refused_after_the_head_is_rejected_then_completed_once(
    infor: ErpUnderTest, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = infor.build_from_record

    def two_lines(record: RecordRow, account: str) -> PostableInvoice:
        invoice = built(record)
        [line] = invoice.lines
        half = (line.amount / 2).quantize(Decimal("0.01"))
        return replace(
            invoice,
            lines=(
                replace(line, amount=half),
                PostableInvoiceLine(account, line.amount - half, "Travel"),
            ),
        )

    monkeypatch.setattr(infor, "build_from_record", lambda r: two_lines(r, "6950"))
    [planned] = infor.plan(ledger)
    infor.post_pending(ledger)
    [refused] = ledger.postings(TENANT)
    assert refused.state is PostingState.REJECTED
    assert refused.last_response and "AO01" in (refused.reason or "") + refused.last_response
    [half] = _batches(infor)
    assert half["SUPA"] != "90"

    # The mapping is fixed: the same invoice, the second line on an account M3 has.
    monkeypatch.setattr(infor, "build_from_record", lambda r: two_lines(r, "6200"))
    fixed = two_lines(ledger.get_record(planned.record_id), "6200")
    ledger.resolve_posting(
        planned.id,
        PostingState.PLANNED,
        reason="GL 6950 mapped to 6200",
        actor="contract",
        payload_hash=payload_hash(fixed),
    )
    infor.post_pending(ledger)
    [posted] = ledger.postings(TENANT)
    assert posted.state is PostingState.POSTED
    [done] = _batches(infor)
    assert done["INBN"] == half["INBN"] and done["SUPA"] == "90"
    assert posted.erp_doc_id == f"AAA/{done['INBN']}"


def test_a_token_endpoint_refusing_the_app_stops_the_run_and_keeps_the_posting(
    infor: ErpUnderTest, ledger: Ledger
) -> None:
    infor.plan(ledger)
    infor.admin.arm_fault("auth_fail", count=10, **infor.profile.login_match)
    with pytest.raises(ConfigError, match="ci/cs"):
        infor.post_pending(ledger)
    [waiting] = ledger.postings(TENANT)
    assert waiting.state is PostingState.PLANNED
    assert _batches(infor) == []
