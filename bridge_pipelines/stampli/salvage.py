"""What can still be read of a refused (quarantined) invoice export: which invoices it held.

The parser refuses a whole file for good reasons (a missing column, broken encoding, an XML
bomb); an operator still needs to know which invoices were in it, to chase the corrected
export or to dismiss the file knowingly. `salvage_invoices` reads the raw archived bytes
best-effort and never raises: CSV through the standard `csv` module on forgiving decodes, XML
with a regular expression over the text (never an XML parser: the file may be hostile), both
capped. What it finds is a hint for people, never a document to record.
"""

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from bridge_pipelines.stampli.invoices import label as invoice_label
from bridge_pipelines.stampli.naming import invoice_name

MAX_BYTES = 64 * 1024 * 1024
MAX_INVOICES = 10_000
ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")

_COLUMNS = {
    "invoiceid": "stampli_id",
    "invoicenumber": "number",
    "vendorid": "vendor",
    "vendorname": "vendor_name",
    "documenttype": "document_type",
}
_XML_INVOICE = re.compile(r"<Invoice\b[^>]*>(.*?)</Invoice\s*>", re.S)
_XML_FIELD = re.compile(
    r"<(InvoiceId|InvoiceNumber|VendorId|VendorName|DocumentType)\b[^>]*>([^<]{0,200})</\1\s*>"
)


@dataclass(frozen=True)
class SalvagedInvoice:
    """An invoice seen in a refused file: whatever of its name could be read."""

    vendor: str | None
    number: str | None
    stampli_id: str | None = None
    vendor_name: str | None = None
    document_type: str | None = None

    @property
    def name(self) -> str:
        """As every message names an invoice (`stampli.naming`)."""
        return invoice_name(
            self.vendor, self.number, self.stampli_id, document_type=self.document_type
        )

    @property
    def key(self) -> tuple[str, str] | None:
        """(vendor, number) when both were read: what a corrected export must hold again."""
        if self.vendor and self.number:
            return (self.vendor, self.number)
        return None


def _key(header: str) -> str:
    return re.sub(r"[^a-z]", "", header.lower())


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    for encoding in ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeError:
            continue
    return data.decode("latin-1", errors="replace")  # pragma: no cover - latin-1 always decodes


def _clean(value: str | None) -> str | None:
    text = (value or "").strip().strip("\x00")
    return text[:200] or None


def _unique(found: Iterable[SalvagedInvoice]) -> list[SalvagedInvoice]:
    seen: dict[tuple[str | None, str | None, str | None], SalvagedInvoice] = {}
    for invoice in found:
        if not (invoice.vendor or invoice.number or invoice.stampli_id):
            continue
        seen.setdefault((invoice.vendor, invoice.number, invoice.stampli_id), invoice)
        if len(seen) >= MAX_INVOICES:
            break
    return list(seen.values())


def _from_xml(text: str) -> list[SalvagedInvoice]:
    found = []
    for match in _XML_INVOICE.finditer(text):
        fields = {_COLUMNS[_key(n)]: _clean(v) for n, v in _XML_FIELD.findall(match.group(1))}
        found.append(SalvagedInvoice(**fields))
    return _unique(found)


def _from_csv(text: str, renames: Mapping[str, str]) -> list[SalvagedInvoice]:
    sample = text[:4096]
    delimiter = max(",;\t|", key=sample.count)
    rows = csv.reader(io.StringIO(text.replace("\x00", ""), newline=""), delimiter=delimiter)
    renamed = {_key(k): _key(v) for k, v in renames.items()}
    columns: dict[int, str] | None = None
    found = []
    try:
        for row in rows:
            if columns is None:
                keys = [renamed.get(_key(c), _key(c)) for c in row]
                columns = {i: _COLUMNS[k] for i, k in enumerate(keys) if k in _COLUMNS}
                if not columns:
                    columns = None  # not the header yet (a title line?); try the next row
                continue
            fields = {name: _clean(row[i]) for i, name in columns.items() if i < len(row)}
            found.append(SalvagedInvoice(**fields))
            if len(found) > MAX_INVOICES * 50:
                break
    except csv.Error:
        pass  # keep what was read before the break
    return _unique(found)


def salvage_invoices(
    data: bytes, renames: Mapping[str, str] | None = None
) -> list[SalvagedInvoice]:
    """The invoices that can be read from a refused export, first appearance first; never raises.

    `renames` is the tenant's template (tenant column -> default column), so a renamed
    `InvoiceNumber` column is still found.
    """
    try:
        text = _decode(data[:MAX_BYTES])
        if text.lstrip("\ufeff \t\r\n").startswith("<"):
            return _from_xml(text)
        return _from_csv(text, renames or {})
    except Exception:  # best effort on hostile bytes: nothing read is an answer too
        return []


def names_by_label(data: bytes, renames: Mapping[str, str] | None = None) -> dict[str, str]:
    """Row errors' document labels (`invoice STI-1001`) -> the invoice's name, from the raw file.

    A refused row never became a record, so its error names the invoice by Stampli's id only;
    the raw file still says its vendor and number.
    """
    names: dict[str, str] = {}
    for invoice in salvage_invoices(data, renames):
        document = invoice_label(invoice.stampli_id) if invoice.stampli_id else None
        if document is not None and (invoice.vendor or invoice.number):
            names.setdefault(document, invoice.name)
    return names


def archived_names(path: str | None, renames: Mapping[str, str] | None = None) -> dict[str, str]:
    """`names_by_label` of an archived raw copy; nothing when it cannot be read."""
    if not path:
        return {}
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_BYTES)
    except OSError:
        return {}
    return names_by_label(data, renames)
