"""Reading a period from SYSPRO's OData, incrementally on `ChangedAt`.

A window is (`after`, `until`]: `after` None reads the period from its start; `until` None
reads to whatever is there now. `$filter` carries the period and the window, `$orderby` the
order the file is written in (GL lines by cost centre), so the rows stream page by page in
file order and nothing is sorted here. A page that fails after the retry budget raises: the
caller writes no file from half a period.
"""

import queue
import threading
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from typing import Any

from bridge_pipelines.erps.session import MAX_PAGES, same_service
from bridge_pipelines.erps.syspro.client import SysproSettings
from bridge_pipelines.erps.syspro.odata import ODataReader
from bridge_pipelines.errors import BadInputError, ConfigError
from bridge_pipelines.partners.periods import Period
from bridge_pipelines.partners.records import GlLine, InvoiceLine, PoLine, Row

ENTITY_SETS = {
    "gl_journal": "GenJournalDetail",
    "ap_invoices": "ApInvoiceDetail",
    "purchase_orders": "PorMasterDetail",
}
PREFETCH = 2  # pages fetched ahead
ORDER = {
    "gl_journal": "GlYear,GlPeriod,CostCentre,Journal,EntryNumber",
    "ap_invoices": "Supplier,Invoice,Line",
    "purchase_orders": "PurchaseOrder,Line",
}


class PeriodReader(ODataReader):
    """The tenant's SYSPRO OData service, read for one period's datasets.

    Pages are fetched one ahead on a helper thread, so SYSPRO renders the next page while this
    process turns the current one into a file (the two overlap on two cores). A failed page
    raises in the reader after the rows before it, which the caller then throws away.
    """

    def rows(
        self, entity_set: str, *, filter: str, orderby: str, select: tuple[str, ...] = ()
    ) -> Iterator[dict[str, Any]]:
        """Every row of `entity_set` matching `filter`, in `orderby` order, page by page."""
        params: dict[str, str] | None = {"$filter": filter, "$orderby": orderby}
        if select and params is not None:
            params["$select"] = ",".join(select)
        pages: queue.Queue[list[Any] | BaseException | None] = queue.Queue(maxsize=PREFETCH)
        stop = threading.Event()

        def put(item: list[Any] | BaseException | None) -> None:
            while not stop.is_set():
                try:
                    pages.put(item, timeout=0.2)
                    return
                except queue.Full:
                    continue

        def fetch() -> None:
            url, query = f"{self.settings.odata_url}/{entity_set}", params
            try:
                for _ in range(MAX_PAGES):
                    body = self._page(url, query, entity_set)
                    rows = [row for row in body["value"] if isinstance(row, dict)]
                    put(rows)
                    link = body.get("@odata.nextLink") or body.get("odata.nextLink")
                    if not link or not rows or stop.is_set():
                        put(None)
                        return
                    following = self._root.join(str(link))
                    if not same_service(self._root, following):
                        raise ConfigError(f"SYSPRO OData {entity_set}: nextLink leaves the service")
                    url, query = str(following), None
                raise ConfigError(f"SYSPRO OData {entity_set}: more than {MAX_PAGES} pages")
            except BaseException as exc:  # handed to the reading thread, raised there
                put(exc)

        worker = threading.Thread(target=fetch, name=f"odata-{entity_set}", daemon=True)
        worker.start()
        try:
            while (item := pages.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield from item
        finally:
            stop.set()
            worker.join(timeout=5)


def window_filter(dataset: str, period: Period, after: str | None, until: str | None) -> str:
    """The `$filter` of a dataset's rows in `period` with `ChangedAt` in (after, until]."""
    if dataset in ("gl_journal", "ap_invoices"):
        parts = [f"GlYear eq {period.year}", f"GlPeriod eq {period.month}"]
    else:
        start, end = period.first_day.isoformat(), period.last_day.isoformat()
        parts = [f"OrderDate ge {start}", f"OrderDate le {end}"]  # Edm.Date literals
    if after is not None:
        parts.append(f"ChangedAt gt {after}")
    if until is not None:
        parts.append(f"ChangedAt le {until}")
    return " and ".join(parts)


def _text(row: dict[str, Any], name: str, where: str) -> str:
    value = row.get(name)
    if value is None:
        raise BadInputError(f"SYSPRO {where}: field {name} is missing")
    return str(value).strip()


def _decimal(row: dict[str, Any], name: str, where: str) -> Decimal:
    value = row.get(name)
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise BadInputError(f"SYSPRO {where}: field {name} is not a number: {value!r}")
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        raise BadInputError(f"SYSPRO {where}: field {name} is not a number: {value!r}") from None
    if not number.is_finite():
        raise BadInputError(f"SYSPRO {where}: field {name} is not a finite number")
    return number


def _date(row: dict[str, Any], name: str, where: str) -> date:
    try:
        return date.fromisoformat(_text(row, name, where)[:10])
    except ValueError:
        raise BadInputError(
            f"SYSPRO {where}: field {name} is not a date: {row.get(name)!r}"
        ) from None


def gl_line(row: dict[str, Any]) -> GlLine:
    """A `GenJournalDetail` row, typed (the fast path: one lookup per field)."""
    try:
        amount = row["EntryValue"]
        return GlLine(
            year=int(row["GlYear"]),
            period=int(row["GlPeriod"]),
            journal=int(row["Journal"]),
            entry=int(row["EntryNumber"]),
            date=date.fromisoformat(row["JournalDate"][:10]),
            account=row["GlCode"].strip(),
            cost_centre=row["CostCentre"].strip(),
            amount=amount if type(amount) is Decimal else _decimal(row, "EntryValue", ""),
            reference=row["Reference"].strip(),
            comment=row["Comment"].strip(),
            changed_at=row["ChangedAt"].strip(),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        where = f"GenJournalDetail journal {row.get('Journal')} entry {row.get('EntryNumber')}"
        raise BadInputError(f"SYSPRO {where}: {type(exc).__name__}: {exc}") from None


def invoice_line(row: dict[str, Any]) -> InvoiceLine:
    """An `ApInvoiceDetail` row, typed."""
    where = f"ApInvoiceDetail {row.get('Supplier')}/{row.get('Invoice')} line {row.get('Line')}"
    return InvoiceLine(
        supplier=_text(row, "Supplier", where),
        invoice=_text(row, "Invoice", where),
        line=int(row["Line"]),
        invoice_date=_date(row, "InvoiceDate", where),
        due_date=_date(row, "DueDate", where),
        currency=_text(row, "Currency", where),
        purchase_order=_text(row, "PurchaseOrder", where),
        stock_code=_text(row, "StockCode", where),
        description=_text(row, "Description", where),
        quantity=_decimal(row, "Quantity", where),
        uom=_text(row, "Uom", where),
        unit_price=_decimal(row, "UnitPrice", where),
        amount=_decimal(row, "LineValue", where),
        account=_text(row, "GlCode", where),
        cost_centre=_text(row, "CostCentre", where),
        changed_at=_text(row, "ChangedAt", where),
    )


def po_line(row: dict[str, Any]) -> PoLine:
    """A `PorMasterDetail` row, typed."""
    where = f"PorMasterDetail {row.get('PurchaseOrder')} line {row.get('Line')}"
    return PoLine(
        purchase_order=_text(row, "PurchaseOrder", where),
        line=int(row["Line"]),
        supplier=_text(row, "Supplier", where),
        order_date=_date(row, "OrderDate", where),
        due_date=_date(row, "DueDate", where),
        stock_code=_text(row, "StockCode", where),
        description=_text(row, "Description", where),
        quantity=_decimal(row, "OrderQty", where),
        uom=_text(row, "Uom", where),
        price=_decimal(row, "Price", where),
        changed_at=_text(row, "ChangedAt", where),
    )


PARSERS: dict[str, Callable[[dict[str, Any]], Row]] = {
    "gl_journal": gl_line,
    "ap_invoices": invoice_line,
    "purchase_orders": po_line,
}


def read_window(
    reader: PeriodReader, dataset: str, period: Period, after: str | None, until: str | None
) -> Iterator[GlLine | InvoiceLine | PoLine]:
    """The dataset's rows of `period` changed in (after, until], in file order."""
    parse = PARSERS[dataset]
    for row in reader.rows(
        ENTITY_SETS[dataset],
        filter=window_filter(dataset, period, after, until),
        orderby=ORDER[dataset],
    ):
        yield parse(row)


def supplier_names(reader: PeriodReader) -> dict[str, str]:
    """Supplier code -> name (`ApSupplier`), for the files that name suppliers."""
    names: dict[str, str] = {}
    for row in reader.entities("ApSupplier", select=("Supplier", "SupplierName")):
        names[str(row["Supplier"]).strip()] = str(row.get("SupplierName") or "").strip()
    return names


def open_reader(settings: SysproSettings) -> PeriodReader:
    """A reader over the OData root of `settings`.

    Raises:
        ConfigError: no OData URL could be derived.
    """
    if not settings.odata_url:
        raise ConfigError("SYSPRO odata_url is not set; the partner exports read OData")
    return PeriodReader(None, settings)  # type: ignore[arg-type]
