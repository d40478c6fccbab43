"""Reading the default approved-invoices XML template into the same string cells as the CSV.

Each `<Line>` becomes one row carrying its invoice's header, exactly like a CSV row, so the XML
and the CSV of the same invoices go through the same checks and yield the same documents and
content hashes. `source_row` is the 1-based `<Invoice>` index. Elements or attributes the
template does not know are refused (the XML twin of the CSV's unknown-column rule).
"""

from typing import Any

import polars as pl
from lxml import etree

from bridge_pipelines.errors import FileRejectedError
from bridge_pipelines.stampli.encoding import check_not_binary
from bridge_pipelines.stampli.invoices import FIELDS
from bridge_pipelines.stampli.source import SourceFrame
from bridge_pipelines.stampli.xml_safety import parse_safely

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


def read_invoices_xml(data: bytes, *, source: str, max_rows: int) -> SourceFrame:
    """Read an approved-invoices XML export.

    Raises:
        FileRejectedError: unsafe or malformed XML, an unexpected root, element or attribute,
            or more than `max_rows` invoices.
    """
    check_not_binary(data, source)
    root = parse_safely(data, source)
    if _name(root) != ROOT:
        raise FileRejectedError(f"{source}: root element is <{_name(root)}>, expected <{ROOT}>")
    invoices = list(root)
    strangers = sorted({_name(e) for e in invoices if _name(e) != "Invoice"})
    if strangers:
        raise FileRejectedError(
            f"{source}: unknown element(s) {', '.join(f'<{s}>' for s in strangers)} under "
            f"<{ROOT}>; expected only <Invoice>"
        )
    if len(invoices) > max_rows:
        raise FileRejectedError(
            f"{source}: too many invoices (more than {max_rows:,}, the tenant's limit per file)"
        )
    records: list[dict[str, Any]] = []
    for index, invoice in enumerate(invoices, start=1):
        records.extend(_invoice_rows(invoice, index, source))
    columns = [f.name for f in FIELDS]
    frame = pl.DataFrame(
        {name: [r.get(name) for r in records] for name in columns}
        | {"source_row": [r["source_row"] for r in records]},
        schema={**dict.fromkeys(columns, pl.String), "source_row": pl.Int64},
    )
    return SourceFrame(frame=frame, display=dict(DISPLAY), rows_total=len(invoices))


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
