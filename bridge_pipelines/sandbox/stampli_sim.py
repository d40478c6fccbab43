"""A Stampli simulator: writes exports into a tenant's outbound folders as Stampli does.

Files follow the default templates of `stampli-files.md` exactly (columns, dates, 2-decimal money
as text, `ApprovedAt` with an offset, credit memos negative, lines + tax == total) and are named
`<kind>_<YYYYMMDD>_<HHMMSS>[_<seq>].<csv|xml>`. With `messy=True` they carry what real exports
carry: a UTF-8 BOM or CRLF line ends now and then, and commas, quotes, line breaks and non-ASCII
text inside fields (always valid RFC 4180, written by the csv module). It can also write a file
slowly (still growing when listed), deliver the same bytes again under a new name, and add
invoices whose lines do not add up, so the demo shows located errors.

Everything is driven by one seeded `random.Random`: same seed, same content (timestamps aside).
"""

import csv
import io
import random
import shutil
import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Literal, TypeVar
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

from bridge_pipelines.sandbox.demo_company import DEMO_COMPANY, DemoCompany, DemoVendor

_T = TypeVar("_T")
InvoiceFormat = Literal["csv", "xml"]
ExportKind = Literal["invoices", "payments", "vendors", "gl_accounts"]

INVOICE_COLUMNS = (
    "InvoiceId",
    "InvoiceNumber",
    "VendorId",
    "VendorName",
    "InvoiceDate",
    "DueDate",
    "PostingDate",
    "Currency",
    "InvoiceTotal",
    "TaxAmount",
    "PONumber",
    "LineNumber",
    "LineDescription",
    "GLAccount",
    "CostCenter",
    "LineAmount",
    "ApprovedBy",
    "ApprovedAt",
    "DocumentType",
)
PAYMENT_COLUMNS = (
    "PaymentId",
    "InvoiceId",
    "InvoiceNumber",
    "VendorId",
    "PaymentDate",
    "Amount",
    "Currency",
    "Method",
    "Reference",
)
VENDOR_COLUMNS = (
    "VendorId",
    "VendorName",
    "TaxId",
    "Email",
    "Phone",
    "AddressLine1",
    "AddressLine2",
    "City",
    "Region",
    "PostalCode",
    "Country",
    "Currency",
    "PaymentTerms",
    "Status",
    "ErpVendorCode",
    "ModifiedAt",
)
GL_ACCOUNT_COLUMNS = ("AccountCode", "AccountName", "AccountType", "Active")

FOLDERS: dict[ExportKind, str] = {
    "invoices": "outbound/invoices",
    "payments": "outbound/payments",
    "vendors": "outbound/vendors",
    "gl_accounts": "outbound/gl_accounts",
}
FILE_PREFIX: dict[ExportKind, str] = {
    "invoices": "approved_invoices",
    "payments": "payments",
    "vendors": "vendors",
    "gl_accounts": "gl_accounts",
}
CENT = Decimal("0.01")

_ITEMS = (
    "Capacitors, 10uF",
    'Steel bolts M8 x 40, "grade 8.8"',
    "Pallet freight — Chicago → Dallas",
    "Toner cartridges (black), 4 pack",
    "Annual licence: CAD suite\nseats 1–25",
    "Café service, 3rd floor",
    "Ölfilter für Kompressor",
    "Quarterly HVAC maintenance; filters, belts",
    "Réparation de façade, lot n°2",
    "精密ベアリング 6204",
    'Consulting, per our SOW #12, phase "B"',
    "Cleaning supplies, misc.",
)
_APPROVERS = ("j.doe", "m.garcia", "a.nguyen", "s.müller", "k.o'neill")
_METHODS = ("ACH", "Check", "Wire", "Card", "Other")


@dataclass(frozen=True)
class _Line:
    number: int
    description: str
    gl_account: str
    cost_center: str
    amount: Decimal


@dataclass(frozen=True)
class _Invoice:
    invoice_id: str
    number: str
    vendor: DemoVendor
    invoice_date: date
    due_date: date
    posting_date: date | None
    currency: str
    tax: Decimal
    total: Decimal
    po_number: str
    lines: tuple[_Line, ...]
    approved_by: str
    approved_at: datetime
    document_type: str


def _money(value: Decimal) -> str:
    return str(value.quantize(CENT))


class StampliSimulator:
    """Writes Stampli exports under `root` (the SFTP server's root folder).

    Args:
        root: folder holding `outbound/...`; folders are created as needed.
        seed: seeds every random choice.
        company: vendors, accounts and cost centers to refer to (the demo company by default).
        invoice_format: the format `tick()` uses for invoices.
    """

    def __init__(
        self,
        root: Path,
        *,
        seed: int,
        company: DemoCompany | None = None,
        invoice_format: InvoiceFormat = "csv",
    ) -> None:
        self.root = Path(root)
        self.company = company or DEMO_COMPANY
        self.invoice_format: InvoiceFormat = invoice_format
        self._rng = random.Random(seed)
        self._zone = ZoneInfo(self.company.timezone)
        self._serial = 0
        self._issued: list[_Invoice] = []
        self._credits: list[_Invoice] = []
        self._settled: dict[str, Decimal] = {}  # what payments applied, by invoice id
        self._spoiled: set[str] = set()  # refused by any parser: Stampli never pays those
        self._vendors_exported = False
        self._written: list[Path] = []
        self._lock = threading.RLock()
        self._background: list[threading.Thread] = []

    # -- public writers ----------------------------------------------------------------------

    def write_invoices(
        self,
        n_invoices: int = 5,
        *,
        fmt: InvoiceFormat = "csv",
        lines: tuple[int, int] = (1, 4),
        messy: bool = True,
        bad_invoices: int = 0,
        vendor_id: str | None = None,
    ) -> Path:
        """Write one approved-invoices export.

        `bad_invoices` of the invoices get a total their lines do not add up to; `vendor_id`
        makes every invoice that vendor's (the demo uses it for a vendor the ERP lacks).
        """
        with self._lock:
            invoices = [self._new_invoice(lines, vendor_id) for _ in range(n_invoices)]
            for index in self._rng.sample(range(len(invoices)), min(bad_invoices, len(invoices))):
                invoices[index] = self._spoil(invoices[index])
                self._spoiled.add(invoices[index].invoice_id)
            if fmt == "xml":
                data = self._invoices_xml(invoices)
            else:
                data = self._csv(INVOICE_COLUMNS, self._invoice_rows(invoices), messy=messy)
            self._record_issued(invoices)
            return self._write("invoices", data, ext=fmt)

    def _record_issued(self, invoices: list[_Invoice]) -> None:
        self._issued.extend(i for i in invoices if i.document_type == "Invoice")
        self._credits.extend(i for i in invoices if i.document_type == "CreditMemo")

    @property
    def issued_ids(self) -> frozenset[str]:
        """Stampli ids of every invoice written so far (credit memos included)."""
        with self._lock:
            return frozenset(i.invoice_id for i in (*self._issued, *self._credits))

    def write_payments(
        self,
        n_payments: int | None = None,
        *,
        messy: bool = True,
        vendor_id: str | None = None,
        only: frozenset[str] | None = None,
    ) -> Path:
        """Pay invoices written earlier; header only when none is left to pay.

        Now and then a payment settles two invoices of a vendor (and takes one of its credit
        memos), or pays part of an invoice (the rest in a later payment); never more than is
        open, never an invoice whose export was spoiled. `vendor_id`: that vendor's only;
        `only`: those invoices (Stampli ids) only.
        """
        with self._lock:
            data = self._payments_bytes(n_payments, messy=messy, vendor_id=vendor_id, only=only)
            return self._write("payments", data)

    def _left(self, invoice: _Invoice) -> Decimal:
        return abs(invoice.total) - self._settled.get(invoice.invoice_id, Decimal(0))

    def _payments_bytes(
        self,
        n_payments: int | None,
        *,
        messy: bool,
        vendor_id: str | None = None,
        only: frozenset[str] | None = None,
    ) -> bytes:
        with self._lock:
            unpaid = [
                i
                for i in self._issued
                if i.invoice_id not in self._spoiled
                and self._left(i) > 0
                and (vendor_id is None or i.vendor.id == vendor_id)
                and (only is None or i.invoice_id in only)
            ]
            count = len(unpaid) if n_payments is None else min(n_payments, len(unpaid))
            chosen = self._rng.sample(unpaid, count)
            payments: list[list[_Invoice]] = []
            for invoice in chosen:
                joined = next(
                    (
                        p
                        for p in payments
                        if len(p) == 1
                        and p[0].vendor.id == invoice.vendor.id
                        and p[0].currency == invoice.currency
                    ),
                    None,
                )
                if joined is not None and self._rng.random() < 0.5:
                    joined.append(invoice)
                else:
                    payments.append([invoice])
            rows = []
            for invoices in payments:
                self._serial += 1
                payment_id = f"PAY-{self._stamp()}-{self._serial:05d}"
                paid_on = min([*(i.due_date for i in invoices), self._today()])
                method = self._rng.choice(_METHODS)
                reference = f"REF {self._serial:06d}, batch {self._rng.randint(1, 99)}"
                applied: list[tuple[_Invoice, Decimal]] = []
                for invoice in invoices:
                    left = self._left(invoice)
                    partial = self._rng.random() < 0.2 and left > Decimal("1.00")
                    applied.append((invoice, (left / 2).quantize(CENT) if partial else left))
                paid = sum((amount for _, amount in applied), Decimal(0))
                credit = next(
                    (
                        c
                        for c in self._credits
                        if c.vendor.id == invoices[0].vendor.id
                        and c.currency == invoices[0].currency
                        and c.invoice_id not in self._settled
                        and c.invoice_id not in self._spoiled
                        and (only is None or c.invoice_id in only)
                        and abs(c.total) < paid
                    ),
                    None,
                )
                if credit is not None and len(invoices) > 1:
                    applied.append((credit, credit.total))  # taken: exported negative
                for invoice, amount in applied:
                    self._settled[invoice.invoice_id] = self._settled.get(
                        invoice.invoice_id, Decimal(0)
                    ) + abs(amount)
                    rows.append(
                        [
                            payment_id,
                            invoice.invoice_id,
                            invoice.number,
                            invoice.vendor.id,
                            paid_on.isoformat(),
                            _money(amount),
                            invoice.currency,
                            method,
                            reference,
                        ]
                    )
            return self._csv(PAYMENT_COLUMNS, rows, messy=messy)

    def write_vendors(self, n_vendors: int | None = None, *, messy: bool = True) -> Path:
        """Vendors changed since the last export: all of them the first time, a few later."""
        with self._lock:
            return self._write("vendors", self._vendors_bytes(n_vendors, messy=messy))

    def _vendors_bytes(self, n_vendors: int | None, *, messy: bool) -> bytes:
        with self._lock:
            vendors = list(self.company.vendors)
            if self._vendors_exported or n_vendors is not None:
                count = n_vendors if n_vendors is not None else self._rng.randint(1, 3)
                vendors = self._rng.sample(vendors, min(count, len(vendors)))
            self._vendors_exported = True
            modified = self._now_local().isoformat(timespec="seconds")
            rows = [
                [
                    v.id,
                    v.name,
                    v.tax_id,
                    v.email,
                    v.phone,
                    v.address_line1,
                    v.address_line2,
                    v.city,
                    v.region,
                    v.postal_code,
                    v.country,
                    v.currency,
                    v.payment_terms,
                    "Active",
                    v.erp_vendor_code,
                    modified,
                ]
                for v in vendors
            ]
            return self._csv(VENDOR_COLUMNS, rows, messy=messy)

    def write_gl_accounts(self, *, messy: bool = True) -> Path:
        """Every GL account Stampli knows."""
        with self._lock:
            return self._write("gl_accounts", self._gl_bytes(messy=messy))

    def _gl_bytes(self, *, messy: bool) -> bytes:
        rows = [
            [a.code, a.name, a.type, "true" if a.active else "false"]
            for a in self.company.gl_accounts
        ]
        return self._csv(GL_ACCOUNT_COLUMNS, rows, messy=messy)

    def write_growing(
        self, kind: ExportKind = "invoices", seconds: float = 5.0, *, chunks: int = 10
    ) -> Path:
        """Write an export slowly, in `chunks` pieces over `seconds` (blocks meanwhile).

        The file is listed while still growing, as a real Stampli upload can be. Run it in a
        thread to keep going; the path is final from the first byte.
        """
        with self._lock:
            if kind == "invoices":
                invoices = [self._new_invoice((2, 6)) for _ in range(12)]
                self._record_issued(invoices)
                data = self._csv(INVOICE_COLUMNS, self._invoice_rows(invoices), messy=True)
            elif kind == "payments":
                data = self._payments_bytes(None, messy=True)
            elif kind == "vendors":
                data = self._vendors_bytes(None, messy=True)
            else:
                data = self._gl_bytes(messy=True)
            path = self._reserve(kind, "csv")
        step = max(1, -(-len(data) // chunks))
        with path.open("wb") as handle:
            for start in range(0, len(data), step):
                handle.write(data[start : start + step])
                handle.flush()
                time.sleep(seconds / chunks)
        return path

    def redeliver(self, path: Path) -> Path:
        """The same bytes again under a new name (Stampli re-exports happen)."""
        with self._lock:
            source = Path(path)
            kind = self._kind_of(source)
            target = self._reserve(kind, source.suffix.lstrip(".") or "csv")
            shutil.copyfile(source, target)
            self._written.append(target)
            return target

    def tick(self) -> list[Path]:
        """One export round, as Stampli's 5-minute cadence produces.

        Always invoices; now and then payments, vendors, GL accounts, a re-delivery, or a slowly
        growing file (written in a background thread).
        """
        with self._lock:
            written = [
                self.write_invoices(
                    self._rng.randint(1, 4),
                    fmt=self.invoice_format,
                    bad_invoices=1 if self._rng.random() < 0.15 else 0,
                )
            ]
            if self._rng.random() < 0.5:
                written.append(self.write_payments(self._rng.randint(1, 3)))
            if self._rng.random() < 0.25:
                written.append(self.write_vendors())
            if self._rng.random() < 0.1:
                written.append(self.write_gl_accounts())
            if self._rng.random() < 0.1 and self._written:
                written.append(self.redeliver(self._rng.choice(self._written)))
            grow = self._rng.random() < 0.1
        if grow:
            thread = threading.Thread(
                target=self.write_growing, args=("invoices", 4.0), daemon=True
            )
            thread.start()
            self._background.append(thread)
        return written

    def wait(self, timeout: float | None = None) -> None:
        """Wait for slowly growing files still being written in the background."""
        for thread in self._background:
            thread.join(timeout)
        self._background = [t for t in self._background if t.is_alive()]

    def run(self, interval_s: float, stop_event: threading.Event) -> None:
        """Tick every `interval_s` seconds until `stop_event` is set."""
        while not stop_event.is_set():
            self.tick()
            stop_event.wait(interval_s)

    # -- invoices ----------------------------------------------------------------------------

    def _new_invoice(self, lines: tuple[int, int], vendor_id: str | None = None) -> _Invoice:
        rng = self._rng
        self._serial += 1
        vendor = self.company.vendor(vendor_id) if vendor_id else self._pick(self.company.vendors)
        credit = rng.random() < 0.1
        sign = Decimal(-1) if credit else Decimal(1)
        count = rng.randint(lines[0], max(lines[0], lines[1]))
        accounts = self.company.expense_accounts
        items = []
        for number in range(1, count + 1):
            cents = rng.randint(500, 250_000)
            items.append(
                _Line(
                    number=number,
                    description=rng.choice(_ITEMS),
                    gl_account=self._pick(accounts).code,
                    cost_center=rng.choice(self.company.cost_centers) if rng.random() < 0.8 else "",
                    amount=sign * Decimal(cents) / 100,
                )
            )
        net = sum((line.amount for line in items), Decimal(0))
        rate = rng.choice((Decimal(0), Decimal("0.05"), Decimal("0.0825"), Decimal("0.19")))
        tax = (net * rate).quantize(CENT)
        invoice_date = self._today() - timedelta(days=rng.randint(0, 20))
        terms = int("".join(c for c in vendor.payment_terms if c.isdigit()) or 30)
        approved_at = self._now_local() - timedelta(minutes=rng.randint(5, 600))
        return _Invoice(
            invoice_id=f"STI-{self._stamp()}-{self._serial:05d}",
            # Vendor invoice numbers stay within SYSPRO's 20 characters: base-36 seconds.
            number=f"{'CM' if credit else 'INV'}-{self._short_stamp()}-{self._serial}",
            vendor=vendor,
            invoice_date=invoice_date,
            due_date=invoice_date + timedelta(days=terms),
            # Never a future posting date: an ERP refuses a period it has not opened yet.
            posting_date=(
                None if rng.random() < 0.3 else min(invoice_date + timedelta(days=1), self._today())
            ),
            currency=vendor.currency,
            tax=tax,
            total=net + tax,
            po_number=f"PO-{rng.randint(1000, 9999)}" if rng.random() < 0.5 else "",
            lines=tuple(items),
            approved_by=rng.choice(_APPROVERS),
            approved_at=approved_at.replace(microsecond=0),
            document_type="CreditMemo" if credit else "Invoice",
        )

    def _pick(self, choices: "tuple[_T, ...]") -> "_T":
        """Mostly records the ERP knows; now and then one it does not (a located demo error)."""
        known = tuple(c for c in choices if getattr(c, "in_erp", True))
        if known and self._rng.random() >= 0.05:
            return self._rng.choice(known)
        return self._rng.choice(choices)

    def _spoil(self, invoice: _Invoice) -> _Invoice:
        """Lines that no longer add up to the total: the parser must locate it."""
        off = Decimal(self._rng.choice(("0.01", "10.00", "99.99")))
        return _Invoice(**{**invoice.__dict__, "total": invoice.total + off})

    def _invoice_rows(self, invoices: list[_Invoice]) -> list[list[str]]:
        rows = []
        for inv in invoices:
            for line in inv.lines:
                rows.append(
                    [
                        inv.invoice_id,
                        inv.number,
                        inv.vendor.id,
                        inv.vendor.name,
                        inv.invoice_date.isoformat(),
                        inv.due_date.isoformat(),
                        inv.posting_date.isoformat() if inv.posting_date else "",
                        inv.currency,
                        _money(inv.total),
                        _money(inv.tax),
                        inv.po_number,
                        str(line.number),
                        line.description,
                        line.gl_account,
                        line.cost_center,
                        _money(line.amount),
                        inv.approved_by,
                        inv.approved_at.isoformat(),
                        inv.document_type,
                    ]
                )
        return rows

    def _invoices_xml(self, invoices: list[_Invoice]) -> bytes:
        root = ET.Element(
            "StampliExport",
            {
                "kind": "ApprovedInvoices",
                "generatedAt": self._now_utc().strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
        )
        for inv in invoices:
            node = ET.SubElement(
                root,
                "Invoice",
                {"id": inv.invoice_id, "number": inv.number, "type": inv.document_type},
            )
            ET.SubElement(node, "Vendor", {"id": inv.vendor.id, "name": inv.vendor.name})
            ET.SubElement(node, "InvoiceDate").text = inv.invoice_date.isoformat()
            ET.SubElement(node, "DueDate").text = inv.due_date.isoformat()
            if inv.posting_date is not None:
                ET.SubElement(node, "PostingDate").text = inv.posting_date.isoformat()
            ET.SubElement(node, "Currency").text = inv.currency
            ET.SubElement(node, "Total").text = _money(inv.total)
            ET.SubElement(node, "Tax").text = _money(inv.tax)
            if inv.po_number:
                ET.SubElement(node, "PONumber").text = inv.po_number
            ET.SubElement(
                node, "Approval", {"by": inv.approved_by, "at": inv.approved_at.isoformat()}
            )
            lines_node = ET.SubElement(node, "Lines")
            for line in inv.lines:
                attrs = {"number": str(line.number), "glAccount": line.gl_account}
                if line.cost_center:
                    attrs["costCenter"] = line.cost_center
                line_node = ET.SubElement(lines_node, "Line", attrs)
                ET.SubElement(line_node, "Description").text = line.description
                ET.SubElement(line_node, "Amount").text = _money(line.amount)
        ET.indent(root)
        body = ET.tostring(root, encoding="unicode")
        return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n").encode("utf-8")

    # -- files -------------------------------------------------------------------------------

    def _csv(self, columns: tuple[str, ...], rows: list[list[str]], *, messy: bool) -> bytes:
        crlf = messy and self._rng.random() < 0.4
        bom = messy and self._rng.random() < 0.3
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer, lineterminator="\r\n" if crlf else "\n")
        writer.writerow(columns)
        writer.writerows(rows)
        data = buffer.getvalue().encode("utf-8")
        return (b"\xef\xbb\xbf" + data) if bom else data

    def _reserve(self, kind: ExportKind, ext: str) -> Path:
        """A fresh file name: `<kind>_<YYYYMMDD>_<HHMMSS>[_<seq>].<ext>`, never reused."""
        folder = self.root / FOLDERS[kind]
        folder.mkdir(parents=True, exist_ok=True)
        base = f"{FILE_PREFIX[kind]}_{self._now_utc():%Y%m%d_%H%M%S}"
        path = folder / f"{base}.{ext}"
        seq = 0
        while path.exists() or path in self._written:
            seq += 1
            path = folder / f"{base}_{seq}.{ext}"
        path.touch()
        return path

    def _write(self, kind: ExportKind, data: bytes, *, ext: str = "csv") -> Path:
        path = self._reserve(kind, ext)
        path.write_bytes(data)
        self._written.append(path)
        return path

    def _kind_of(self, path: Path) -> ExportKind:
        for kind, folder in FOLDERS.items():
            if path.parent.resolve() == (self.root / folder).resolve():
                return kind
        for kind, prefix in FILE_PREFIX.items():
            if path.name.startswith(prefix):
                return kind
        raise ValueError(f"not a Stampli export: {path}")

    def _now_utc(self) -> datetime:
        return datetime.now(UTC)

    def _now_local(self) -> datetime:
        return self._now_utc().astimezone(self._zone)

    def _today(self) -> date:
        return self._now_local().date()

    def _stamp(self) -> str:
        return f"{self._now_utc():%y%m%d%H%M%S}"

    def _short_stamp(self) -> str:
        seconds = int(self._now_utc().timestamp())
        digits = ""
        while seconds:
            seconds, rest = divmod(seconds, 36)
            digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[rest] + digits
        return digits
