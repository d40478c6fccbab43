"""SYSPRO wire formats for payments: APSTPM's XML out, its answer and `ApInvoicePay` back.

APSTPM `PostApManualPay` [C: SYSPRO's sample, erps/syspro/README.md]: one Item per check, in a
payment run (`PaymentNumber`), to one `Supplier`, with the check's number (`Cheque`), date and
value, a `PaymentReference`, and one `ReleasedInvoice` per document paid (`Invoice`,
`GrossPayValue`, `DiscPayValue`). Our reference goes into `PaymentReference`, which SYSPRO
keeps on every `ApInvoicePay` row it writes [C: the column], so COMFND and OData find the
payment by it. A credit note taken on the check is released with a negative value [I].

Built with lxml element by element, like `payloads.py`; amounts are two-decimal strings, an
amount SYSPRO cannot hold exactly is refused, never rounded.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from lxml import etree

from bridge_pipelines.erps.base import DocumentType, PostablePayment, PostingPeriod
from bridge_pipelines.erps.syspro.payloads import (
    MAX_INVOICE,
    MAX_SUPPLIER,
    MalformedResponseError,
    error_messages,
    money,
    reference_for,
)
from bridge_pipelines.erps.values import decimal_or_none
from bridge_pipelines.errors import BadInputError

MAX_CHEQUE = 10  # [I] the check number SYSPRO holds
MAX_PAYMENT_RUN = 10  # [I]
ANY_CURRENCY = "*"
# [C] SYSPRO's sample run for manual checks in the local currency.
DEFAULT_PAYMENT_RUNS: Mapping[str, str] = {ANY_CURRENCY: "MANLOC"}
APSTPM_PARAMETERS: tuple[tuple[str, str], ...] = (
    ("IgnoreWarnings", "N"),
    ("ApplyIfEntireDocumentValid", "Y"),
    ("ValidateOnly", "N"),
    ("IncludeDimensionAnalysis", "N"),
)
# What the adapter reads of `ApInvoicePay` (COMFND and OData).
PAY_COLUMNS = (
    "PaymentNumber",
    "Supplier",
    "Invoice",
    "Cheque",
    "ChequeDate",
    "PaymentReference",
    "TrnValue",
    "DiscValue",
)


def _sub(parent: etree._Element, tag: str, value: str | None = None) -> etree._Element:
    node = etree.SubElement(parent, tag)
    if value is not None:
        node.text = value
    return node


def payment_run_for(currency: str, runs: Mapping[str, str]) -> str:
    """The payment run a check in `currency` is captured in (`runs[currency]`, else `runs['*']`).

    Raises:
        BadInputError: no run is configured for the currency.
    """
    run = runs.get(currency.upper()) or runs.get(ANY_CURRENCY)
    if not run:
        raise BadInputError(
            f"no SYSPRO payment run is configured for {currency} payments; "
            "set erp.syspro_payment_runs"
        )
    if len(run) > MAX_PAYMENT_RUN:
        raise BadInputError(f"SYSPRO payment run {run!r} is longer than {MAX_PAYMENT_RUN}")
    return run


def cheque_number(payment: PostablePayment) -> str:
    """The check number SYSPRO records: Stampli's reference (the check's number), else its id.

    An identifier, so never cut: when neither fits SYSPRO's field (Stampli ids and ACH
    references are often longer), the last characters of our own reference stand in. They are
    deterministic (a resend carries the same number) and carry 50 bits of the reference, so
    two payments of a supplier do not share a number; Stampli's id stays findable through
    `PaymentReference`, which holds our reference.
    """
    for candidate in (payment.reference, payment.payment_id):
        value = (candidate or "").strip()
        if value and len(value) <= MAX_CHEQUE:
            return value
    return payment.external_ref[-MAX_CHEQUE:]


def manual_payment_parameters(period: PostingPeriod) -> str:
    """APSTPM `XmlParameters`: the payment date's period (numbered, as APSTIN), all or nothing."""
    root = etree.Element("PostApManualPay")
    parameters = _sub(root, "Parameters")
    _sub(parameters, "PostingPeriod", f"{period.month:02d}")
    _sub(parameters, "PostingYear", f"{period.year:04d}")
    for tag, value in APSTPM_PARAMETERS:
        _sub(parameters, tag, value)
    return etree.tostring(root, encoding="unicode")


def manual_payment(payment: PostablePayment, payment_run: str, cheque: str) -> str:
    """APSTPM `XmlIn` for one payment: one check, one `ReleasedInvoice` per document settled.

    Raises:
        BadInputError: a supplier code or invoice number SYSPRO cannot hold, or a sub-cent
            amount.
    """
    if len(payment.vendor_code) > MAX_SUPPLIER:
        raise BadInputError(f"supplier code {payment.vendor_code!r} is longer than {MAX_SUPPLIER}")
    root = etree.Element("PostApManualPay")
    item = _sub(root, "Item")
    _sub(item, "PaymentNumber", payment_run)
    _sub(item, "Supplier", payment.vendor_code)
    _sub(item, "ChequeDate", payment.payment_date.isoformat())
    _sub(item, "Cheque", cheque)
    _sub(item, "ChequeValue", money(payment.total, f"payment {payment.payment_id} total"))
    _sub(item, "PaymentReference", reference_for(payment.external_ref))
    for application in payment.applications:
        number = application.invoice.document_number
        if len(number) > MAX_INVOICE:
            raise BadInputError(f"invoice number {number!r} is longer than {MAX_INVOICE}")
        credit = application.document_type is DocumentType.CREDIT_MEMO
        value = money(application.amount, f"amount applied to {number}")
        released = _sub(item, "ReleasedInvoice")
        _sub(released, "Invoice", number)
        _sub(released, "GrossPayValue", f"-{value}" if credit else value)
        _sub(released, "DiscPayValue", "0.00")
    return etree.tostring(root, encoding="unicode")


@dataclass(frozen=True)
class ManualPayResult:
    """What an APSTPM answer says: processed count, errors, the run and the values released."""

    processed: int
    invalid: int
    errors: list[str]
    payment_run: str
    invoices_released: int
    gross_released: Decimal | None
    net_released: Decimal | None


def _text(node: etree._Element | None, path: str) -> str:
    if node is None:
        return ""
    found = node.find(path.lower())
    return (found.text or "").strip() if found is not None else ""


def _int(root: etree._Element, path: str) -> int | None:
    value = _text(root, path)
    try:
        return int(value) if value else None
    except ValueError:
        return None


def manual_payment_result(root: etree._Element) -> ManualPayResult:
    """Read an APSTPM answer (tags lower-cased by `payloads.parse_response`).

    SYSPRO right-aligns the numbers in spaces (`         1`); they are stripped here.

    Raises:
        MalformedResponseError: the root or the status block is not what APSTPM writes.
    """
    if root.tag != "postapmanualpay":
        raise MalformedResponseError(f"expected <postapmanualpay>, got <{root.tag}>")
    processed = _int(root, "StatusOfItems/ItemsProcessed")
    if processed is None:
        raise MalformedResponseError("the answer has no StatusOfItems/ItemsProcessed")
    item = root.find("item")
    return ManualPayResult(
        processed=processed,
        invalid=_int(root, "StatusOfItems/ItemsInvalid") or 0,
        errors=error_messages(root),
        payment_run=_text(item, "Key/PaymentNumber"),
        invoices_released=int(_text(item, "NumberOfInvoicesReleased") or 0),
        gross_released=decimal_or_none(_text(item, "GrossValueReleased")),
        net_released=decimal_or_none(_text(item, "NetValueReleased")),
    )


def payment_doc_id(payment_run: str, supplier: str, cheque: str) -> str:
    """A check's id in SYSPRO, `run/supplier/cheque`: the same from a post and from a lookup."""
    return f"{payment_run}/{supplier}/{cheque}"


@dataclass(frozen=True)
class PaymentRows:
    """The `ApInvoicePay` rows of one check: its key, reference, date and the values paid."""

    payment_run: str
    supplier: str
    cheque: str
    reference: str
    cheque_date: str
    net_paid: Decimal

    @property
    def doc_id(self) -> str:
        """`payment_doc_id` of the check."""
        return payment_doc_id(self.payment_run, self.supplier, self.cheque)


def group_checks(rows: Sequence[Mapping[str, object]]) -> list[PaymentRows]:
    """`ApInvoicePay` rows (one per invoice paid) folded into one entry per check.

    `net_paid` is what left the bank: gross minus discount over the check's invoices, a
    credit note's negative value included.
    """
    checks: dict[tuple[str, str, str], PaymentRows] = {}
    for row in rows:
        key = tuple(str(row.get(c) or "").strip() for c in ("PaymentNumber", "Supplier", "Cheque"))
        gross = decimal_or_none(row.get("TrnValue")) or Decimal(0)
        discount = decimal_or_none(row.get("DiscValue")) or Decimal(0)
        known = checks.get((key[0], key[1], key[2]))
        paid = (known.net_paid if known else Decimal(0)) + gross - discount
        checks[(key[0], key[1], key[2])] = PaymentRows(
            payment_run=key[0],
            supplier=key[1],
            cheque=key[2],
            reference=str(row.get("PaymentReference") or "").strip(),
            cheque_date=str(row.get("ChequeDate") or "").strip(),
            net_paid=paid,
        )
    return list(checks.values())
