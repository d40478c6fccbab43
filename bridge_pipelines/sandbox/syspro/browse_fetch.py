"""`/Query/Browse` and `/Query/Fetch`: the e.net browse and single-record fetch calls.

[C] syspro-ruby (`lib/syspro/api_operations/query.rb`, `business_objects/combrw.rb`,
`comfch.rb`): both are GETs with `UserId` and `XmlIn` only (no BusinessObject). Browse XmlIn
(`schemas/combrw.xml.erb`): `<Browse><BrowseName/><StartAtKey/><StartCondition/><ReturnRows/>
<Filter><ColumnFilterName/><ColumnFilterValue/></Filter><BrowseDetails><TableName/><Title/>
<Column><ColumnName/></Column></BrowseDetails></Browse>`; its answer (`combrw_parser.rb`) has
`Title`, `HeaderDetails`, `NextPrevKey` and one `Row` per record, each column an element
holding `<Value>` and `<DataType>`. Fetch XmlIn (`comfch.xml.erb`): `<Fetch><TableName/><Key/>
<OptionalKey1/>...</Fetch>`; its answer (`comfch_parser.rb`) is rooted at the table name with
one element per column.

[I] The browse answer's root is `Browse`; `NextPrevKey` holds `NextKey` (the key after the
last row, empty at the end) and `PrevKey`; `StartAtKey` starts at that key (inclusive);
`DataType` is `String` or `Numeric`. A Fetch of a missing key answers `ERROR: Record not
found`. Tables and columns are COMFND's whitelist; keys as below.
"""

from lxml import etree

from bridge_pipelines.sandbox.erp_base.store import StateStore
from bridge_pipelines.sandbox.syspro.comfnd import MAX_ROWS, NUMERIC, TABLES
from bridge_pipelines.sandbox.syspro.xml_codec import XmlInError, element, parse, render, sub, text

KEYS: dict[str, tuple[str, ...]] = {
    "ApSupplier": ("Supplier",),
    "GenMaster": ("GlCode",),
    "GenAnalysisCode": ("AnalysisType", "AnalysisCode"),
    "ApInvoice": ("Supplier", "Invoice"),
}


def _table(name: str) -> str:
    if name not in TABLES or name not in KEYS:
        raise XmlInError(f"Table '{name}' is not available to browse or fetch")
    return name


def _sql(table: str, name: str) -> str:
    try:
        return TABLES[table][name]
    except KeyError:
        raise XmlInError(f"Column '{name}' not found in table '{table}'") from None


def browse(store: StateStore, xml_in: str) -> bytes:
    """A page of a table in key order, with the key to continue from."""
    root = parse(xml_in)
    if root.tag != "Browse":
        raise XmlInError(f"XmlIn root must be Browse, not {root.tag}")
    table = _table(text(root, "BrowseDetails/TableName") or text(root, "BrowseName"))
    names = [c.text.strip() for c in root.findall("BrowseDetails/Column/ColumnName") if c.text]
    names = names or list(TABLES[table])
    key = KEYS[table]
    try:
        limit = min(int(text(root, "ReturnRows") or 10), MAX_ROWS)
    except ValueError:
        raise XmlInError("ReturnRows must be a number") from None
    where: list[str] = []
    params: list[str] = []
    start = text(root, "StartAtKey")
    if start:
        where.append(f"{_sql(table, key[0])} >= ?")
        params.append(start)
    for node in root.findall("Filter"):
        column = text(node, "ColumnFilterName")
        if column:
            where.append(f"{_sql(table, column)} = ?")
            params.append(text(node, "ColumnFilterValue"))
    select = ", ".join(f"{_sql(table, n)} AS {n}" for n in dict.fromkeys([*names, *key]))
    where_sql = f" WHERE {' AND '.join(where)}" if where else ""
    order = ", ".join(_sql(table, k) for k in key)
    rows = store.rows(
        f"SELECT {select} FROM {table}{where_sql} ORDER BY {order} LIMIT ?", [*params, limit + 1]
    )
    out = element("Browse")
    sub(out, "Title", text(root, "BrowseDetails/Title") or table)
    header = sub(out, "HeaderDetails")
    sub(header, "TableName", table)
    for name in names:
        sub(header, "ColumnName", name)
    following = rows[limit] if len(rows) > limit else None
    keys = sub(out, "NextPrevKey")
    sub(keys, "NextKey", "" if following is None else following[key[0]])
    sub(keys, "PrevKey", start)
    for row in rows[:limit]:
        node = sub(out, "Row")
        for name in names:
            cell = sub(node, name)
            value = row[name]
            sub(cell, "Value", "" if value is None else value)
            sub(cell, "DataType", "Numeric" if name in NUMERIC else "String")
    return render(out)


def fetch(store: StateStore, xml_in: str) -> bytes:
    """One record by its key (`Key`, then `OptionalKey1`... for the key's further columns)."""
    root = parse(xml_in)
    if root.tag != "Fetch":
        raise XmlInError(f"XmlIn root must be Fetch, not {root.tag}")
    table = _table(text(root, "TableName"))
    key = KEYS[table]
    values = [text(root, "Key")] + [text(root, f"OptionalKey{n}") for n in range(1, len(key))]
    names = list(TABLES[table])
    select = ", ".join(f"{_sql(table, n)} AS {n}" for n in names)
    where = " AND ".join(f"{_sql(table, k)} = ?" for k in key)
    rows = store.rows(f"SELECT {select} FROM {table} WHERE {where}", values)
    if not rows:
        raise LookupError("Record not found")
    out: etree._Element = element(table)
    for name in names:
        value = rows[0][name]
        sub(out, name, "" if value is None else value)
    return render(out)
