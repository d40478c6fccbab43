"""The supplier invoice as an APS450MI batch: the head, its accounting lines, the payment.

- Head (`AddHead`): supplier `SUNO`, the vendor's invoice number in `SINO` (the field AP
  users search, and M3's duplicate check per supplier), dates as `YYYYMMDD` (`IVDT` invoice,
  `ACDT` accounting = our posting date, so the period is the posting date's month; `DUDT`
  due), currency `CUCD`, gross `CUAM`, tax `VTAM` 0 (Stampli's tax is expensed with the lines,
  `PostableInvoice.expense_lines`), our reference in `CORI` (correlation id, 36 [C]).
- Lines (`AddLine`): line type `RDTP` 8, "accounting line" [C Infor doc], net `NLAM`, the GL
  account in accounting object `AO01` and the cost centre in `AO02` (a project in `AO03`
  [I: the company's accounting-string setup decides]), free text in `CHGT` (30 [I]).
- A credit memo is the same batch with negative amounts [I].

Identifiers longer than their field are refused (`BadInputError`), never cut; free text is
fitted by `values.fit_text`. Money stays `Decimal` and travels as plain text.
"""

from datetime import date
from decimal import Decimal

from bridge_pipelines.erps.base import DimensionType, DocumentType, PostableInvoice
from bridge_pipelines.erps.values import checked_code, fit_text
from bridge_pipelines.errors import BadInputError

Record = dict[str, str]
ACCOUNTING_LINE = "8"
VALIDATED = "90"
DIMENSION_OBJECTS = {DimensionType.COST_CENTER: "AO02", DimensionType.PROJECT: "AO03"}
LIMITS = {"SUNO": 10, "SINO": 24, "CUCD": 3, "AO01": 20, "AO02": 10, "AO03": 10, "CORI": 36}


def m3_date(day: date) -> str:
    """`YYYYMMDD`, M3's date format."""
    return f"{day:%Y%m%d}"


def amount(value: Decimal) -> str:
    """A `Decimal` as M3 reads a number: plain, never exponent notation."""
    return format(value, "f")


def code(value: str, name: str, what: str) -> str:
    """An identifier for field `name`, refused (never cut) when longer than M3 holds."""
    checked_code(value, what)
    limit = LIMITS[name]
    if len(value) > limit:
        raise BadInputError(f"{what} {value!r} is {len(value)} characters; M3 {name} holds {limit}")
    return value


def _sign(invoice: PostableInvoice) -> Decimal:
    return Decimal(-1) if invoice.document_type is DocumentType.CREDIT_MEMO else Decimal(1)


def head(invoice: PostableInvoice) -> Record:
    """`APS450MI/AddHead`'s record."""
    record = {
        "SUNO": code(invoice.vendor_code, "SUNO", "supplier"),
        "SINO": code(invoice.invoice_number, "SINO", "invoice number"),
        "IVDT": m3_date(invoice.invoice_date),
        "ACDT": m3_date(invoice.posting_date),
        "CUCD": code(invoice.currency, "CUCD", "currency"),
        "CUAM": amount(invoice.total * _sign(invoice)),
        "VTAM": "0",
        "CORI": code(invoice.external_ref, "CORI", "reference"),
        "SDA1": fit_text(f"Stampli {invoice.invoice_number}", 60),
    }
    if invoice.due_date is not None:
        record["DUDT"] = m3_date(invoice.due_date)
    return record


def lines(invoice: PostableInvoice) -> list[Record]:
    """`APS450MI/AddLine` records, without `INBN` (the batch is known once the head is in)."""
    sign = _sign(invoice)
    records = []
    for line in invoice.expense_lines():
        record = {
            "RDTP": ACCOUNTING_LINE,
            "NLAM": amount(line.amount * sign),
            "AO01": code(line.ledger_code, "AO01", "GL account"),
            "CHGT": fit_text(line.description, 30),
        }
        for dimension, field in DIMENSION_OBJECTS.items():
            value = line.dimensions.get(dimension)
            if value:
                record[field] = code(value, field, str(dimension).replace("_", " "))
        records.append(record)
    return records


def same_line(sent: Record, held: Record) -> bool:
    """Whether a line M3 holds (`LstLines`) is the one we would send (resuming a batch)."""
    return (
        Decimal(held.get("NLAM") or 0) == Decimal(sent["NLAM"])
        and held.get("AO01", "") == sent["AO01"]
        and all(held.get(f, "") == sent.get(f, "") for f in DIMENSION_OBJECTS.values())
    )
