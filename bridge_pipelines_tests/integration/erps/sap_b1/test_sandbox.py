"""The SAP B1 adapter against the Service Layer sandbox: sessions, faults, paging, both modes."""

import threading
from decimal import Decimal

import pytest
from pydantic import SecretStr

from bridge_pipelines.erps.base import DimensionType, ErpAdapter, VendorChange
from bridge_pipelines.errors import (
    ConfigError,
    NeedsLookupError,
    RejectedByErpError,
    RetryableError,
)
from bridge_pipelines.sandbox.sap_b1.seed import SAP_B1_SEED
from bridge_pipelines_tests.integration.erps.sap_b1.helpers import (
    adapter_for,
    calls,
    invoice,
    posted,
)

POST = "/b1s/v1/PurchaseInvoices"


def test_adapter_satisfies_the_protocol(sapb1_sandbox):
    with adapter_for(sapb1_sandbox) as adapter:
        assert isinstance(adapter, ErpAdapter)
        assert adapter.lookup_is_read_after_write_consistent is True


def test_one_login_per_batch_and_logout_ends_it(sapb1_sandbox):
    with adapter_for(sapb1_sandbox) as adapter:
        for n in range(5):
            adapter.post_invoice(invoice(f"INV-{n}"))
        assert len(adapter.find_by_external_ref(invoice("INV-3").ref)) == 1
        cookie = adapter.client._cookies["B1SESSION"]
    assert len(calls(sapb1_sandbox, "/Login")) == 1
    logouts = calls(sapb1_sandbox, "/Logout")
    assert [r["status"] for r in logouts] == [204]
    # The session is gone on the server.
    answer = sapb1_sandbox.request(
        "GET", "BusinessPartners", {"B1SESSION": cookie, "ROUTEID": ".node1"}
    )
    assert answer.status_code == 401
    assert [d["JournalMemo"] for d in posted(sapb1_sandbox)] == [
        invoice(f"INV-{n}").external_ref for n in range(5)
    ]


def test_posted_service_invoice_carries_what_we_sent(sapb1_sandbox):
    with adapter_for(sapb1_sandbox) as adapter:
        ref = adapter.post_invoice(invoice(cost_center="EAST"))
    [doc] = posted(sapb1_sandbox)
    assert ref.doc_id == f"PurchaseInvoices({doc['DocEntry']})"
    assert doc["CardCode"] == "V10001" and doc["DocTotal"] == "1150.00"
    assert doc["lines"][0]["CostingCode"] == "EAST"


def test_session_expiry_mid_batch_relogins_once_without_duplicate(sapb1_sandbox):
    with adapter_for(sapb1_sandbox) as adapter:
        adapter.post_invoice(invoice("INV-1"))
        sapb1_sandbox.admin.advance_clock(31 * 60)  # past the 30-minute idle timeout
        adapter.post_invoice(invoice("INV-2"))
        adapter.post_invoice(invoice("INV-3"))
    assert len(calls(sapb1_sandbox, "/Login")) == 2
    assert len(calls(sapb1_sandbox, POST, "POST")) == 4  # 1, the refused 2, 2 again, 3
    assert [d["JournalMemo"] for d in posted(sapb1_sandbox)] == [
        invoice(f"INV-{n}").external_ref for n in (1, 2, 3)
    ]


def test_expired_session_on_a_read_is_repeated_after_login(sapb1_sandbox):
    with adapter_for(sapb1_sandbox) as adapter:
        assert list(adapter.read_gl_accounts())
        sapb1_sandbox.admin.arm_fault("expire_session", path="*/BusinessPartners", count=1)
        assert len(list(adapter.read_vendors())) == 11
    assert len(calls(sapb1_sandbox, "/Login")) == 2


def test_wrong_password_is_one_config_error_no_storm(sapb1_sandbox):
    with (
        pytest.raises(ConfigError) as caught,
        adapter_for(sapb1_sandbox, password=SecretStr("Wrong#Pass99")) as adapter,
    ):
        adapter.post_invoice(invoice())
    assert len(calls(sapb1_sandbox, "/Login")) == 1
    assert "Wrong#Pass99" not in str(caught.value) and "-304" in str(caught.value)
    assert posted(sapb1_sandbox) == []


def test_parallel_login_failures_back_off_and_every_batch_gets_in(sapb1_sandbox):
    sapb1_sandbox.admin.configure(parallel_login_limit=1, login_latency_ms=150)
    results: list[object] = []

    def batch(n: int) -> None:
        try:
            with adapter_for(sapb1_sandbox, max_attempts=8) as adapter:
                results.append(adapter.post_invoice(invoice(f"INV-{n}")))
        except Exception as exc:  # collected, asserted below
            results.append(exc)

    threads = [threading.Thread(target=batch, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert all(not isinstance(r, Exception) for r in results), results
    logins = calls(sapb1_sandbox, "/Login")
    refused = [r for r in logins if r["status"] == 500]
    assert refused, "the sandbox should have refused a parallel login"
    assert len(logins) <= 3 * 8 and len(posted(sapb1_sandbox)) == 3


def test_validation_error_is_rejected_with_a_located_message(sapb1_sandbox):
    with adapter_for(sapb1_sandbox) as adapter, pytest.raises(RejectedByErpError) as caught:
        adapter.post_invoice(invoice(vendor="V99999"))
    assert "CardCode: Invalid BP code 'V99999'" in str(caught.value)
    assert caught.value.field == "CardCode" and caught.value.response


def test_inactive_account_is_rejected_and_nothing_posted(sapb1_sandbox):
    with adapter_for(sapb1_sandbox) as adapter, pytest.raises(RejectedByErpError) as caught:
        adapter.post_invoice(invoice(account="_SYS00000006900"))
    assert "_SYS00000006900" in str(caught.value)
    assert posted(sapb1_sandbox) == []


@pytest.mark.parametrize(
    ("action", "spec"),
    [
        ("error_after_commit", {"status": 500}),
        ("error_after_commit", {"status": 502}),
        ("reset_after_commit", {}),
        ("hang_after_commit", {"seconds": 5}),
    ],
)
def test_fault_after_commit_needs_lookup_which_finds_exactly_one(sapb1_sandbox, action, spec):
    sapb1_sandbox.admin.arm_fault(action, path=POST, method="POST", count=1, **spec)
    inv = invoice()
    with adapter_for(sapb1_sandbox) as adapter:
        with pytest.raises(NeedsLookupError):
            adapter.post_invoice(inv)
        found = adapter.find_by_external_ref(inv.ref)
    assert len(found) == 1 and found[0].external_ref == inv.external_ref
    assert len(calls(sapb1_sandbox, POST, "POST")) == 1  # never re-sent blindly
    assert len(posted(sapb1_sandbox)) == 1


def test_server_error_on_reads_is_retried(sapb1_sandbox):
    sapb1_sandbox.admin.arm_fault(
        "error_before_commit", path="*/ChartOfAccounts", count=2, status=502
    )
    with adapter_for(sapb1_sandbox) as adapter:
        # The demo company's ten Stampli accounts and B1's own bank account (payments).
        assert len(list(adapter.read_gl_accounts())) == len(SAP_B1_SEED.accounts) == 11


def test_paging_reads_every_supplier_across_next_links(sapb1_sandbox):
    with adapter_for(sapb1_sandbox, page_size=5) as adapter:
        vendors = list(adapter.read_vendors())
    assert [v.code for v in vendors] == [f"V{10001 + n}" for n in range(11)]
    pages = calls(sapb1_sandbox, "/BusinessPartners", "GET")
    assert len(pages) == 3


def test_paging_with_a_full_last_page(sapb1_sandbox):
    with adapter_for(sapb1_sandbox, page_size=2) as adapter:
        centers = [d for d in adapter.read_dimensions() if d.type == DimensionType.COST_CENTER]
    assert [c.code for c in centers] == ["EAST", "WEST", "HQ", "RND"]


def test_master_data_reads(sapb1_sandbox):
    with adapter_for(sapb1_sandbox) as adapter:
        accounts = {a.code: a for a in adapter.read_gl_accounts()}
        dimensions = list(adapter.read_dimensions())
        lines = list(adapter.read_open_pos())
    assert accounts["_SYS00000006900"].active is False
    projects = {d.code: d.active for d in dimensions if d.type == DimensionType.PROJECT}
    assert projects == {"P001": True, "P002": True, "P099": False}
    assert lines and all(isinstance(line.amount, Decimal) for line in lines)
    assert {line.po_number for line in lines} <= {"1", "2", "3"}


def test_upsert_vendor_creates_then_updates(sapb1_sandbox):
    change = VendorChange(tenant="demo", name="New Supplier", code="V20001", currency="USD")
    with adapter_for(sapb1_sandbox) as adapter:
        first = adapter.upsert_vendor(change)
        second = adapter.upsert_vendor(
            VendorChange(tenant="demo", name="Renamed Supplier", code="V20001")
        )
        vendors = {v.code: v for v in adapter.read_vendors()}
    assert (first.created, second.created) == (True, False)
    assert vendors["V20001"].name == "Renamed Supplier"
    assert calls(sapb1_sandbox, "/BusinessPartners('V20001')", "PATCH")[0]["status"] == 204


def test_journal_entry_mode_posts_balanced_entries_found_by_reference(sapb1_sandbox):
    with adapter_for(sapb1_sandbox, posting_mode="journal_entry") as adapter:
        ref = adapter.post_invoice(invoice(cost_center="EAST"))
        found = adapter.find_by_external_ref(invoice().ref)
    [entry] = posted(sapb1_sandbox, "JournalEntry")
    assert entry["debits"] == entry["credits"] == "1150.00"
    assert entry["Reference"] == invoice().external_ref
    assert [f.doc_id for f in found] == [ref.doc_id] == [f"JournalEntries({entry['JdtNum']})"]
    assert posted(sapb1_sandbox) == []


def test_secrets_never_reach_exception_text(sapb1_sandbox):
    with adapter_for(sapb1_sandbox) as adapter:
        adapter.post_invoice(invoice("INV-1"))
        session = adapter.client._cookies["B1SESSION"]
        echo = f"echo {sapb1_sandbox.password} {session}"
        sapb1_sandbox.admin.arm_fault("validation", path=POST, method="POST", message=echo)
        with pytest.raises(RejectedByErpError) as caught:
            adapter.post_invoice(invoice("INV-2"))
    text = f"{caught.value} {caught.value.response}"
    assert sapb1_sandbox.password not in text and session not in text


def test_unreachable_server_is_retryable(sapb1_sandbox):
    with (
        pytest.raises(RetryableError),
        adapter_for(sapb1_sandbox, base_url="http://127.0.0.1:9", max_attempts=2) as adapter,
    ):
        adapter.post_invoice(invoice())
