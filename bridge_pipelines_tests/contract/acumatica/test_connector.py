"""The connector's Acumatica behaviour: bills with job-cost coding, lookups, release, payments."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from bridge_pipelines.erps.base import DimensionType, DocumentType
from bridge_pipelines.errors import NeedsLookupError, RejectedByErpError
from bridge_pipelines_tests.contract.acumatica.conftest import Acumatica, invoice

pytestmark = pytest.mark.contract


def test_a_bill_carries_line_level_gl_coding_and_the_vendor_reference(
    acumatica: Acumatica,
) -> None:
    bill = invoice(total="1078.00", tax="78.00")
    with acumatica.adapter() as adapter:
        posted = adapter.post_invoice(bill)
    [saved] = acumatica.bills()
    assert posted.doc_id == f"Bill/{saved['ReferenceNbr']}" and posted.complete
    assert (saved["Vendor"], saved["VendorRef"]) == ("VEND0001", bill.invoice_number)
    assert saved["Description"].startswith(bill.external_ref)
    assert saved["PostPeriod"] == f"{bill.posting_date:%m%Y}"
    [line] = saved["Details"]
    assert (line["Branch"], line["Account"], line["Subaccount"], line["Project"]) == (
        "HQ", "52000", "100-000", "X",
    )  # fmt: skip
    assert Decimal(str(line["ExtendedCost"])) == Decimal("1078.00")  # tax expensed with it


def test_before_posting_it_looks_up_vendor_and_vendor_ref_then_puts_create_only(
    acumatica: Acumatica,
) -> None:
    bill = invoice()
    mark = acumatica.mark()
    with acumatica.adapter() as adapter:
        first = adapter.post_invoice(bill)
        again = adapter.post_invoice(bill)  # a re-read file: found, never saved twice
    assert first.doc_id == again.doc_id and len(acumatica.bills()) == 1
    logged = [r for r in acumatica.requests(mark) if "/Bill" in r["path"]]
    puts = [r for r in logged if r["method"] == "PUT"]
    assert len(puts) == 1 and puts[0]["headers"]["if-none-match"] == "*"
    lookup = logged[0]
    assert lookup["method"] == "GET" and "VendorRef+eq" in lookup["query"]


def test_a_hand_keyed_bill_with_the_same_vendor_reference_is_refused_for_review(
    acumatica: Acumatica,
) -> None:
    bill = invoice()
    acumatica.login()
    keyed = {
        "Vendor": {"value": "VEND0001"},
        "VendorRef": {"value": bill.invoice_number},
        "Date": {"value": bill.invoice_date.isoformat()},
        "Details": [{"Account": {"value": "52000"}, "ExtendedCost": {"value": 1150.0}}],
    }
    assert acumatica.http.put(acumatica.entity("Bill"), json=keyed).status_code == 200  # fmt: skip
    with acumatica.adapter() as adapter, pytest.raises(RejectedByErpError) as raised:
        adapter.post_invoice(bill)
    assert "not posted by this bridge" in str(raised.value)
    assert len(acumatica.bills()) == 1


def test_a_po_reference_lines_up_with_the_open_purchase_order_on_the_bill_line(
    acumatica: Acumatica,
) -> None:
    matched = invoice(po_number="PO004512", center=None)
    unknown = invoice(po_number="PO-7777")
    with acumatica.adapter() as adapter:
        adapter.post_invoice(matched)
        adapter.post_invoice(unknown)
    by_ref = {b["VendorRef"]: b for b in acumatica.bills()}
    [line] = by_ref[matched.invoice_number]["Details"]
    assert (line["POOrderType"], line["POOrderNbr"]) == ("Normal", "PO004512")
    assert (line["Project"], line["Subaccount"]) == ("RIVERSIDE", "100-000")  # job cost from the PO
    [other] = by_ref[unknown.invoice_number]["Details"]
    assert "POOrderNbr" not in other and "(PO PO-7777)" in other["TransactionDescription"]


def test_a_422_on_a_missing_vendor_or_account_is_a_located_rejection(acumatica: Acumatica) -> None:
    with acumatica.adapter() as adapter, pytest.raises(RejectedByErpError) as raised:
        adapter.post_invoice(invoice(vendor="NOSUCHSUB"))
    assert "Vendor: 'Vendor' cannot be found in the system." in str(raised.value)
    assert raised.value.response and "cannot be found" in raised.value.response
    assert acumatica.bills() == []


def test_bills_are_released_when_the_tenant_asks(acumatica: Acumatica) -> None:
    with acumatica.adapter(acumatica_release_bills=True) as adapter:
        posted = adapter.post_invoice(invoice())
    [saved] = acumatica.bills()
    assert saved["Status"] == "Open" and posted.complete and posted.status == "Open"


def test_an_unreleased_bill_found_later_is_released_and_never_posted_twice(
    acumatica: Acumatica,
) -> None:
    bill = invoice()
    acumatica.admin.arm_fault(
        "error_before_commit", count=50, status=503, method="POST", path="*/Bill/ReleaseBill"
    )
    with acumatica.adapter(acumatica_release_bills=True) as adapter:
        with pytest.raises(NeedsLookupError, match="release failed"):
            adapter.post_invoice(bill)
        [stuck] = adapter.find_by_external_ref(bill.ref)
    assert not stuck.complete and stuck.status == "Balanced"
    acumatica.admin.clear_faults()
    with acumatica.adapter(acumatica_release_bills=True) as adapter:
        [found] = adapter.find_by_external_ref(bill.ref)
        again = adapter.post_invoice(bill)
    assert found.complete and found.doc_id == again.doc_id
    [saved] = acumatica.bills()
    assert saved["Status"] == "Open"


def test_an_error_after_the_bill_was_saved_is_looked_up_not_sent_again(
    acumatica: Acumatica,
) -> None:
    bill = invoice()
    acumatica.admin.arm_fault("garbage", count=1, method="PUT", path="*/Bill")
    with acumatica.adapter() as adapter:
        posted = adapter.post_invoice(bill)  # half an answer: the lookup finds it
    [saved] = acumatica.bills()
    assert posted.doc_id == f"Bill/{saved['ReferenceNbr']}"


def test_429_from_the_licence_is_retried_with_backoff_and_posted_once(
    acumatica: Acumatica,
) -> None:
    acumatica.admin.arm_fault("rate_limit", count=3, method="PUT", path="*/Bill")
    with acumatica.adapter() as adapter:
        adapter.post_invoice(invoice())
    assert len(acumatica.bills()) == 1 and acumatica.admin.faults() == []


def test_a_credit_memo_is_a_debit_adjustment_listed_negative(acumatica: Acumatica) -> None:
    memo = invoice(total="-57.50", document_type=DocumentType.CREDIT_MEMO)
    with acumatica.adapter() as adapter:
        adapter.post_invoice(memo)
        [listed] = list(adapter.read_posted_documents())
    [saved] = acumatica.bills()
    assert saved["Type"] == "Debit Adj." and Decimal(str(saved["Amount"])) == Decimal("57.50")
    assert listed.external_ref == memo.external_ref and listed.total == Decimal("-57.50")


def test_master_data_exports_subaccounts_as_cost_centers_with_branches_and_projects(
    acumatica: Acumatica,
) -> None:
    with acumatica.adapter() as adapter:
        dims = list(adapter.read_dimensions())
        lines = list(adapter.read_open_pos())
    kinds = {(d.type, d.code): d.active for d in dims}
    assert kinds[(DimensionType.COST_CENTER, "100-000")] is True
    assert kinds[(DimensionType.COST_CENTER, "500-000")] is False
    assert kinds[(DimensionType.BRANCH, "NORTH")] is True
    assert kinds[(DimensionType.PROJECT, "RIVERSIDE")] is True
    assert kinds[(DimensionType.PROJECT, "OLDTOWNLOFTS")] is False
    assert {line.po_number for line in lines} == {"PO004512", "PO004518", "PO004527"}
    rebar = next(line for line in lines if line.description.startswith("Rebar"))
    assert (rebar.amount, rebar.ledger_code, rebar.vendor_code) == (
        Decimal("45000"), "52000", "VEND0001",
    )  # fmt: skip


def _pay(acumatica: Acumatica, number: str, amount: str, day: date) -> dict:
    return acumatica.admin._call(
        "POST", "acumatica/checks",
        json={"vendor": "VEND0001", "bills": [{"ReferenceNbr": number, "amount": amount}],
              "date": day.isoformat(), "payment_ref": f"CHK {number}"},
    )  # fmt: skip


def test_payments_are_read_from_checks_applied_to_bills(acumatica: Acumatica) -> None:
    paid, partly, open_ = invoice(), invoice(total="500.00"), invoice(total="80.00")
    today = date.today()
    with acumatica.adapter(acumatica_release_bills=True) as adapter:
        docs = [adapter.post_invoice(b) for b in (paid, partly, open_)]
    _pay(acumatica, docs[0].document_number or "", "1150.00", today)
    acumatica.admin._call(  # a clerk names the bill by the vendor's invoice number
        "POST", "acumatica/checks",
        json={"vendor": "VEND0001", "date": today.isoformat(),
              "payment_ref": f"CHK {docs[1].document_number}",
              "bills": [{"VendorRef": partly.invoice_number, "amount": "200.00"}]},
    )  # fmt: skip
    since = datetime.now(UTC) - timedelta(days=2)
    with acumatica.adapter() as adapter:
        payments = sorted(adapter.read_payments(since), key=lambda p: p.amount)
        balances = {b.external_ref: b for b in adapter.read_open_balances(
            [paid.ref, partly.ref, open_.ref])}  # fmt: skip
        later = list(adapter.read_payments(datetime.now(UTC) + timedelta(days=2)))
    assert [(p.invoice_number, p.amount) for p in payments] == [
        (partly.invoice_number, Decimal("200")), (paid.invoice_number, Decimal("1150")),
    ]  # fmt: skip
    assert payments[0].vendor_code == "VEND0001" and payments[0].paid_on == today
    assert payments[0].reference == f"CHK {docs[1].document_number}"
    assert payments[0].method == "CHECK" and payments[0].payment_id.startswith("Payment/")
    assert later == []
    assert balances[paid.external_ref].paid
    assert balances[partly.external_ref].open_amount == Decimal("300")
    assert balances[open_.external_ref].open_amount == Decimal("80")
    assert balances[open_.external_ref].document_number == open_.invoice_number


def test_the_connector_is_reconcile_only_for_payments() -> None:
    from bridge_pipelines.erps import registry

    plugin = registry.plugin("acumatica")
    assert plugin.records_payments() is False
    assert plugin.reads_open_purchase_orders() is True


def test_412_on_the_create_only_put_is_looked_up_ours_or_refused(acumatica: Acumatica) -> None:
    ours, other = invoice(), invoice()
    # Saved, then answered 412 (a retried PUT meeting its own first attempt): it is ours.
    acumatica.admin.arm_fault("error_after_commit", count=1, status=412, method="PUT",
                              path="*/Bill")  # fmt: skip
    with acumatica.adapter() as adapter:
        found = adapter.post_invoice(ours)
    [saved] = acumatica.bills()
    assert found.doc_id == f"Bill/{saved['ReferenceNbr']}"
    # Refused with 412 and nothing of ours holds the key: a refusal for review, nothing sent.
    acumatica.admin.arm_fault("error_before_commit", count=1, status=412, method="PUT",
                              path="*/Bill")  # fmt: skip
    with acumatica.adapter() as adapter, pytest.raises(RejectedByErpError, match="not ours"):
        adapter.post_invoice(other)
    assert len(acumatica.bills()) == 1
