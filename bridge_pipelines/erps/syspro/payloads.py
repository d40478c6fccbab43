"""SYSPRO wire formats: the XML we send (APSTIN, APSSSP, COMFND) and the XML we read back.

Every document is built with lxml element by element, so a value can never change the XML's
shape (an invoice number `</Invoice>` is text, not markup). Amounts are `Decimal`s written as
plain strings with two decimals; an amount SYSPRO cannot hold exactly is refused, never rounded.

Answers are parsed with one hardened parser: a DOCTYPE is refused, no DTD is loaded, no entity
resolved, no network touched. e.net may answer with other element casing than we sent, so tags
are compared case-insensitively. Element names follow erp-facts.md (SYSPRO's own samples).
"""

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from lxml import etree

from bridge_pipelines.erps.base import (
    DimensionType,
    DocumentType,
    PostableInvoice,
    PostingPeriod,
    VendorChange,
)
from bridge_pipelines.erps.values import fit_text
from bridge_pipelines.errors import BadInputError

# Field lengths SYSPRO holds (ApInvoice.Invoice, ApInvoice.Reference, ApSupplier.Supplier).
MAX_INVOICE = 20
MAX_REFERENCE = 30
MAX_SUPPLIER = 15
MAX_NOTATION = 30
REFERENCE_PREFIX = "BRG"
CENT = Decimal("0.01")
_DECLARATION = re.compile(rb"^\s*<\?xml[^>]*encoding=[\"']([A-Za-z0-9._-]+)[\"']", re.IGNORECASE)
_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
)

APSTIN_PARAMETERS: tuple[tuple[str, str], ...] = (
    # SYSPRO's sample parameters, after the posting period (`ap_invoice_parameters`).
    ("IgnoreWarnings", "N"),
    ("ApplyIfEntireDocumentValid", "Y"),
    ("ValidateOnly", "N"),
    ("PostZeroAdjustments", "N"),
    ("LedgerDistributionCurrency", "L"),
    ("AutomaticTaxCalculation", "N"),
    ("ApArContraTrx", "N"),
    ("IgnoreAnalysis", "N"),
)
SETUP_PARAMETERS: tuple[tuple[str, str], ...] = (
    ("IgnoreWarnings", "N"),
    ("ApplyIfEntireDocumentValid", "Y"),
    ("ValidateOnly", "N"),
)


class MalformedResponseError(ValueError):
    """An answer that is not the XML we expect (truncated, hostile or of another shape)."""


# --- building ---------------------------------------------------------------------------------


def _sub(parent: etree._Element, tag: str, value: str | None = None) -> etree._Element:
    node = etree.SubElement(parent, tag)
    if value is not None:
        node.text = value
    return node


def _xml(root: etree._Element) -> str:
    # e.net takes XmlIn as query-string text; no declaration, so no encoding to disagree with.
    return etree.tostring(root, encoding="unicode")


def money(amount: Decimal, what: str) -> str:
    """`amount` as SYSPRO reads it (`1150.00`); refuses more than two decimals."""
    if not amount.is_finite():
        raise BadInputError(f"{what} {amount} is not a finite amount")
    exact = amount.quantize(CENT)
    if exact != amount:
        raise BadInputError(f"{what} {amount} has more than two decimals")
    return f"{exact:f}"


def reference_for(external_ref: str) -> str:
    """The value written into APSTIN's `TransactionReference` (30 characters) for our reference.

    A reference that fits is written as is; a longer one (a full hash) is written as
    `BRG` + the first 27 hex digits of its SHA-256, so post and lookup always agree.
    """
    if len(external_ref) <= MAX_REFERENCE:
        return external_ref
    digest = hashlib.sha256(external_ref.encode("utf-8")).hexdigest()
    return REFERENCE_PREFIX + digest[: MAX_REFERENCE - len(REFERENCE_PREFIX)]


def _parameters(root_tag: str, values: Iterable[tuple[str, str]]) -> str:
    root = etree.Element(root_tag)
    parameters = _sub(root, "Parameters")
    for tag, value in values:
        _sub(parameters, tag, value)
    return _xml(root)


def ap_invoice_parameters(period: PostingPeriod) -> str:
    """APSTIN `XmlParameters`: post in `period`, whole document or nothing.

    The period is the invoice's posting date's month, as a period number with its year
    (`PostingPeriod` 11, `PostingYear` 2026), never SYSPRO's `C` (whatever month SYSPRO is in):
    a closed period is refused, never moved. [I] SYSPRO's APSTIN sample sends `C`; the
    numbered form is how its GL journal (GENTJL) and Cash Book objects name a period.
    """
    numbered = (("PostingPeriod", f"{period.month:02d}"), ("PostingYear", f"{period.year:04d}"))
    return _parameters("PostApInvoice", (*numbered, *APSTIN_PARAMETERS))


def ap_invoice(invoice: PostableInvoice, tax_account: str | None = None) -> str:
    """APSTIN `XmlIn` for one invoice or credit note, our reference in `TransactionReference`.

    The vendor's invoice number is the `Invoice` key (what AP clerks see and search by); our
    reference sits in `TransactionReference`. Amounts are positive (`PostableInvoice`); the
    transaction code (I / C) carries a credit note's direction. Tax is expensed with the lines,
    or distributed to `tax_account` as one "Sales tax" line (`PostableInvoice.expense_lines`),
    so `TaxValue` is zero and the distribution adds up to the transaction value. Notations are
    cut by `fit_text`.

    Raises:
        BadInputError: a field SYSPRO cannot hold (invoice number too long, sub-cent amount).
    """
    if len(invoice.invoice_number) > MAX_INVOICE:
        raise BadInputError(
            f"invoice number {invoice.invoice_number!r} is longer than SYSPRO's "
            f"{MAX_INVOICE} characters"
        )
    if not invoice.invoice_number.strip():
        raise BadInputError("the invoice number is empty")
    if len(invoice.vendor_code) > MAX_SUPPLIER:
        raise BadInputError(f"supplier code {invoice.vendor_code!r} is longer than {MAX_SUPPLIER}")
    root = etree.Element("PostApInvoice")
    item = _sub(root, "Item")
    _sub(item, "Supplier", invoice.vendor_code)
    credit = invoice.document_type is DocumentType.CREDIT_MEMO
    _sub(item, "TransactionCode", "C" if credit else "I")
    _sub(item, "Branch")
    _sub(item, "Invoice", invoice.invoice_number)
    _sub(item, "TransactionValue", money(invoice.total, "invoice total"))
    _sub(item, "TaxValue", money(Decimal("0.00"), "invoice tax"))
    first_description = next((ln.description for ln in invoice.lines if ln.description), "")
    _sub(item, "Notation", fit_text(first_description, MAX_NOTATION))
    _sub(item, "TransactionReference", reference_for(invoice.external_ref))
    _sub(item, "JournalNotation", fit_text(f"Stampli {invoice.lineage.file_name}", MAX_NOTATION))
    _sub(item, "InvoiceDate", invoice.invoice_date.isoformat())
    _sub(item, "DueDate", invoice.due_date.isoformat() if invoice.due_date else None)
    for number, line in enumerate(invoice.expense_lines(tax_account), start=1):
        distribution = _sub(item, "LedgerDistribution")
        _sub(distribution, "LedgerCode", line.ledger_code)
        _sub(distribution, "LedgerNotation", fit_text(line.description, MAX_NOTATION))
        amount = money(line.amount, f"line {number} amount")
        _sub(distribution, "LedgerValue", amount)
        cost_center = line.dimensions.get(DimensionType.COST_CENTER.value)
        if cost_center:
            entry = _sub(distribution, "AnalysisLineEntry")
            _sub(entry, "AnalysisCode1", cost_center)
            _sub(entry, "EntryAmount", amount)
    return _xml(root)


def supplier_parameters() -> str:
    """APSSSP `XmlParameters` for Setup/Add and Setup/Update."""
    return _parameters("SetupApSupplier", SETUP_PARAMETERS)


def supplier_fields(vendor: VendorChange) -> dict[str, str]:
    """The APSSSP item elements a vendor change sets; absent values are left alone by Update."""
    fields: dict[str, str] = {
        "SupplierName": vendor.name,
        "SupShortName": fit_text(vendor.name, 20),
    }
    optional = {
        "Currency": vendor.currency,
        "TermsCode": vendor.terms_code,
        "TaxRegnNum": vendor.tax_id,
        "Email": vendor.email,
        "SupPostalCode": vendor.postal_code,
    }
    fields.update({k: v for k, v in optional.items() if v is not None})
    if vendor.address_lines:
        if len(vendor.address_lines) > 5:
            raise BadInputError("SYSPRO holds at most five supplier address lines")
        for number in range(1, 6):
            lines = vendor.address_lines
            fields[f"SupAddr{number}"] = lines[number - 1] if number <= len(lines) else ""
    fields["OnHold"] = "Y" if vendor.on_hold else "N"
    return fields


def supplier(code: str, fields: dict[str, str]) -> str:
    """APSSSP `XmlIn`: `SetupApSupplier/Item` with `Key/Supplier` and the given elements."""
    if not code or len(code) > MAX_SUPPLIER:
        raise BadInputError(f"supplier code {code!r} must be 1 to {MAX_SUPPLIER} characters")
    root = etree.Element("SetupApSupplier")
    item = _sub(root, "Item")
    _sub(_sub(item, "Key"), "Supplier", code)
    for tag, value in fields.items():
        _sub(item, tag, value)
    return _xml(root)


@dataclass(frozen=True)
class Condition:
    """One COMFND `Where/Expression`: `column condition value`, joined to the previous one."""

    column: str
    value: str
    condition: str = "EQ"
    and_or: str = "And"
    open_brackets: int = 1
    close_brackets: int = 1


def query(
    table: str,
    columns: Sequence[str],
    where: Sequence[Condition] = (),
    order_by: Sequence[str] = (),
    return_rows: int = 1000,
) -> str:
    """COMFND `XmlIn` (syspro-ruby's `comfnd.xml.erb` shape)."""
    root = etree.Element("Query")
    _sub(root, "TableName", table)
    _sub(root, "ReturnRows", str(return_rows))
    column_list = _sub(root, "Columns")
    for column in columns:
        _sub(column_list, "Column", column)
    if where:
        clause = _sub(root, "Where")
        for number, condition in enumerate(where):
            expression = _sub(clause, "Expression")
            _sub(expression, "OpenBracket", "(" * condition.open_brackets)
            if number:
                _sub(expression, "AndOr", condition.and_or)
            _sub(expression, "Column", condition.column)
            _sub(expression, "Condition", condition.condition)
            _sub(expression, "Value", condition.value)
            _sub(expression, "CloseBracket", ")" * condition.close_brackets)
    if order_by:
        order = _sub(root, "OrderBy")
        for column in order_by:
            _sub(order, "Column", column)
    return _xml(root)


# --- reading ----------------------------------------------------------------------------------


def parse_response(content: bytes, charset: str | None) -> etree._Element:
    """An e.net XML answer as a tree with lower-cased tags.

    The XML declaration names the encoding (Windows-1252); without one, the HTTP charset does.

    Raises:
        MalformedResponseError: not well-formed (e.g. truncated), empty, or carries a DOCTYPE.
    """
    head = content[:2048].upper()
    if b"<!DOCTYPE" in head or b"<!ENTITY" in content.upper():
        raise MalformedResponseError("the answer carries a DOCTYPE; refused")
    body = content
    if not _DECLARATION.match(content) and charset:
        try:
            text = content.decode(charset)
        except (LookupError, UnicodeDecodeError) as exc:
            raise MalformedResponseError(f"the answer is not valid {charset}") from exc
        body = re.sub(r"^\s*<\?xml[^>]*\?>", "", text).encode("utf-8")
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise MalformedResponseError(f"the answer is not well-formed XML: {exc.msg}") from None
    if root is None:
        raise MalformedResponseError("the answer is empty")
    for node in root.iter():
        if isinstance(node.tag, str):
            node.tag = node.tag.lower()
    return root


def _text(node: etree._Element | None, path: str) -> str:
    if node is None:
        return ""
    found = node.find(path.lower())
    return (found.text or "").strip() if found is not None else ""


def error_messages(root: etree._Element) -> list[str]:
    """Every business-object error in an answer (`ErrorDescription`, `ErrorMessage`...)."""
    messages = []
    for tag in ("errordescription", "errormessage", "gljournalerror"):
        for node in root.iter(tag):
            if node.text and node.text.strip():
                messages.append(node.text.strip())
    return messages


def _count(root: etree._Element, tag: str) -> int | None:
    value = _text(root, f"StatusOfItems/{tag}")
    try:
        return int(value) if value else None
    except ValueError:
        return None


@dataclass(frozen=True)
class PostedItem:
    """One APSTIN item SYSPRO posted: its key and AP journal."""

    supplier: str
    invoice: str
    journal: str

    @property
    def doc_id(self) -> str:
        """The ApInvoice key, `supplier/invoice`: the same from a post and from a lookup."""
        return f"{self.supplier}/{self.invoice}"


@dataclass(frozen=True)
class BusinessObjectResult:
    """What a transaction or setup answer says: processed count, errors, posted items."""

    processed: int
    invalid: int
    errors: list[str]
    items: list[PostedItem]


def business_object_result(root: etree._Element, output_root: str) -> BusinessObjectResult:
    """Read an APSTIN / APSSSP answer.

    Raises:
        MalformedResponseError: the root or the status block is not what the object writes.
    """
    if root.tag != output_root.lower():
        raise MalformedResponseError(f"expected <{output_root}>, got <{root.tag}>")
    processed = _count(root, "ItemsProcessed")
    invalid = _count(root, "ItemsInvalid")
    if processed is None:
        raise MalformedResponseError("the answer has no StatusOfItems/ItemsProcessed")
    items = []
    for item in root.findall("item"):
        key = item.find("transaction/key")
        journal = "/".join(
            _text(key, tag) for tag in ("TrnYear", "TrnMonth", "Journal", "EntryNumber")
        ).strip("/")
        items.append(
            PostedItem(
                supplier=_text(item, "Transaction/Supplier") or _text(item, "Key/Supplier"),
                invoice=_text(item, "Transaction/Invoice"),
                journal=journal,
            )
        )
    return BusinessObjectResult(processed, invalid or 0, error_messages(root), items)


def query_rows(root: etree._Element, table: str, columns: Sequence[str]) -> list[dict[str, str]]:
    """The `Row`s of a COMFND answer, keyed by the requested column names.

    Raises:
        MalformedResponseError: the root is not the table's name.
    """
    if root.tag != table.lower():
        raise MalformedResponseError(f"expected <{table}>, got <{root.tag}>")
    return [{c: _text(row, c) for c in columns} for row in root.findall("row")]
