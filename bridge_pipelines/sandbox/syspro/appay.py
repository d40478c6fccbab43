"""APSTPM, `PostApManualPay`: a manual check (or EFT) paid to a supplier, applied to invoices.

[C] SYSPRO's sample (APSTPM.XML / APSTPMDOC.XML / APSTPMOUT.XML, "Copyright 1994-2016 SYSPRO
Ltd.", in `LuntuSYSPRO/myGitHub-rep@servers/syspro-enet/business_objects_catalog.json`):
Parameters `PostingPeriod`, `IgnoreWarnings`, `ApplyIfEntireDocumentValid`, `ValidateOnly`,
`IncludeDimensionAnalysis`; an Item holds `PaymentNumber` (the payment run, `MANLOC` in the
sample), `Supplier`, `ChequeDate`, `Cheque`, `ChequeValue`, `PaymentReference`, and one
`ReleasedInvoice` per invoice paid (`Invoice`, `Reference`, `GrossPayValue`, `DiscPayValue`,
withholding-tax fields); the answer is `postapmanualpay/Item/Key/PaymentNumber` with
`NumberOfInvoicesReleased`, `GrossValueReleased`, `NetValueReleased` (numbers right-aligned in
spaces, as SYSPRO prints them) and `StatusOfItems`.
[C] SYSPRO's help (Payment Cycle Maintenance, AP Manual Check Payment): a payment run is for one
bank, currency and payment type; the supplier's currency must be the run's; a check whose amount
is not fully distributed over the invoices is not saved as it is (Payment Amount Imbalance).
[C] The `ApInvoicePay` table (Supplier, Invoice, TrnType, PaymentReference, TrnValue,
PaymentNumber) holds the payments against an invoice; `ApInvoice.MthInvBal1` its balance.

[I] Our choices where nothing was found:
- The check is applied when APSTPM answers: the invoice's `MthInvBal1` drops by the gross paid
  and one `ApInvoicePay` row per invoice is written. SYSPRO itself pays the invoices captured in
  a run when the run is executed (APSTPD `PostApPaymentExecute`); the sandbox collapses the two.
- A payment value may not exceed the invoice's balance, nor have the other sign: an invoice
  (positive balance) takes positive values, a credit note (negative balance) negative ones.
- The net values (gross - discount) must add up to `ChequeValue` exactly (no imbalance saved).
- The same check number for the same supplier in the same run is refused (a duplicate check).
- `Cheque` holds 10 characters, `PaymentReference` 30; `TrnType` is `P` for a payment.
- The run must exist and be open; the demo company has `MANLOC` (USD) and `MANEUR` (EUR).
- The posting period follows APSTIN's rules (`apstin.PERIOD_RULE`, C / P / a numbered period),
  the period of the check date when `posting_period_source` is `invoice_date`.
- Error texts are ours; only their place (`ErrorDescription` in the Item, HTTP 200) is SYSPRO's.
"""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from lxml import etree

from bridge_pipelines.sandbox.erp_base import calendar
from bridge_pipelines.sandbox.erp_base.store import StateStore
from bridge_pipelines.sandbox.syspro import apstin
from bridge_pipelines.sandbox.syspro.xml_codec import (
    XmlInError,
    count_text,
    element,
    parse,
    render,
    sub,
    text,
)

BUSINESS_OBJECT = "APSTPM"
XML_ROOT = "PostApManualPay"
OUTPUT_ROOT = "postapmanualpay"
MAX_CHEQUE = 10
MAX_REFERENCE = 30
PAYMENT_TRN_TYPE = "P"
ZERO = Decimal("0.00")

SCHEMA = """
CREATE TABLE IF NOT EXISTS ApPayRun (PaymentNumber TEXT PRIMARY KEY, Bank TEXT NOT NULL,
    Currency TEXT NOT NULL, PaymentType TEXT NOT NULL, RunStatus TEXT NOT NULL DEFAULT 'O');
CREATE TABLE IF NOT EXISTS ApInvoicePay (id INTEGER PRIMARY KEY AUTOINCREMENT,
    PaymentNumber TEXT NOT NULL, Supplier TEXT NOT NULL, Invoice TEXT NOT NULL,
    TrnType TEXT NOT NULL, Cheque TEXT NOT NULL, ChequeDate TEXT NOT NULL,
    ChequeValue TEXT NOT NULL, PaymentReference TEXT NOT NULL, TrnValue TEXT NOT NULL,
    DiscValue TEXT NOT NULL, TrnYear INTEGER NOT NULL, TrnMonth INTEGER NOT NULL,
    Operator TEXT NOT NULL, PostedAt TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS ApInvoicePayReference ON ApInvoicePay (PaymentReference);
CREATE INDEX IF NOT EXISTS ApInvoicePayInvoice ON ApInvoicePay (Supplier, Invoice);
"""
# The demo company's manual payment runs: (number, bank, currency, payment type M = manual [I]).
PAYMENT_RUNS = (("MANLOC", "FB", "USD", "M"), ("MANEUR", "FB", "EUR", "M"))

# What COMFND and OData read of `ApInvoicePay` (logical name = column).
COLUMNS = (
    "PaymentNumber",
    "Supplier",
    "Invoice",
    "TrnType",
    "Cheque",
    "ChequeDate",
    "ChequeValue",
    "PaymentReference",
    "TrnValue",
    "DiscValue",
    "TrnYear",
    "TrnMonth",
)
MONEY_COLUMNS = frozenset({"ChequeValue", "TrnValue", "DiscValue"})
KEY = ("PaymentNumber", "Supplier", "Cheque", "Invoice")


def seed(store: StateStore) -> None:
    """The demo company's open manual payment runs."""
    with store.transaction() as conn:
        conn.executemany("INSERT INTO ApPayRun VALUES (?, ?, ?, ?, 'O')", PAYMENT_RUNS)


@dataclass
class _Release:
    invoice: str
    gross: Decimal
    discount: Decimal
    balance: Decimal = ZERO


@dataclass
class _Check:
    run: str
    supplier: str
    cheque: str
    cheque_date: date | None
    value: Decimal
    reference: str
    releases: list[_Release] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    period: tuple[int, int] | None = None
    processed: bool = False


_money = apstin._money  # SYSPRO reads amounts the same way in every posting object
Pending = dict[tuple[str, str], Decimal]


def _read(node: etree._Element, today: date) -> _Check:
    errors: list[str] = []
    raw_date = text(node, "ChequeDate")
    cheque_date = apstin._date(raw_date, "Cheque date", errors) if raw_date else today
    check = _Check(
        run=text(node, "PaymentNumber").upper(),
        supplier=text(node, "Supplier"),
        cheque=text(node, "Cheque"),
        cheque_date=cheque_date,
        value=_money(text(node, "ChequeValue"), "Cheque value", errors),
        reference=text(node, "PaymentReference"),
        errors=errors,
    )
    for release in node.findall("ReleasedInvoice"):
        check.releases.append(
            _Release(
                invoice=text(release, "Invoice"),
                gross=_money(text(release, "GrossPayValue"), "Gross pay value", errors),
                discount=_money(
                    text(release, "DiscPayValue"), "Discount pay value", errors, required=False
                ),
            )
        )
    return check


def _validate_header(store: StateStore, check: _Check, seen: set[tuple[str, str, str]]) -> None:
    errors = check.errors
    run = store.rows("SELECT * FROM ApPayRun WHERE PaymentNumber = ?", (check.run,))
    supplier = store.rows("SELECT Currency FROM ApSupplier WHERE Supplier = ?", (check.supplier,))
    if not check.run:
        errors.append("Payment number is required")
    elif not run:
        errors.append(f"Payment run '{check.run}' not found")
    elif run[0]["RunStatus"] != "O":
        errors.append(f"Payment run '{check.run}' is not open")
    if not check.supplier:
        errors.append("Supplier is required")
    elif not supplier:
        errors.append(f"Supplier '{check.supplier}' not found")
    elif run and supplier[0]["Currency"] != run[0]["Currency"]:
        errors.append(
            f"Supplier '{check.supplier}' currency {supplier[0]['Currency']} does not match "
            f"payment run '{check.run}' currency {run[0]['Currency']}"
        )
    if not check.cheque:
        errors.append("Cheque number is required")
    elif len(check.cheque) > MAX_CHEQUE:
        errors.append(f"Cheque number '{check.cheque}' exceeds {MAX_CHEQUE} characters")
    else:
        key = (check.run, check.supplier, check.cheque)
        if key in seen or store.rows(
            "SELECT 1 FROM ApInvoicePay WHERE PaymentNumber = ? AND Supplier = ? AND Cheque = ?",
            key,
        ):
            errors.append(
                f"Cheque '{check.cheque}' already captured for supplier '{check.supplier}' "
                f"in payment run '{check.run}'"
            )
        seen.add(key)
    if len(check.reference) > MAX_REFERENCE:
        errors.append(f"Payment reference exceeds {MAX_REFERENCE} characters")
    if check.value <= 0:
        errors.append("Cheque value must be greater than zero")
    if not check.releases:
        errors.append("At least one released invoice is required")


def _validate_releases(store: StateStore, check: _Check, pending: Pending) -> None:
    """Each release against the invoice's balance less what earlier Items of the post pay."""
    errors = check.errors
    invoices: set[str] = set()
    for release in check.releases:
        name = f"invoice '{release.invoice}'"
        if release.invoice in invoices:
            errors.append(f"Invoice '{release.invoice}' is released twice on this cheque")
            continue
        invoices.add(release.invoice)
        if not release.invoice:
            errors.append("Invoice is required on a released invoice")
            continue
        row = store.rows(
            "SELECT MthInvBal1 FROM ApInvoice WHERE Supplier = ? AND Invoice = ?",
            (check.supplier, release.invoice),
        )
        if not row:
            errors.append(f"Invoice '{release.invoice}' not found for supplier '{check.supplier}'")
            continue
        key = (check.supplier, release.invoice)
        balance = release.balance = Decimal(row[0]["MthInvBal1"]) - pending.get(key, ZERO)
        if balance == 0:
            errors.append(f"Invoice '{release.invoice}' is fully paid")
        elif release.gross == 0 or (release.gross > 0) != (balance > 0):
            errors.append(
                f"Gross pay value {release.gross} for {name} must have the sign of its "
                f"balance {balance}"
            )
        elif abs(release.gross) > abs(balance):
            errors.append(
                f"Gross pay value {release.gross} exceeds the balance {balance} of {name}"
            )
        wrong_sign = (release.discount > 0) != (release.gross > 0)
        if release.discount and (wrong_sign or abs(release.discount) > abs(release.gross)):
            errors.append(f"Discount pay value {release.discount} for {name} is invalid")
    net = sum((r.gross - r.discount for r in check.releases), ZERO)
    if check.releases and not errors and net != check.value:
        errors.append(f"Cheque value {check.value} does not equal the net value released {net}")
    if not errors:
        for release in check.releases:
            key = (check.supplier, release.invoice)
            pending[key] = pending.get(key, ZERO) + release.gross


def _apply(store: StateStore, checks: list[_Check], operator: str, now: str) -> None:
    with store.transaction() as conn:
        for check in checks:
            if check.errors:
                continue
            assert check.cheque_date is not None and check.period is not None
            year, month = check.period
            for release in check.releases:
                conn.execute(
                    "INSERT INTO ApInvoicePay (PaymentNumber, Supplier, Invoice, TrnType, Cheque, "
                    "ChequeDate, ChequeValue, PaymentReference, TrnValue, DiscValue, TrnYear, "
                    "TrnMonth, Operator, PostedAt) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        check.run, check.supplier, release.invoice, PAYMENT_TRN_TYPE,
                        check.cheque, check.cheque_date.isoformat(), str(check.value),
                        check.reference, str(release.gross), str(release.discount), year, month,
                        operator, now,
                    ),
                )  # fmt: skip
                conn.execute(
                    "UPDATE ApInvoice SET MthInvBal1 = ? WHERE Supplier = ? AND Invoice = ?",
                    (str(release.balance - release.gross), check.supplier, release.invoice),
                )
            paid = sum((r.gross for r in check.releases), ZERO)
            balance = conn.execute(
                "SELECT CurrentBalance FROM ApSupplier WHERE Supplier = ?", (check.supplier,)
            ).fetchone()[0]
            conn.execute(
                "UPDATE ApSupplier SET CurrentBalance = ? WHERE Supplier = ?",
                (str(Decimal(balance) - paid), check.supplier),
            )
            check.processed = True


def post_manual_payment(ctx: apstin.PostContext, xml_parameters: str, xml_in: str) -> bytes:
    """Run APSTPM; the answer is SYSPRO's output XML (errors inside it), Windows-1252."""
    parameters = (
        parse(xml_parameters, "XmlParameters").find("Parameters") if xml_parameters else None
    )
    root = parse(xml_in)
    if root.tag != XML_ROOT:
        raise XmlInError(f"XmlIn root must be {XML_ROOT}, not {root.tag}")
    choice = apstin._period_choice(parameters)
    whole_document = apstin._flag(parameters, "ApplyIfEntireDocumentValid", "Y") == "Y"
    validate_only = apstin._flag(parameters, "ValidateOnly", "N") == "Y"
    today = ctx.now.date()
    checks = [_read(node, today) for node in root.findall("Item")]
    seen: set[tuple[str, str, str]] = set()
    pending: Pending = {}
    for check in checks:
        _validate_header(ctx.store, check, seen)
        _validate_releases(ctx.store, check, pending)
        if choice.error:
            check.errors.append(choice.error)
            continue
        check.period = _period(ctx, check, choice)
        refusal = apstin._period_refusal(ctx, check.period)
        if refusal:
            check.errors.append(refusal)
    invalid = sum(1 for c in checks if c.errors)
    if checks and not validate_only and not (whole_document and invalid):
        _apply(ctx.store, checks, ctx.operator, ctx.now.isoformat())
    return _answer(checks, invalid)


def _period(ctx: apstin.PostContext, check: _Check, choice: apstin.PeriodChoice) -> tuple[int, int]:
    if ctx.config.get("posting_period_source") == "invoice_date" and check.cheque_date:
        return check.cheque_date.year, check.cheque_date.month
    if choice.year is not None and choice.month is not None:
        return choice.year, choice.month
    return calendar.shifted(ctx.now.date(), -1 if choice.code == "P" else 0)


def _right(value: object, width: int) -> str:
    """A number as SYSPRO prints it in this answer: right-aligned in spaces."""
    return f"{value!s:>{width}}"


def _answer(checks: list[_Check], invalid: int) -> bytes:
    out = element(OUTPUT_ROOT)
    for check in checks:
        node = sub(out, "Item")
        sub(sub(node, "Key"), "PaymentNumber", check.run)
        released = check.releases if check.processed else []
        gross = sum((r.gross for r in released), ZERO)
        net = sum((r.gross - r.discount for r in released), ZERO)
        sub(node, "NumberOfInvoicesReleased", _right(len(released), 10))
        sub(node, "GrossValueReleased", _right(gross, 16))
        sub(node, "NetValueReleased", _right(net, 16))
        for message in check.errors:
            sub(node, "ErrorDescription", message)
    status = sub(out, "StatusOfItems")
    sub(status, "ItemsProcessed", count_text(sum(1 for c in checks if c.processed)))
    sub(status, "ItemsInvalid", count_text(invalid))
    return render(out)


def documents(store: StateStore) -> list[dict[str, Any]]:
    """Every applied check with the invoices it paid, for `/_sandbox/documents`."""
    checks: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in store.rows("SELECT * FROM ApInvoicePay ORDER BY id"):
        key = (row["PaymentNumber"], row["Supplier"], row["Cheque"])
        doc = checks.setdefault(
            key,
            {
                "type": "ap_payment",
                "business_object": BUSINESS_OBJECT,
                "document_number": "/".join(key),
                "PaymentNumber": row["PaymentNumber"],
                "Supplier": row["Supplier"],
                "Cheque": row["Cheque"],
                "ChequeDate": row["ChequeDate"],
                "ChequeValue": row["ChequeValue"],
                "PaymentReference": row["PaymentReference"],
                "invoices": [],
            },
        )
        doc["invoices"].append(
            {"Invoice": row["Invoice"], "TrnValue": row["TrnValue"], "DiscValue": row["DiscValue"]}
        )
    return list(checks.values())
