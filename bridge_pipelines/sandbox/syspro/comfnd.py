"""COMFND, the generic table query (`/Query/Query`): what clients use for lookups.

The `Query` shape is syspro-ruby's `comfnd.xml.erb`: TableName, ReturnRows, Columns/Column,
Where/Expression (OpenBracket, AndOr, Column, Condition, Value, CloseBracket), OrderBy/Column.
The answer's root is the table name, then `HeaderDetails` (the query echoed), then one `Row`
per record. Tables and columns come from a whitelist; values are bound parameters.

Tables: `ApInvoice` (key Supplier + Invoice; `Reference` holds APSTIN's TransactionReference,
which is where a client writes its own reference so it can find the invoice again),
`ApSupplier`, `GenMaster` (ledger codes) and [I] `GenAnalysisCode` (analysis codes).
"""

from lxml import etree

from bridge_pipelines.sandbox.erp_base.store import StateStore
from bridge_pipelines.sandbox.syspro import appay
from bridge_pipelines.sandbox.syspro.xml_codec import XmlInError, element, parse, render, sub, text

# Logical column -> SQL column, per table; numeric columns compare as numbers.
TABLES: dict[str, dict[str, str]] = {
    "ApInvoice": {
        c: c
        for c in [
            "Supplier",
            "Invoice",
            "Journal",
            "JournalDate",
            "Branch",
            "InvoiceDate",
            "DueDate",
            "Reference",
            "OrigInvValue",
            "MthInvBal1",
            "InvoiceStatus",
            "Currency",
            "EntryNumber",
        ]
    }
    | {"InvoiceYear": "TrnYear", "InvoiceMonth": "TrnMonth"},
    "ApSupplier": {
        c: c
        for c in [
            "Supplier",
            "SupplierName",
            "SupShortName",
            "SupplierType",
            "SupplierClass",
            "Branch",
            "Currency",
            "TermsCode",
            "TaxRegnNum",
            "Email",
            "Telephone",
            "SupAddr1",
            "SupAddr2",
            "SupAddr3",
            "SupAddr4",
            "SupAddr5",
            "SupPostalCode",
            "OnHold",
            "PayByEft",
            "BankAccount",
            "GrnMatchReqd",
            "CurrentBalance",
        ]
    },
    "GenMaster": {c: c for c in ["GlCode", "Description", "AccountType", "AccountOnHold"]},
    "GenAnalysisCode": {c: c for c in ["AnalysisType", "AnalysisCode", "Description"]},
    "ApInvoicePay": {c: c for c in appay.COLUMNS},
}
NUMERIC = frozenset(
    {"Journal", "EntryNumber", "OrigInvValue", "MthInvBal1", "CurrentBalance", "AnalysisType"}
    | {"InvoiceYear", "InvoiceMonth"}
    | appay.MONEY_COLUMNS
)
CONDITIONS = {"EQ": "=", "NE": "<>", "LT": "<", "LE": "<=", "GT": ">", "GE": ">=", "LIKE": "LIKE"}
MAX_ROWS = 10_000


def _column(table: str, name: str) -> str:
    try:
        return TABLES[table][name]
    except KeyError:
        raise XmlInError(f"Column '{name}' not found in table '{table}'") from None


def _where(table: str, where: etree._Element | None) -> tuple[str, list[str]]:
    if where is None:
        return "", []
    sql: list[str] = []
    params: list[str] = []
    depth = 0
    for number, expression in enumerate(where.findall("Expression")):
        and_or = text(expression, "AndOr").upper()
        if number:
            if and_or not in ("AND", "OR"):
                raise XmlInError("Expression needs AndOr (And/Or) after the first")
            sql.append(and_or)
        opening = text(expression, "OpenBracket")
        closing = text(expression, "CloseBracket")
        if set(opening) - {"("} or set(closing) - {")"}:
            raise XmlInError("OpenBracket/CloseBracket may only hold brackets")
        name = text(expression, "Column")
        column = _column(table, name)
        condition = CONDITIONS.get(text(expression, "Condition").upper())
        if condition is None:
            raise XmlInError(f"Condition must be one of {sorted(CONDITIONS)}")
        left = f"CAST({column} AS NUMERIC)" if name in NUMERIC else column
        right = "CAST(? AS NUMERIC)" if name in NUMERIC and condition != "LIKE" else "?"
        sql.append(f"{opening}{left} {condition} {right}{closing}")
        params.append(text(expression, "Value"))
        depth += len(opening) - len(closing)
        if depth < 0:
            raise XmlInError("Brackets do not balance")
    if depth:
        raise XmlInError("Brackets do not balance")
    return (" WHERE " + " ".join(sql)) if sql else "", params


def query(store: StateStore, xml_in: str) -> bytes:
    """Run a COMFND query; the answer is the table-rooted XML of SYSPRO's sample."""
    root = parse(xml_in)
    if root.tag != "Query":
        raise XmlInError(f"XmlIn root must be Query, not {root.tag}")
    table = text(root, "TableName")
    if table not in TABLES:
        raise XmlInError(f"Table '{table}' is not available to COMFND")
    names = [c.text.strip() for c in root.findall("Columns/Column") if c.text and c.text.strip()]
    names = names or list(TABLES[table])
    columns = [_column(table, name) for name in names]
    order = [_column(table, c.text.strip()) for c in root.findall("OrderBy/Column") if c.text]
    try:
        limit = min(int(text(root, "ReturnRows") or 100), MAX_ROWS)
    except ValueError:
        raise XmlInError("ReturnRows must be a number") from None
    where_sql, params = _where(table, root.find("Where"))
    select = ", ".join(f"{sql} AS {name}" for sql, name in zip(columns, names, strict=True))
    order_sql = f" ORDER BY {', '.join(order)}" if order else ""
    rows = store.rows(
        f"SELECT {select} FROM {table}{where_sql}{order_sql} LIMIT ?", [*params, limit]
    )
    out = element(table)
    header = sub(out, "HeaderDetails")
    sub(header, "TableName", table)
    sub(header, "ReturnRows", limit)
    header_columns = sub(header, "Columns")
    for name in names:
        sub(header_columns, "Column", name)
    for row in rows:
        node = sub(out, "Row")
        for name in names:
            value = row[name]
            sub(node, name, "" if value is None else value)
    sub(out, "RowsReturned", len(rows))
    return render(out)
