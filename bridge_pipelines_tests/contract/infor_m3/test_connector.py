"""The Infor M3 connector against its sandbox: tokens, the APS450MI batch, faults, secrets."""

import logging
import time
from dataclasses import replace
from decimal import Decimal

import pytest

from bridge_pipelines.erps.base import PostableInvoiceLine
from bridge_pipelines.erps.infor_m3.adapter import InforM3Adapter
from bridge_pipelines.erps.infor_m3.errors import M3PeriodClosedError
from bridge_pipelines.errors import (
    BadInputError,
    ConfigError,
    NeedsLookupError,
    RejectedByErpError,
)
from bridge_pipelines.sandbox.infor_m3.seed import CLIENT_SECRET, SERVICE_SECRET
from bridge_pipelines_tests.erps.harness import TODAY, ErpUnderTest, matches

pytestmark = pytest.mark.contract

ADD_HEAD = {"method": "GET", "path": "*/APS450MI/AddHead*"}
BULK = {"method": "POST", "path": "*/m3api-rest/v2/execute"}


def _adapter(infor: ErpUnderTest, **options: object) -> InforM3Adapter:
    adapter = infor.adapter(**options)
    assert isinstance(adapter, InforM3Adapter)
    return adapter


def _batches(infor: ErpUnderTest) -> list[dict[str, object]]:
    return [d for d in infor.admin.documents() if d["type"] == "invoice_batch"]


def test_the_vendor_number_is_in_sino_and_our_reference_in_cori(infor: ErpUnderTest) -> None:
    invoice = infor.invoice()
    with _adapter(infor) as adapter:
        posted = adapter.post_invoice(invoice)
    [batch] = _batches(infor)
    assert (batch["SINO"], batch["CORI"], batch["SUPA"]) == (
        invoice.invoice_number,
        invoice.external_ref,
        "90",
    )
    assert batch["approved"] is True and posted.doc_id == f"AAA/{batch['INBN']}"
    [line] = batch["lines"]  # type: ignore[misc]
    assert (line["ao01"], line["ao02"], line["rdtp"]) == (invoice.lines[0].ledger_code, "EAST", "8")


def test_an_invoice_takes_four_requests_and_one_token(infor: ErpUnderTest) -> None:
    mark = infor.mark()
    with _adapter(infor) as adapter:
        adapter.post_invoice(infor.invoice())
        adapter.post_invoice(infor.invoice())
    requests = infor.requests(mark)
    api = [r for r in requests if "/m3api-rest/" in r["path"]]
    assert len(api) == 8
    assert len(infor.logins(mark)) == 1
    assert [r["path"].rsplit("/", 1)[-1] for r in requests][-1] == "revoke_token.oauth2"


def test_a_token_is_refreshed_before_it_expires_never_refused_first(infor: ErpUnderTest) -> None:
    infor.admin.configure(token_lifetime_seconds=2)
    mark = infor.mark()
    with _adapter(infor) as adapter:
        adapter.post_invoice(infor.invoice())
        time.sleep(2.1)
        adapter.post_invoice(infor.invoice())
        assert (adapter.client.token_grants, adapter.client.token_refreshes) == (1, 1)
    assert [r["status"] for r in infor.requests(mark)].count(401) == 0
    assert len(_batches(infor)) == 2


def test_a_revoked_token_mid_batch_takes_a_new_grant_and_posts_once(infor: ErpUnderTest) -> None:
    with _adapter(infor) as adapter:
        adapter.post_invoice(infor.invoice())
        infor.admin.arm_fault("expire_session", count=1, **ADD_HEAD)
        adapter.post_invoice(infor.invoice())
        assert adapter.client.login_count == 2
    assert len(_batches(infor)) == 2 and all(b["SUPA"] == "90" for b in _batches(infor))


def test_an_expired_token_on_the_sandbox_clock_is_renewed(infor: ErpUnderTest) -> None:
    with _adapter(infor) as adapter:
        adapter.post_invoice(infor.invoice())
        infor.admin.advance_clock(7201)  # the gateway's clock: the client still trusts it
        adapter.post_invoice(infor.invoice())
    assert len(_batches(infor)) == 2


def test_a_wrong_client_secret_is_one_config_error_naming_the_file(infor: ErpUnderTest) -> None:
    infor.admin.arm_fault("auth_fail", count=5, **infor.profile.login_match)
    mark = infor.mark()
    with pytest.raises(ConfigError) as raised, _adapter(infor) as adapter:
        list(adapter.read_vendors())
    assert "ci/cs" in str(raised.value)
    assert len(infor.logins(mark)) == 1


def test_a_429_storm_backs_off_with_jitter_and_posts_once(infor: ErpUnderTest) -> None:
    infor.admin.arm_fault("rate_limit", count=3, **ADD_HEAD)
    with _adapter(infor) as adapter:
        adapter.post_invoice(infor.invoice())
    assert len(_batches(infor)) == 1
    refused = [r for r in infor.requests() if r["outcome"] == "rate_limit"]
    assert len(refused) == 3


def test_a_line_refused_after_the_head_leaves_a_batch_the_rerun_completes(
    infor: ErpUnderTest,
) -> None:
    good = infor.invoice(total="100.00", tax="0.00")
    [line] = good.lines
    bad = replace(
        good,
        lines=(
            replace(line, amount=Decimal("60.00")),
            PostableInvoiceLine("6950", Decimal("40.00"), "Travel"),  # not in M3
        ),
    )
    with _adapter(infor) as adapter, pytest.raises(RejectedByErpError) as refused:
        adapter.post_invoice(bad)
    assert "AO01" in str(refused.value)
    [half] = _batches(infor)
    # Not validated, so not a supplier invoice; approved, since M3 ran the bulk's approval.
    assert half["SUPA"] != "90" and len(half["lines"]) == 1  # type: ignore[arg-type]
    fixed = replace(bad, lines=(bad.lines[0], replace(bad.lines[1], ledger_code="6200")))
    mark = infor.mark()
    with _adapter(infor) as adapter:
        posted = adapter.post_invoice(fixed)
    [done] = _batches(infor)
    assert done["INBN"] == half["INBN"] and done["SUPA"] == "90"
    assert len(done["lines"]) == 2 and posted.doc_id == f"AAA/{done['INBN']}"  # type: ignore[arg-type]
    assert not [r for r in infor.requests(mark) if matches(ADD_HEAD, r)]


def test_an_answer_lost_after_the_head_is_completed_never_doubled(infor: ErpUnderTest) -> None:
    invoice = infor.invoice()
    infor.admin.arm_fault("error_after_commit", count=1, status=502, **BULK)
    with _adapter(infor) as adapter:
        with pytest.raises(NeedsLookupError):
            adapter.post_invoice(invoice)
        assert adapter.find_by_external_ref(invoice.ref) == []  # not validated yet
        posted = adapter.post_invoice(invoice)
    [batch] = _batches(infor)
    assert batch["SUPA"] == "90" and posted.doc_id == f"AAA/{batch['INBN']}"


def test_a_closed_period_is_refused_before_any_batch_exists(infor: ErpUnderTest) -> None:
    infor.admin.set_period(f"{TODAY:%Y-%m}", "closed")
    with _adapter(infor) as adapter, pytest.raises(M3PeriodClosedError):
        adapter.post_invoice(infor.invoice())
    assert _batches(infor) == []


def test_an_invoice_number_too_long_for_sino_is_refused_before_sending(
    infor: ErpUnderTest,
) -> None:
    mark = infor.mark()
    with _adapter(infor) as adapter, pytest.raises(BadInputError) as refused:
        adapter.post_invoice(infor.invoice(number="N" * 25))
    assert "SINO" in str(refused.value)
    assert infor.requests(mark) == []


def test_the_ionapi_secrets_never_reach_the_logs(
    infor: ErpUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    infor.admin.arm_fault("expire_session", count=1, **ADD_HEAD)
    with _adapter(infor) as adapter:
        adapter.post_invoice(infor.invoice())
    logged = caplog.text + str(infor.requests())
    assert CLIENT_SECRET not in logged and SERVICE_SECRET not in logged
    assert "access_token" not in logged or "***" in logged


def test_suppliers_are_read_in_pages_from_the_last_key(infor: ErpUnderTest) -> None:
    with _adapter(infor, page_size=4) as adapter:
        mark = infor.mark()
        codes = [v.code for v in adapter.read_vendors()]
    pages = [r for r in infor.requests(mark) if "LstSuppliers" in r["path"]]
    assert codes == sorted(codes) and len(codes) == len(set(codes)) == 11
    assert len(pages) >= 4 and "NWTRADERS" in codes


def test_a_bulk_refused_before_it_ran_answers_each_transaction(infor: ErpUnderTest) -> None:
    infor.admin.arm_fault("validation", count=1, message="Batch locked by APS450", **BULK)
    with _adapter(infor) as adapter, pytest.raises(RejectedByErpError) as refused:
        adapter.post_invoice(infor.invoice())
    assert "APS450MI/AddLine" in str(refused.value) and "Batch locked" in str(refused.value)
    [head_only] = _batches(infor)
    assert head_only["lines"] == [] and head_only["SUPA"] == "10"
    with _adapter(infor) as adapter:
        adapter.post_invoice(infor.invoice())  # another invoice goes through
