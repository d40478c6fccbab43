"""APSTIN, `PostApInvoice`: AP invoices and credit notes, posted to the AP and GL journals.

Validation follows what SYSPRO enforces for an AP invoice: the supplier exists, the invoice
number is new for that supplier, every ledger code exists and is not on hold, analysis codes
exist (unless IgnoreAnalysis=Y), the posting period is open, and TransactionValue equals the
sum of LedgerValue plus TaxValue. The document gets SYSPRO's numbers: an AP journal per post
(TrnYear/TrnMonth/Journal, EntryNumber per invoice) and a GL journal (GlYear/GlPeriod/GlJournal).

[I] Tax: with AutomaticTaxCalculation=N the caller states tax in `TaxValue` (per Item, default
0). It is debited to the tax control account; the AP control account is credited with the full
TransactionValue, so every journal balances.
Period: `PostingPeriod` C [C: SYSPRO's sample] is the current AP month (the sandbox clock's),
P the month before [I]; a month number with `PostingYear` beside it [I: the form SYSPRO's GL
journal (GENTJL) and Cash Book objects take] is that period, which is what the bridge sends
(the posting date's month). Setting `posting_period_source` to `invoice_date` takes the
InvoiceDate's month instead. The AP month goes into TrnYear/TrnMonth and the GL journal's
GlYear/GlPeriod (financial year = calendar year [I]). Whether the period takes postings is the
sandbox's period calendar (`/_sandbox/periods`): the current and previous months open, older
ones closed, later ones not opened yet ([C] SYSPRO's AP help: postings go to the current
month or one or two before it, while the period's access status is Open); a month in
`closed_periods` ("YYYY-MM") is closed too. A refused period is an `ErrorDescription` [I text].
[I] Error texts are ours; only their place (`ErrorDescription` in the Item, HTTP 200) is SYSPRO's.
"""

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from lxml import etree

from bridge_pipelines.sandbox.erp_base import calendar
from bridge_pipelines.sandbox.erp_base.store import StateStore
from bridge_pipelines.sandbox.syspro.seed import (
    AP_CONTROL_ACCOUNT,
    COST_CENTER_ANALYSIS_TYPE,
    TAX_CONTROL_ACCOUNT,
)
from bridge_pipelines.sandbox.syspro.store import next_number
from bridge_pipelines.sandbox.syspro.xml_codec import (
    XmlInError,
    count_text,
    decimal,
    element,
    parse,
    render,
    sub,
    text,
)

CENT = Decimal("0.01")
MAX_INVOICE = 20
MAX_REFERENCE = 30


@dataclass
class _Line:
    ledger_code: str
    notation: str
    value: Decimal
    analysis: list[tuple[str, Decimal]]


@dataclass
class _Item:
    supplier: str
    code: str
    branch: str
    invoice: str
    value: Decimal
    tax: Decimal
    tax_code: str
    notation: str
    reference: str
    journal_notation: str
    invoice_date: date | None
    due_date: date | None
    currency: str = ""
    lines: list[_Line] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    key: tuple[int, int, int, int] | None = None


@dataclass(frozen=True)
class PostContext:
    """What a post needs besides the XML: the store, the sandbox clock and settings."""

    store: StateStore
    now: datetime
    operator: str
    config: dict[str, Any]


def _flag(parameters: etree._Element | None, tag: str, default: str) -> str:
    return (text(parameters, tag) or default).upper()[:1]


def _date(value: str, what: str, errors: list[str]) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors.append(f"{what} '{value}' is not a valid date")
        return None


def _money(value: str, what: str, errors: list[str], *, required: bool = True) -> Decimal:
    number = decimal(value)
    if number is None:
        if value or required:
            errors.append(f"{what} '{value}' is not a valid amount")
        return Decimal("0.00")
    if number != number.quantize(CENT):
        errors.append(f"{what} '{value}' has more than 2 decimals")
    return number.quantize(CENT)


def _read_item(node: etree._Element) -> _Item:
    errors: list[str] = []
    item = _Item(
        supplier=text(node, "Supplier"),
        code=text(node, "TransactionCode").upper(),
        branch=text(node, "Branch"),
        invoice=text(node, "Invoice"),
        value=_money(text(node, "TransactionValue"), "Transaction value", errors),
        tax=_money(text(node, "TaxValue"), "Tax value", errors, required=False),
        tax_code=text(node, "TaxCode"),
        notation=text(node, "Notation"),
        reference=text(node, "TransactionReference"),
        journal_notation=text(node, "JournalNotation"),
        invoice_date=_date(text(node, "InvoiceDate"), "Invoice date", errors),
        due_date=_date(text(node, "DueDate"), "Due date", errors),
        errors=errors,
    )
    for dist in node.findall("LedgerDistribution"):
        ledger_value = _money(text(dist, "LedgerValue"), "Ledger value", errors)
        entries = dist.findall("AnalysisLineEntry")
        analysis = []
        for entry in entries:
            amount = text(entry, "EntryAmount")
            value = (
                ledger_value
                if not amount and len(entries) == 1
                else _money(amount, "Analysis entry amount", errors)
            )
            analysis.append((text(entry, "AnalysisCode1"), value))
        item.lines.append(
            _Line(text(dist, "LedgerCode"), text(dist, "LedgerNotation"), ledger_value, analysis)
        )
    return item


# [C] SYSPRO posts into the current AP month or the ones before it; a later one is not open.
PERIOD_RULE = calendar.CalendarRule(open_back=1, open_ahead=0, later=calendar.NOT_OPEN)


@dataclass(frozen=True)
class PeriodChoice:
    """What XmlParameters ask for: C (current), P (previous), or a period and its year."""

    code: str
    year: int | None = None
    month: int | None = None
    error: str | None = None


def _period_choice(parameters: etree._Element | None) -> PeriodChoice:
    raw = text(parameters, "PostingPeriod").strip().upper() or "C"
    if raw in ("C", "P"):
        return PeriodChoice(raw)
    year_text = text(parameters, "PostingYear").strip()
    if not raw.isdigit() or not 1 <= int(raw) <= 12:
        return PeriodChoice("", error=f"Posting period '{raw}' is invalid; use C, P or 1 to 12")
    if not (year_text.isdigit() and len(year_text) == 4):
        return PeriodChoice("", error=f"Posting year '{year_text}' is invalid for period {raw}")
    return PeriodChoice("N", int(year_text), int(raw))


def _period(ctx: PostContext, item: _Item, choice: PeriodChoice) -> tuple[int, int]:
    today = ctx.now.date()
    if ctx.config.get("posting_period_source") == "invoice_date" and item.invoice_date:
        return item.invoice_date.year, item.invoice_date.month
    if choice.year is not None and choice.month is not None:
        return choice.year, choice.month
    return calendar.shifted(today, -1 if choice.code == "P" else 0)


def _period_refusal(ctx: PostContext, period: tuple[int, int]) -> str | None:
    """SYSPRO's reason a period takes no postings [I text], or None when it is open."""
    year, month = period
    if calendar.period_key(year, month) in set(ctx.config.get("closed_periods", [])):
        return f"Posting period {year:04d}/{month:02d} is closed"
    status = calendar.status_of(ctx.config, ctx.now.date(), year, month, PERIOD_RULE)
    if status == calendar.CLOSED:
        return f"Posting period {year:04d}/{month:02d} is closed"
    if status == calendar.NOT_OPEN:
        current = ctx.now.date()
        return (
            f"Posting period {year:04d}/{month:02d} is not open; the current AP period is "
            f"{current.year:04d}/{current.month:02d}"
        )
    return None


def _validate(
    ctx: PostContext, item: _Item, seen: set[tuple[str, str]], ignore_analysis: bool
) -> None:
    errors = item.errors
    conn_rows = ctx.store.rows
    supplier = conn_rows("SELECT * FROM ApSupplier WHERE Supplier = ?", (item.supplier,))
    if not item.supplier:
        errors.append("Supplier is required")
    elif not supplier:
        errors.append(f"Supplier '{item.supplier}' not found")
    else:
        item.currency = supplier[0]["Currency"]
        if item.due_date is None and item.invoice_date is not None:
            terms = conn_rows(
                "SELECT DueDays FROM terms WHERE TermsCode = ?", (supplier[0]["TermsCode"],)
            )
            days = int(terms[0]["DueDays"]) if terms else 30
            item.due_date = item.invoice_date + timedelta(days=days)
    if item.code not in ("I", "C"):
        errors.append(f"Transaction code '{item.code}' is invalid; use I or C")
    if not item.invoice:
        errors.append("Invoice number is required")
    elif len(item.invoice) > MAX_INVOICE:
        errors.append(f"Invoice number '{item.invoice}' exceeds {MAX_INVOICE} characters")
    elif (item.supplier, item.invoice) in seen or conn_rows(
        "SELECT 1 FROM ApInvoice WHERE Supplier = ? AND Invoice = ?", (item.supplier, item.invoice)
    ):
        errors.append(f"Invoice '{item.invoice}' already exists for supplier '{item.supplier}'")
    seen.add((item.supplier, item.invoice))
    if len(item.reference) > MAX_REFERENCE:
        errors.append(f"Transaction reference exceeds {MAX_REFERENCE} characters")
    if item.invoice_date is None and not any("Invoice date" in e for e in errors):
        errors.append("Invoice date is required")
    if item.value <= 0:
        errors.append("Transaction value must be greater than zero")
    if not item.lines:
        errors.append("At least one ledger distribution is required")
    for line in item.lines:
        gl = conn_rows("SELECT AccountOnHold FROM GenMaster WHERE GlCode = ?", (line.ledger_code,))
        if not gl:
            errors.append(f"Ledger code '{line.ledger_code}' not found")
        elif gl[0]["AccountOnHold"] == "Y":
            errors.append(f"Ledger code '{line.ledger_code}' is on hold")
        if ignore_analysis:
            continue
        for code, _ in line.analysis:
            if code and not conn_rows(
                "SELECT 1 FROM GenAnalysisCode WHERE AnalysisType = ? AND AnalysisCode = ?",
                (COST_CENTER_ANALYSIS_TYPE, code),
            ):
                errors.append(f"Analysis code '{code}' not found")
        if line.analysis and sum((a for _, a in line.analysis), Decimal("0.00")) != line.value:
            errors.append(
                f"Analysis entries for ledger code '{line.ledger_code}' do not total "
                f"the ledger value {line.value}"
            )
    distributed = sum((line.value for line in item.lines), Decimal("0.00"))
    if item.lines and distributed + item.tax != item.value:
        errors.append(
            f"Transaction value {item.value} does not equal the distribution total "
            f"{distributed} plus tax {item.tax}"
        )


def _analysis_json(analysis: list[tuple[str, Decimal]]) -> str:
    return json.dumps([{"AnalysisCode1": code, "EntryAmount": str(a)} for code, a in analysis])


def _post(
    ctx: PostContext, items: list[_Item], posting_period: PeriodChoice
) -> tuple[int, int, int] | None:
    """Write the valid items; returns the GL journal key, or None when nothing was posted."""
    postable = [i for i in items if not i.errors]
    if not postable:
        return None
    period = _period(ctx, postable[0], posting_period)
    year, month = period
    with ctx.store.transaction() as conn:
        journal = next_number(conn, f"ApJournal:{year:04d}-{month:02d}")
        gl_journal = next_number(conn, f"GlJournal:{year:04d}-{month:02d}")
        for entry, item in enumerate(postable, start=1):
            sign = Decimal(1) if item.code == "I" else Decimal(-1)
            item.key = (year, month, journal, entry)
            assert item.invoice_date is not None and item.due_date is not None
            conn.execute(
                "INSERT INTO ApInvoice VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                "?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    item.supplier, item.invoice, item.code, year, month, journal, entry,
                    year, month, gl_journal, ctx.now.date().isoformat(),
                    item.invoice_date.isoformat(), item.due_date.isoformat(), item.branch,
                    item.reference, item.notation, item.journal_notation, item.currency,
                    item.tax_code, str(sign * item.value), str(sign * item.tax),
                    str(sign * item.value), "", ctx.operator, ctx.now.isoformat(),
                ),
            )  # fmt: skip
            lines: list[tuple[str, str, Decimal, list[tuple[str, Decimal]]]] = [
                (line.ledger_code, line.notation, sign * line.value, line.analysis)
                for line in item.lines
            ]
            if item.tax:
                lines.append((TAX_CONTROL_ACCOUNT, "Tax", sign * item.tax, []))
            lines.append((AP_CONTROL_ACCOUNT, "AP control", -sign * item.value, []))
            for number, (code, notation, amount, analysis) in enumerate(lines, start=1):
                conn.execute(
                    "INSERT INTO GlLines (Supplier, Invoice, Line, GlCode, Notation, Debit, "
                    "Credit, Analysis) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        item.supplier, item.invoice, number, code, notation,
                        str(max(amount, Decimal("0.00"))), str(max(-amount, Decimal("0.00"))),
                        _analysis_json(analysis),
                    ),
                )  # fmt: skip
            balance = conn.execute(
                "SELECT CurrentBalance FROM ApSupplier WHERE Supplier = ?", (item.supplier,)
            ).fetchone()[0]
            conn.execute(
                "UPDATE ApSupplier SET CurrentBalance = ? WHERE Supplier = ?",
                (str(Decimal(balance) + sign * item.value), item.supplier),
            )
    return year, month, gl_journal


def post_ap_invoice(ctx: PostContext, xml_parameters: str, xml_in: str) -> bytes:
    """Run APSTIN; the answer is SYSPRO's output XML (errors inside it), Windows-1252."""
    parameters = (
        parse(xml_parameters, "XmlParameters").find("Parameters") if xml_parameters else None
    )
    root = parse(xml_in)
    if root.tag != "PostApInvoice":
        raise XmlInError(f"XmlIn root must be PostApInvoice, not {root.tag}")
    posting_period = _period_choice(parameters)
    whole_document = _flag(parameters, "ApplyIfEntireDocumentValid", "Y") == "Y"
    validate_only = _flag(parameters, "ValidateOnly", "N") == "Y"
    ignore_analysis = _flag(parameters, "IgnoreAnalysis", "N") == "Y"
    items = [_read_item(node) for node in root.findall("Item")]
    seen: set[tuple[str, str]] = set()
    for item in items:
        _validate(ctx, item, seen, ignore_analysis)
        if posting_period.error:
            item.errors.append(posting_period.error)
            continue
        refusal = _period_refusal(ctx, _period(ctx, item, posting_period))
        if refusal:
            item.errors.append(refusal)
    invalid = sum(1 for i in items if i.errors)
    gl_key = None
    if not validate_only and not (whole_document and invalid) and items:
        gl_key = _post(ctx, items, posting_period)
    return _answer(items, gl_key, invalid)


def _answer(items: list[_Item], gl_key: tuple[int, int, int] | None, invalid: int) -> bytes:
    out = element("postapinvoice")
    for item in items:
        node = sub(out, "Item")
        transaction = sub(node, "Transaction")
        key = sub(transaction, "Key")
        for tag, value in zip(
            ("TrnYear", "TrnMonth", "Journal", "EntryNumber"), item.key or ("",) * 4, strict=True
        ):
            sub(key, tag, value)
        sub(transaction, "Supplier", item.supplier)
        sub(transaction, "Invoice", item.invoice)
        sub(transaction, "TransactionCode", item.code)
        for message in item.errors:
            sub(node, "ErrorDescription", message)
    status = sub(out, "StatusOfItems")
    journal = sub(status, "GlJournal")
    for tag, value in zip(("GlYear", "GlPeriod", "GlJournal"), gl_key or ("",) * 3, strict=True):
        sub(journal, tag, value)
    sub(journal, "GlJournalError", "")
    sub(journal, "GlJournalMessage", "")
    sub(status, "ItemsProcessed", count_text(sum(1 for i in items if i.key)))
    sub(status, "ItemsInvalid", count_text(invalid))
    return render(out)


def documents(store: StateStore) -> list[dict[str, Any]]:
    """Every posted AP invoice with its GL lines, for `/_sandbox/documents`."""
    lines: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in store.rows("SELECT * FROM GlLines ORDER BY Supplier, Invoice, Line"):
        lines.setdefault((row["Supplier"], row["Invoice"]), []).append(
            {
                "line": row["Line"],
                "ledger_code": row["GlCode"],
                "notation": row["Notation"],
                "debit": row["Debit"],
                "credit": row["Credit"],
                "analysis": json.loads(row["Analysis"]),
            }
        )
    result = []
    for row in store.rows("SELECT * FROM ApInvoice ORDER BY PostedAt, Journal, EntryNumber"):
        doc = dict(row)
        result.append(
            {
                "type": "ap_invoice",
                "business_object": "APSTIN",
                "document_number": (
                    f"{doc['TrnYear']:04d}-{doc['TrnMonth']:02d}/"
                    f"{doc['Journal']}/{doc['EntryNumber']}"
                ),
                **doc,
                "lines": lines.get((row["Supplier"], row["Invoice"]), []),
            }
        )
    return result
