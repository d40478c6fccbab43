"""XmlIn builders for the contract tests, in the element names of erp-facts.md."""

from datetime import date
from xml.sax.saxutils import escape


def ap_invoice(
    *,
    supplier: str = "SUP00001",
    invoice: str = "INV-1001",
    value: str = "1150.00",
    tax: str | None = "150.00",
    reference: str = "BRG-REF-0001",
    invoice_date: str | None = None,
    lines: tuple[tuple[str, str, str | None], ...] = (("10-6100", "1000.00", "CC-EAST"),),
    code: str = "I",
) -> str:
    """One `PostApInvoice/Item`; lines are (ledger code, value, analysis code or None)."""
    return "<PostApInvoice>" + ap_item(
        supplier=supplier, invoice=invoice, value=value, tax=tax, reference=reference,
        invoice_date=invoice_date, lines=lines, code=code,
    ) + "</PostApInvoice>"  # fmt: skip


def ap_item(
    *,
    supplier: str,
    invoice: str,
    value: str,
    tax: str | None,
    reference: str,
    invoice_date: str | None,
    lines: tuple[tuple[str, str, str | None], ...],
    code: str = "I",
) -> str:
    distribution = "".join(
        f"<LedgerDistribution><LedgerCode>{escape(ledger)}</LedgerCode>"
        f"<LedgerNotation>line</LedgerNotation><LedgerValue>{amount}</LedgerValue>"
        + (
            f"<AnalysisLineEntry><AnalysisCode1>{escape(cc)}</AnalysisCode1>"
            f"<EntryAmount>{amount}</EntryAmount></AnalysisLineEntry>"
            if cc
            else ""
        )
        + "</LedgerDistribution>"
        for ledger, amount, cc in lines
    )
    tax_xml = f"<TaxValue>{tax}</TaxValue>" if tax is not None else ""
    return (
        f"<Item><Supplier>{escape(supplier)}</Supplier><TransactionCode>{code}</TransactionCode>"
        f"<Branch/><Invoice>{escape(invoice)}</Invoice><TransactionValue>{value}</TransactionValue>"
        f"{tax_xml}<Notation>demo</Notation>"
        f"<TransactionReference>{escape(reference)}</TransactionReference>"
        f"<JournalNotation>bridge</JournalNotation>"
        f"<InvoiceDate>{invoice_date or date.today().isoformat()}</InvoiceDate><DueDate/>"
        f"<TaxCode>A</TaxCode>{distribution}</Item>"
    )


POST_PARAMETERS = (
    "<PostApInvoice><Parameters><PostingPeriod>{period}</PostingPeriod>"
    "<IgnoreWarnings>N</IgnoreWarnings>"
    "<ApplyIfEntireDocumentValid>{whole}</ApplyIfEntireDocumentValid>"
    "<ValidateOnly>{validate}</ValidateOnly><PostZeroAdjustments>N</PostZeroAdjustments>"
    "<LedgerDistributionCurrency>L</LedgerDistributionCurrency>"
    "<AutomaticTaxCalculation>N</AutomaticTaxCalculation><ApArContraTrx>N</ApArContraTrx>"
    "<IgnoreAnalysis>N</IgnoreAnalysis></Parameters></PostApInvoice>"
)


def post_parameters(period: str = "C", whole: str = "Y", validate: str = "N") -> str:
    return POST_PARAMETERS.format(period=period, whole=whole, validate=validate)


def comfnd(table: str, where: list[tuple[str, str, str]], columns: tuple[str, ...] = ()) -> str:
    """A COMFND `Query`; where = [(column, condition, value)] joined with And."""
    expressions = "".join(
        "<Expression><OpenBracket>(</OpenBracket>"
        + ("<AndOr>And</AndOr>" if i else "")
        + f"<Column>{c}</Column><Condition>{cond}</Condition><Value>{escape(v)}</Value>"
        "<CloseBracket>)</CloseBracket></Expression>"
        for i, (c, cond, v) in enumerate(where)
    )
    cols = "".join(f"<Column>{c}</Column>" for c in columns)
    return (
        f"<Query><TableName>{table}</TableName><ReturnRows>1000</ReturnRows>"
        f"<Columns>{cols}</Columns><Where>{expressions}</Where>"
        f"<OrderBy><Column>{columns[0] if columns else where[0][0]}</Column></OrderBy></Query>"
    )


def supplier(code: str, **fields: str) -> str:
    """A `SetupApSupplier/Item` with `Key/Supplier` and the given elements."""
    body = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in fields.items())
    return (
        f"<SetupApSupplier><Item><Key><Supplier>{escape(code)}</Supplier></Key>{body}</Item>"
        "</SetupApSupplier>"
    )
