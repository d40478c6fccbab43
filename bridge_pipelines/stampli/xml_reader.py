"""Reading the default approved-invoices XML template into the same string cells as the CSV.

Each `<Line>` becomes one row carrying its invoice's header, exactly like a CSV row, so the XML
and the CSV of the same invoices go through the same checks and yield the same documents and
content hashes. `source_row` is the 1-based `<Invoice>` index. Elements or attributes the
template does not know are refused (the XML twin of the CSV's unknown-column rule).

The file is read incrementally: each `<Invoice>` is turned into rows as it ends, then cleared
and dropped with everything before it, and rows go into polars in chunks, so memory follows the
rows kept (string cells), not libxml2's tree of the whole file or a Python dict per row.
"""

from typing import Any

import polars as pl
from lxml import etree

from bridge_pipelines.errors import FileRejectedError
from bridge_pipelines.stampli.encoding import check_not_binary
from bridge_pipelines.stampli.invoices import FIELDS
from bridge_pipelines.stampli.limits import cap_cells
from bridge_pipelines.stampli.source import SourceFrame
from bridge_pipelines.stampli.xml_safety import iterparse_safely

ROOT = "StampliExport"
DISPLAY = {
    "invoice_id": "Invoice/@id",
    "invoice_number": "Invoice/@number",
    "document_type": "Invoice/@type",
    "vendor_id": "Vendor/@id",
    "vendor_name": "Vendor/@name",
    "invoice_date": "InvoiceDate",
    "due_date": "DueDate",
    "posting_date": "PostingDate",
    "currency": "Currency",
    "invoice_total": "Total",
    "tax_amount": "Tax",
    "po_number": "PONumber",
    "approved_by": "Approval/@by",
    "approved_at": "Approval/@at",
    "line_number": "Line/@number",
    "gl_account": "Line/@glAccount",
    "cost_center": "Line/@costCenter",
    "line_description": "Line/Description",
    "line_amount": "Line/Amount",
}
_INVOICE_ATTRS = {"id": "invoice_id", "number": "invoice_number", "type": "document_type"}
_TEXT_CHILDREN = {
    "InvoiceDate": "invoice_date",
    "DueDate": "due_date",
    "PostingDate": "posting_date",
    "Currency": "currency",
    "Total": "invoice_total",
    "Tax": "tax_amount",
    "PONumber": "po_number",
}
_ELEMENT_ATTRS = {
    "Vendor": {"id": "vendor_id", "name": "vendor_name"},
    "Approval": {"by": "approved_by", "at": "approved_at"},
}
_LINE_ATTRS = {"number": "line_number", "glAccount": "gl_account", "costCenter": "cost_center"}
_LINE_CHILDREN = {"Description": "line_description", "Amount": "line_amount"}
_FREE_TEXT = {"line_description"}
_COLUMNS = [f.name for f in FIELDS]
_SCHEMA = {**dict.fromkeys(_COLUMNS, pl.String), "source_row": pl.Int64}
# Rows held as Python objects before they go into polars (a few MB).
_CHUNK_ROWS = 20_000


class _Rows:
    """Rows gathered column by column, moved into polars every `_CHUNK_ROWS`."""

    def __init__(self) -> None:
        self._chunks: list[pl.DataFrame] = []
        self._pending: list[dict[str, Any]] = []

    def extend(self, rows: list[dict[str, Any]]) -> None:
        self._pending.extend(rows)
        if len(self._pending) >= _CHUNK_ROWS:
            self._flush()

    def _flush(self) -> None:
        if self._pending or not self._chunks:
            rows = self._pending
            self._chunks.append(
                pl.DataFrame(
                    {name: [r.get(name) for r in rows] for name in _COLUMNS}
                    | {"source_row": [r["source_row"] for r in rows]},
                    schema=_SCHEMA,
                )
            )
            self._pending = []

    def frame(self) -> pl.DataFrame:
        self._flush()
        return pl.concat(self._chunks, how="vertical") if len(self._chunks) > 1 else self._chunks[0]


def read_invoices_xml(data: bytes, *, source: str, max_rows: int) -> SourceFrame:
    """Read an approved-invoices XML export.

    Raises:
        FileRejectedError: unsafe or malformed XML, an unexpected root, element or attribute,
            or more than `max_rows` invoices.
    """
    check_not_binary(data, source)
    rows = _Rows()
    depth = 0
    count = 0
    strangers: set[str] = set()
    for event, element in iterparse_safely(data, source):
        if event == "start":
            depth += 1
            if depth == 1 and _name(element) != ROOT:
                raise FileRejectedError(
                    f"{source}: root element is <{_name(element)}>, expected <{ROOT}>"
                )
            continue
        depth -= 1
        if depth != 1:
            continue
        name = _name(element)
        if name != "Invoice":
            strangers.add(name)
        elif not strangers:
            count += 1
            if count > max_rows:
                raise FileRejectedError(
                    f"{source}: too many invoices (more than {max_rows:,}, the tenant's limit "
                    "per file)"
                )
            rows.extend(_invoice_rows(element, count, source))
        # Done with this invoice: free it and every sibling before it.
        element.clear(keep_tail=False)
        parent = element.getparent()
        while element.getprevious() is not None:
            del parent[0]
    if strangers:
        raise FileRejectedError(
            f"{source}: unknown element(s) {', '.join(f'<{s}>' for s in sorted(strangers))} "
            f"under <{ROOT}>; expected only <Invoice>"
        )
    frame, too_long = cap_cells(rows.frame(), _COLUMNS)
    return SourceFrame(frame=frame, display=dict(DISPLAY), rows_total=count, refused=too_long)


def _name(element: Any) -> str:
    return str(etree.QName(element).localname)


def _value(text: str | None, canonical: str) -> str | None:
    if text is None:
        return None
    value = text if canonical in _FREE_TEXT else text.strip()
    return value or None


def _unknown(where: str, index: int, what: str, source: str) -> FileRejectedError:
    return FileRejectedError(
        f"{source}: <Invoice> {index}: unknown {what} in {where}; the default template has no "
        "such field"
    )


def _leaf_text(element: Any, index: int, source: str) -> str | None:
    """The text of a value element, refusing what would make it mean something else.

    `<Amount>10<b/>00</Amount>` would otherwise read as "10" (lxml's `.text` stops at the first
    child), and an attribute such as `<Amount currency="EUR">` would be silently ignored.
    """
    where = f"<{_name(element)}>"
    if len(element):
        what = f"element <{_name(element[0])}> (a value holds text only)"
        raise _unknown(where, index, what, source)
    if element.attrib:
        raise _unknown(where, index, f"attribute {str(next(iter(element.attrib)))!r}", source)
    text: str | None = element.text
    return text


def _attrs(
    element: Any, mapping: dict[str, str], into: dict[str, Any], index: int, src: str
) -> None:
    for attr, value in element.attrib.items():
        canonical = mapping.get(str(attr))
        if canonical is None:
            raise _unknown(f"<{_name(element)}>", index, f"attribute {attr!r}", src)
        into[canonical] = _value(str(value), canonical)


def _invoice_rows(invoice: Any, index: int, source: str) -> list[dict[str, Any]]:
    header: dict[str, Any] = {"source_row": index}
    _attrs(invoice, _INVOICE_ATTRS, header, index, source)
    lines: list[Any] = []
    seen: set[str] = set()
    for child in invoice:
        name = _name(child)
        if name in seen:
            raise FileRejectedError(f"{source}: <Invoice> {index}: element <{name}> appears twice")
        seen.add(name)
        if name in _TEXT_CHILDREN:
            header[_TEXT_CHILDREN[name]] = _value(
                _leaf_text(child, index, source), _TEXT_CHILDREN[name]
            )
        elif name in _ELEMENT_ATTRS:
            _attrs(child, _ELEMENT_ATTRS[name], header, index, source)
        elif name == "Lines":
            lines = list(child)
        else:
            raise _unknown("<Invoice>", index, f"element <{name}>", source)
    rows: list[dict[str, Any]] = []
    for line in lines:
        if _name(line) != "Line":
            raise _unknown("<Lines>", index, f"element <{_name(line)}>", source)
        row = dict(header)
        _attrs(line, _LINE_ATTRS, row, index, source)
        for child in line:
            canonical = _LINE_CHILDREN.get(_name(child))
            if canonical is None:
                raise _unknown("<Line>", index, f"element <{_name(child)}>", source)
            row[canonical] = _value(_leaf_text(child, index, source), canonical)
        rows.append(row)
    # An invoice without lines still becomes a row, so its missing lines are reported.
    return rows or [header]
