"""APSTPM (PostApManualPay): a manual check applied to posted invoices, and what it changes.

The sandbox reproduces SYSPRO's documented shapes (SYSPRO's APSTPM sample: the Item, its
`ReleasedInvoice`s, the `postapmanualpay` answer) and the rules we chose where none was found
(sandbox/syspro/appay.py): never more than the open balance, the check equal to what it pays.
"""

from datetime import date
from decimal import Decimal
from xml.sax.saxutils import escape

import pytest

from bridge_pipelines_tests.contract.syspro import payloads
from bridge_pipelines_tests.contract.syspro.xml import errors, first, parse

pytestmark = pytest.mark.contract

PARAMETERS = (
    "<PostApManualPay><Parameters><PostingPeriod>{period}</PostingPeriod>"
    "<IgnoreWarnings>N</IgnoreWarnings><ApplyIfEntireDocumentValid>Y</ApplyIfEntireDocumentValid>"
    "<ValidateOnly>{validate}</ValidateOnly><IncludeDimensionAnalysis>N</IncludeDimensionAnalysis>"
    "</Parameters></PostApManualPay>"
)


def manual_pay(
    releases: tuple[tuple[str, str], ...] = (("INV-1001", "400.00"),),
    *,
    value: str | None = None,
    supplier: str = "SUP00001",
    run: str = "MANLOC",
    cheque: str = "CHK-1",
    reference: str = "BPREFPAY000000000001",
) -> str:
    """One `PostApManualPay/Item`; releases are (invoice, gross pay value)."""
    total = value or str(sum((Decimal(v) for _, v in releases), Decimal(0)))
    released = "".join(
        f"<ReleasedInvoice><Invoice>{escape(i)}</Invoice><ReEstablishInvoice/><Branch/>"
        f"<Reference/><GrossPayValue>{v}</GrossPayValue><DiscPayValue>0</DiscPayValue>"
        "</ReleasedInvoice>"
        for i, v in releases
    )
    return (
        f"<PostApManualPay><Item><PaymentNumber>{run}</PaymentNumber>"
        f"<Supplier>{supplier}</Supplier><ChequeDate>{date.today().isoformat()}</ChequeDate>"
        f"<Cheque>{escape(cheque)}</Cheque><ChequeValue>{total}</ChequeValue>"
        f"<PaymentReference>{reference}</PaymentReference>{released}</Item></PostApManualPay>"
    )


def _invoice(sandbox, user_id: str, number: str = "INV-1001", value: str = "1150.00", code="I"):
    net = str(Decimal(value) - 150)
    lines = (("10-6100", net, "CC-EAST"),)
    xml_in = payloads.ap_invoice(invoice=number, value=value, tax="150.00", code=code, lines=lines)
    response = sandbox.post(user_id, xml_in, xml_parameters=payloads.post_parameters())
    assert first(response.content, "ItemsProcessed") == "000001", response.text


def _pay(sandbox, user_id: str, xml_in: str, period: str = "C", validate: str = "N"):
    return sandbox.post(
        user_id,
        xml_in,
        business_object="APSTPM",
        xml_parameters=PARAMETERS.format(period=period, validate=validate),
    )


def _balance(sandbox, invoice: str = "INV-1001") -> Decimal:
    response = sandbox.odata(
        "ApInvoice", **{"$filter": f"Invoice eq '{invoice}'", "$select": "Invoice,MthInvBal1"}
    )
    [row] = response.json()["value"]
    return Decimal(str(row["MthInvBal1"]))


def _payments(sandbox) -> list[dict]:
    return [d for d in sandbox.admin.documents() if d["type"] == "ap_payment"]


def test_syspro_apstpm_partial_payment_answers_like_syspros_sample(syspro_sandbox):
    user_id = syspro_sandbox.logon()
    _invoice(syspro_sandbox, user_id)
    response = _pay(syspro_sandbox, user_id, manual_pay())
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml; charset=windows-1252")
    root = parse(response.content)
    assert root.tag == "postapmanualpay"
    assert root.findtext("Item/Key/PaymentNumber") == "MANLOC"
    # SYSPRO right-aligns these numbers in spaces, as in its sample output.
    assert root.findtext("Item/NumberOfInvoicesReleased") == "         1"
    assert root.findtext("Item/GrossValueReleased").strip() == "400.00"
    assert root.findtext("StatusOfItems/ItemsProcessed") == "000001"
    assert root.find("Item/ErrorDescription") is None
    assert _balance(syspro_sandbox) == Decimal("750.00")
    [payment] = _payments(syspro_sandbox)
    assert payment["document_number"] == "MANLOC/SUP00001/CHK-1"
    assert payment["invoices"] == [
        {"Invoice": "INV-1001", "TrnValue": "400.00", "DiscValue": "0.00"}
    ]


def test_syspro_apstpm_over_payment_is_refused_in_xml(syspro_sandbox):
    user_id = syspro_sandbox.logon()
    _invoice(syspro_sandbox, user_id)
    _pay(syspro_sandbox, user_id, manual_pay((("INV-1001", "1000.00"),), cheque="CHK-1"))
    response = _pay(syspro_sandbox, user_id, manual_pay((("INV-1001", "150.01"),), cheque="CHK-2"))
    assert response.status_code == 200
    assert first(response.content, "ItemsInvalid") == "000001"
    assert errors(response.content) == [
        "Gross pay value 150.01 exceeds the balance 150.00 of invoice 'INV-1001'"
    ]
    assert _balance(syspro_sandbox) == Decimal("150.00")
    assert len(_payments(syspro_sandbox)) == 1


def test_syspro_apstpm_paid_status_and_payments_read_through_odata(syspro_sandbox):
    user_id = syspro_sandbox.logon()
    _invoice(syspro_sandbox, user_id)
    _invoice(syspro_sandbox, user_id, "INV-1002")
    _pay(syspro_sandbox, user_id, manual_pay((("INV-1001", "1150.00"),)))
    paid = syspro_sandbox.odata("ApInvoice", **{"$filter": "MthInvBal1 eq 0"}).json()["value"]
    assert [(r["Invoice"], r["MthInvBal1"], r["OrigInvValue"]) for r in paid] == [
        ("INV-1001", 0, 1150)
    ]
    rows = syspro_sandbox.odata(
        "ApInvoicePay", **{"$filter": "startswith(PaymentReference,'BP')"}
    ).json()["value"]
    assert [(r["Invoice"], r["TrnValue"], r["PaymentReference"], r["TrnType"]) for r in rows] == [
        ("INV-1001", 1150, "BPREFPAY000000000001", "P")
    ]
    # and COMFND finds it by our reference, as the connector's lookup does
    query = payloads.comfnd(
        "ApInvoicePay", [("PaymentReference", "EQ", "BPREFPAY000000000001")], ("Cheque", "Invoice")
    )
    answer = syspro_sandbox.query(user_id, query)
    assert [r.findtext("Cheque") for r in parse(answer.content).findall("Row")] == ["CHK-1"]


def test_syspro_apstpm_one_check_settles_invoice_and_takes_credit_note(syspro_sandbox):
    user_id = syspro_sandbox.logon()
    _invoice(syspro_sandbox, user_id)
    _invoice(syspro_sandbox, user_id, "CN-1", value="230.00", code="C")
    response = _pay(
        syspro_sandbox, user_id, manual_pay((("INV-1001", "1150.00"), ("CN-1", "-230.00")))
    )
    root = parse(response.content)
    assert root.findtext("Item/NumberOfInvoicesReleased").strip() == "2"
    assert root.findtext("Item/NetValueReleased").strip() == "920.00"
    assert _balance(syspro_sandbox) == 0 and _balance(syspro_sandbox, "CN-1") == 0


@pytest.mark.parametrize(
    ("xml_in", "message"),
    [
        (
            manual_pay(value="399.00"),
            "Cheque value 399.00 does not equal the net value released 400.00",
        ),
        (manual_pay((("INV-1001", "-5.00"),)), "must have the sign of its balance 1150.00"),
        (
            manual_pay((("INV-9999", "5.00"),)),
            "Invoice 'INV-9999' not found for supplier 'SUP00001'",
        ),
        (manual_pay(run="NOPE"), "Payment run 'NOPE' not found"),
        (manual_pay(cheque="CHK-0123456789"), "exceeds 10 characters"),
        (
            manual_pay(run="MANEUR"),
            "Supplier 'SUP00001' currency USD does not match payment run 'MANEUR' currency EUR",
        ),
    ],
)
def test_syspro_apstpm_refusals_leave_the_balance_alone(syspro_sandbox, xml_in, message):
    user_id = syspro_sandbox.logon()
    _invoice(syspro_sandbox, user_id)
    response = _pay(syspro_sandbox, user_id, xml_in)
    assert response.status_code == 200
    assert any(message in e for e in errors(response.content)), errors(response.content)
    assert _balance(syspro_sandbox) == Decimal("1150.00") and _payments(syspro_sandbox) == []


def test_syspro_apstpm_same_cheque_twice_is_refused(syspro_sandbox):
    user_id = syspro_sandbox.logon()
    _invoice(syspro_sandbox, user_id)
    _pay(syspro_sandbox, user_id, manual_pay())
    again = _pay(syspro_sandbox, user_id, manual_pay())
    assert errors(again.content) == [
        "Cheque 'CHK-1' already captured for supplier 'SUP00001' in payment run 'MANLOC'"
    ]
    assert _balance(syspro_sandbox) == Decimal("750.00")


def test_syspro_apstpm_validate_only_and_closed_period_apply_nothing(syspro_sandbox):
    user_id = syspro_sandbox.logon()
    _invoice(syspro_sandbox, user_id)
    checked = _pay(syspro_sandbox, user_id, manual_pay(), validate="Y")
    assert errors(checked.content) == [] and first(checked.content, "ItemsProcessed") == "000000"
    today = date.today()
    syspro_sandbox.admin.configure(closed_periods=[f"{today.year:04d}-{today.month:02d}"])
    closed = _pay(syspro_sandbox, user_id, manual_pay())
    assert errors(closed.content) == [
        f"Posting period {today.year:04d}/{today.month:02d} is closed"
    ]
    assert _balance(syspro_sandbox) == Decimal("1150.00")


def test_syspro_apstpm_expired_session_answers_error_and_applies_nothing(syspro_sandbox):
    user_id = syspro_sandbox.logon()
    _invoice(syspro_sandbox, user_id)
    syspro_sandbox.admin.advance_clock(21 * 60)
    response = _pay(syspro_sandbox, user_id, manual_pay())
    assert response.status_code == 200 and response.text == "ERROR: Invalid UserId"
    assert _balance(syspro_sandbox) == Decimal("1150.00") and _payments(syspro_sandbox) == []


def test_syspro_apstpm_not_licensed_is_enet_exception_100000(syspro_sandbox):
    syspro_sandbox.admin.configure(licensed_business_objects=["APSTIN", "APSSSP", "COMFND"])
    response = _pay(syspro_sandbox, syspro_sandbox.logon(), manual_pay())
    assert response.status_code == 200 and response.text == "e.net exception 100000"


def test_syspro_apstpm_error_after_commit_leaves_the_payment_applied(syspro_sandbox):
    user_id = syspro_sandbox.logon()
    _invoice(syspro_sandbox, user_id)
    syspro_sandbox.admin.arm_fault(
        "error_after_commit", method="GET", path="*/Transaction/Post", query_contains="APSTPM"
    )
    response = _pay(syspro_sandbox, user_id, manual_pay())
    assert response.status_code == 500
    assert _balance(syspro_sandbox) == Decimal("750.00") and len(_payments(syspro_sandbox)) == 1


def test_syspro_apstpm_validation_fault_answers_in_its_own_root(syspro_sandbox):
    user_id = syspro_sandbox.logon()
    _invoice(syspro_sandbox, user_id)
    syspro_sandbox.admin.arm_fault(
        "validation", path="*/Transaction/Post", query_contains="APSTPM", message="Bank on hold"
    )
    response = _pay(syspro_sandbox, user_id, manual_pay())
    assert parse(response.content).tag == "postapmanualpay"
    assert errors(response.content) == ["Bank on hold"]
    assert _balance(syspro_sandbox) == Decimal("1150.00")


def test_syspro_apstpm_two_checks_in_one_post_cannot_overpay_together(syspro_sandbox):
    user_id = syspro_sandbox.logon()
    _invoice(syspro_sandbox, user_id)
    one = manual_pay((("INV-1001", "1000.00"),), cheque="CHK-1")
    two = manual_pay((("INV-1001", "1000.00"),), cheque="CHK-2")
    both = one.removesuffix("</PostApManualPay>") + two.removeprefix("<PostApManualPay>")
    response = _pay(syspro_sandbox, user_id, both)
    assert errors(response.content) == [
        "Gross pay value 1000.00 exceeds the balance 150.00 of invoice 'INV-1001'"
    ]
    assert _balance(syspro_sandbox) == Decimal("1150.00") and _payments(syspro_sandbox) == []


def test_syspro_apstpm_payment_and_balance_survive_a_crash(syspro_sandbox):
    user_id = syspro_sandbox.logon()
    _invoice(syspro_sandbox, user_id)
    _pay(syspro_sandbox, user_id, manual_pay())
    syspro_sandbox.running.kill()  # a crash, not a clean stop
    syspro_sandbox.running.start()
    assert _balance(syspro_sandbox) == Decimal("750.00") and len(_payments(syspro_sandbox)) == 1
    # the duplicate guard holds across the restart
    again = _pay(syspro_sandbox, user_id, manual_pay())
    assert errors(again.content) == [
        "Cheque 'CHK-1' already captured for supplier 'SUP00001' in payment run 'MANLOC'"
    ]
