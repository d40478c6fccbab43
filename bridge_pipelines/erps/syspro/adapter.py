"""`SysproAdapter`: the ERP adapter protocol over SYSPRO e.net Solutions and SYSPRO OData.

- Master data (suppliers, ledger codes, analysis codes) is read through OData: no e.net
  session, no licence seat.
- Invoices are posted with APSTIN (`PostApInvoice`), our reference in `TransactionReference`,
  and found again with a COMFND query on `ApInvoice` by its key (supplier + invoice number),
  keeping the row only when its `Reference` is ours. COMFND reads the
  table APSTIN writes in its own transaction, so a committed invoice is found by the next
  lookup: `lookup_is_read_after_write_consistent` is True. SYSPRO also refuses a second
  invoice with the same supplier and invoice number, a second guard against duplicates.
- Suppliers are maintained with APSSSP: a COMFND look decides between Setup/Add and
  Setup/Update, so calling `upsert_vendor` again after an uncertain answer is safe.

One adapter is one batch: the e.net session is opened at the first e.net call and closed by
`close()` / the `with` block. SYSPRO allows one session per operator, so never run two
adapters for the same operator at once: the second logon ends the first one's session.
"""

import logging
from collections.abc import Iterator, Mapping
from datetime import date
from types import MappingProxyType
from typing import Any, Literal

import httpx
from pydantic import SecretStr

from bridge_pipelines.erps.base import (
    AdapterBase,
    DimensionType,
    ErpDimension,
    ErpDocumentRef,
    ErpGlAccount,
    ErpVendor,
    ExternalRef,
    PostableInvoice,
    UpsertResult,
    VendorChange,
)
from bridge_pipelines.erps.external_ref import PREFIX as EXTERNAL_REF_PREFIX
from bridge_pipelines.erps.external_ref import is_external_ref
from bridge_pipelines.erps.http import RequestLimiter
from bridge_pipelines.erps.plugin import ErpSecrets, require
from bridge_pipelines.erps.session import post_with_lookup
from bridge_pipelines.erps.syspro import errors, payloads
from bridge_pipelines.erps.syspro.client import SysproClient, SysproSettings
from bridge_pipelines.erps.syspro.odata import ODataReader
from bridge_pipelines.erps.syspro.payment_payloads import DEFAULT_PAYMENT_RUNS
from bridge_pipelines.erps.syspro.payments import SysproPayments
from bridge_pipelines.erps.syspro.settings import SysproErpSettings
from bridge_pipelines.erps.values import (
    checked_code,
    day_or_none,
    decimal_or_none,
    odata_literal,
    text_or_none,
)
from bridge_pipelines.errors import BadInputError, ConfigError, NeedsLookupError, RetryableError
from bridge_pipelines.redaction import register_secret

log = logging.getLogger(__name__)

APSTIN = "APSTIN"
APSSSP = "APSSSP"
COMFND = "COMFND"
INVOICE_COLUMNS = ("Supplier", "Invoice", "Reference", "Journal", "InvoiceStatus")
POSTED_COLUMNS = (*INVOICE_COLUMNS, "OrigInvValue", "JournalDate")
POSTED_PAGE_ROWS = 1000
# SYSPRO analysis types are configured per company; type 1 holds cost centers in ours [I].
DEFAULT_ANALYSIS_TYPES: Mapping[int, DimensionType] = MappingProxyType(
    {1: DimensionType.COST_CENTER}
)


def _posted_document(row: Mapping[str, Any]) -> ErpDocumentRef | None:
    """An `ApInvoice` row (OData or COMFND) as a document of ours, or None if not ours."""
    reference = str(row.get("Reference") or "").strip()
    if not is_external_ref(reference):
        return None
    supplier = str(row["Supplier"]).strip()
    invoice = str(row["Invoice"]).strip()
    return ErpDocumentRef(
        doc_id=f"{supplier}/{invoice}",
        vendor_code=supplier,
        document_number=invoice,
        external_ref=reference,
        status=text_or_none(row.get("InvoiceStatus")) or "posted",
        total=decimal_or_none(row.get("OrigInvValue")),
        document_date=day_or_none(row.get("JournalDate")),
    )


class SysproAdapter(SysproPayments, AdapterBase):
    """One SYSPRO company, for one batch. Use it as a context manager."""

    lookup_is_read_after_write_consistent: bool = True

    def __init__(
        self,
        settings: SysproSettings,
        http: httpx.Client | None = None,
        analysis_types: Mapping[int, DimensionType] = DEFAULT_ANALYSIS_TYPES,
        rate_limiter: RequestLimiter | None = None,
        tax_account: str | None = None,
        payment_runs: Mapping[str, str] = DEFAULT_PAYMENT_RUNS,
    ) -> None:
        register_secret(settings.password.get_secret_value())
        register_secret(settings.company_password.get_secret_value())
        self.settings = settings
        # One pacer: e.net and OData calls count against the same gateway limit.
        self.client = SysproClient(settings, http, rate_limiter)
        self._odata = ODataReader(self.client.http, settings, self.client.pacer)
        self._analysis_types = dict(analysis_types)
        self.tax_account = tax_account
        # Payments (payments.py): the payment run a check is captured in, by currency.
        self.payment_runs = {k.upper(): v for k, v in payment_runs.items()}

    # --- master data (OData) ----------------------------------------------------------------

    def read_vendors(self) -> Iterator[ErpVendor]:
        """Every supplier (`ApSupplier`); a supplier on hold is inactive."""
        columns = ("Supplier", "SupplierName", "Currency", "TermsCode", "TaxRegnNum", "Email")
        for row in self._odata.entities("ApSupplier", select=(*columns, "OnHold")):
            yield ErpVendor(
                code=str(row["Supplier"]).strip(),
                name=str(row.get("SupplierName") or "").strip(),
                currency=text_or_none(row.get("Currency")),
                active=str(row.get("OnHold") or "N").strip().upper() != "Y",
                terms_code=text_or_none(row.get("TermsCode")),
                tax_id=text_or_none(row.get("TaxRegnNum")),
                email=text_or_none(row.get("Email")),
            )

    def read_gl_accounts(self) -> Iterator[ErpGlAccount]:
        """Every ledger code (`GenMaster`); a code on hold takes no postings, so is inactive."""
        select = ("GlCode", "Description", "AccountType", "AccountOnHold")
        for row in self._odata.entities("GenMaster", select=select):
            yield ErpGlAccount(
                code=str(row["GlCode"]).strip(),
                name=str(row.get("Description") or "").strip(),
                account_type=text_or_none(row.get("AccountType")),
                active=str(row.get("AccountOnHold") or "N").strip().upper() != "Y",
            )

    def read_dimensions(self) -> Iterator[ErpDimension]:
        """GL analysis codes (`GenAnalysisCode`) of the analysis types we map to dimensions."""
        select = ("AnalysisType", "AnalysisCode", "Description")
        for row in self._odata.entities("GenAnalysisCode", select=select):
            try:
                kind = self._analysis_types.get(int(row["AnalysisType"]))
            except (TypeError, ValueError):
                kind = None
            if kind is None:
                continue
            yield ErpDimension(
                type=kind,
                code=str(row["AnalysisCode"]).strip(),
                name=str(row.get("Description") or "").strip(),
            )

    # --- postings (e.net) -------------------------------------------------------------------

    def find_by_external_ref(self, ref: ExternalRef) -> list[ErpDocumentRef]:
        """The AP invoice with `ref`'s supplier and invoice number, if it carries our reference.

        COMFND reads `ApInvoice` by its key (Supplier, Invoice) [C], and the row counts only
        when its `Reference` is ours: an invoice someone else keyed under the same number is
        not ours (posting ours is then refused by SYSPRO as a duplicate and goes to review).
        """
        checked_code(ref.vendor_code, "supplier code")
        checked_code(ref.document_number, "invoice number")
        written = payloads.reference_for(ref.value)
        xml_in = payloads.query(
            "ApInvoice",
            INVOICE_COLUMNS,
            where=(
                payloads.Condition("Supplier", ref.vendor_code),
                payloads.Condition("Invoice", ref.document_number),
            ),
            order_by=("Invoice",),
            return_rows=100,
        )
        root, text = self.client.query(COMFND, xml_in)
        try:
            rows = payloads.query_rows(root, "ApInvoice", INVOICE_COLUMNS)
        except payloads.MalformedResponseError as exc:
            raise NeedsLookupError(f"SYSPRO COMFND lookup: {exc}") from None
        return [
            ErpDocumentRef(
                doc_id=f"{row['Supplier']}/{row['Invoice']}",
                vendor_code=row["Supplier"],
                document_number=row["Invoice"],
                external_ref=ref.value,
                status=row["InvoiceStatus"] or "posted",
                complete=True,
                response=text,
            )
            for row in rows
            if row["Reference"] == written
        ]

    def post_invoice(self, invoice: PostableInvoice) -> ErpDocumentRef:
        """Post the invoice with APSTIN, once; see the protocol for the error classes.

        After an `ERROR` answer (the session ended) the adapter logs on again and looks the
        reference up before it sends the invoice a second time.
        """
        parameters = payloads.ap_invoice_parameters(invoice.posting_period)
        xml_in = payloads.ap_invoice(invoice, self.tax_account)

        def send() -> ErpDocumentRef:
            root, text = self.client.transaction(APSTIN, parameters, xml_in, session_retry=False)
            return self._posted(invoice, root, text)

        return post_with_lookup(self.client, send, self.find_by_external_ref, invoice, APSTIN)

    def _posted(self, invoice: PostableInvoice, root: Any, text: str) -> ErpDocumentRef:
        try:
            result = payloads.business_object_result(root, "postapinvoice")
        except payloads.MalformedResponseError as exc:
            raise NeedsLookupError(
                f"SYSPRO APSTIN: unexpected answer ({exc}); it may have been applied"
            ) from None
        if result.errors or result.invalid or result.processed < 1:
            raise errors.rejected(APSTIN, result.errors or ["no item was processed"], text)
        item = next(
            (i for i in result.items if i.invoice == invoice.invoice_number),
            payloads.PostedItem(invoice.vendor_code, invoice.invoice_number, ""),
        )
        return ErpDocumentRef(
            doc_id=item.doc_id,
            vendor_code=item.supplier or invoice.vendor_code,
            document_number=item.invoice,
            external_ref=invoice.external_ref,
            status=f"posted, AP journal {item.journal}" if item.journal else "posted",
            complete=True,
            response=text,
        )

    def read_posted_documents(self, since: date | None = None) -> Iterator[ErpDocumentRef]:
        """Every AP invoice whose `Reference` has our shape, for `bridge verify`.

        Read through OData `ApInvoice` (`startswith(Reference,'BP')`) [I: the entity set],
        which takes no e.net session: a verify never logs the posting pipeline's operator
        off. A service without that entity set is read with COMFND instead. `total` is
        `OrigInvValue` (negative for a credit note); SYSPRO balances its own GL journal and
        neither path shows the journal lines, so debits and credits stay None.
        """
        started = False
        try:
            for row in self._posted_rows_odata(since):
                started = True
                if doc := _posted_document(row):
                    yield doc
            return
        except ConfigError as exc:
            if started:
                raise
            log.info("SYSPRO OData has no ApInvoice (%s); listing with COMFND", exc)
        for row in self._posted_rows_comfnd(since):
            if doc := _posted_document(row):
                yield doc

    def _posted_rows_odata(self, since: date | None) -> Iterator[Mapping[str, Any]]:
        prefix = odata_literal(EXTERNAL_REF_PREFIX, "reference prefix")
        where = f"startswith(Reference,{prefix})"
        if since is not None:
            where += f" and JournalDate ge {odata_literal(since.isoformat(), 'day')}"
        yield from self._odata.entities("ApInvoice", select=POSTED_COLUMNS, filter=where)

    def _posted_rows_comfnd(self, since: date | None) -> Iterator[Mapping[str, Any]]:
        """COMFND `Reference LIKE 'BP%'` [I: LIKE], in pages by key (Supplier, Invoice).

        Each page asks for the rows after the last key seen, so no row is read twice.
        """
        last: tuple[str, str] | None = None
        while True:
            where = [payloads.Condition("Reference", f"{EXTERNAL_REF_PREFIX}%", "LIKE")]
            if since is not None:
                where.append(payloads.Condition("JournalDate", since.isoformat(), "GE"))
            if last is not None:
                # (Supplier > s) OR (Supplier = s AND Invoice > i), in COMFND's brackets.
                where += [
                    payloads.Condition("Supplier", last[0], "GT", open_brackets=2),
                    payloads.Condition("Supplier", last[0], "EQ", and_or="Or"),
                    payloads.Condition("Invoice", last[1], "GT", close_brackets=2),
                ]
            xml_in = payloads.query(
                "ApInvoice",
                POSTED_COLUMNS,
                where=where,
                order_by=("Supplier", "Invoice"),
                return_rows=POSTED_PAGE_ROWS,
            )
            root, _ = self.client.query(COMFND, xml_in)
            try:
                rows = payloads.query_rows(root, "ApInvoice", POSTED_COLUMNS)
            except payloads.MalformedResponseError as exc:
                raise RetryableError(f"SYSPRO COMFND listing: {exc}") from None
            yield from rows
            if len(rows) < POSTED_PAGE_ROWS:
                return
            last = (rows[-1]["Supplier"], rows[-1]["Invoice"])

    # --- supplier maintenance (e.net) -------------------------------------------------------

    def _supplier_exists(self, code: str) -> bool:
        xml_in = payloads.query(
            "ApSupplier", ("Supplier",), where=(payloads.Condition("Supplier", code),)
        )
        root, _ = self.client.query(COMFND, xml_in)
        try:
            rows = payloads.query_rows(root, "ApSupplier", ("Supplier",))
        except payloads.MalformedResponseError as exc:
            raise NeedsLookupError(f"SYSPRO COMFND supplier lookup: {exc}") from None
        return any(row["Supplier"] == code for row in rows)

    def upsert_vendor(self, vendor: VendorChange) -> UpsertResult:
        """Create the supplier (Setup/Add) or update it (Setup/Update), decided by a lookup.

        Raises:
            BadInputError: no supplier code (SYSPRO needs one; the mapping assigns it) or a
                value SYSPRO cannot hold.
            RejectedByErpError: APSSSP refused it; SYSPRO's messages are kept.
            NeedsLookupError: the answer was lost; calling again is safe.
        """
        if not vendor.code:
            raise BadInputError(
                f"vendor {vendor.name!r}: SYSPRO needs a supplier code; map the vendor first"
            )
        checked_code(vendor.code, "supplier code")
        xml_in = payloads.supplier(vendor.code, payloads.supplier_fields(vendor))
        exists = self._supplier_exists(vendor.code)
        action: Literal["Add", "Update"] = "Update" if exists else "Add"
        root, text = self.client.setup(action, APSSSP, payloads.supplier_parameters(), xml_in)
        try:
            result = payloads.business_object_result(root, "setupapsupplier")
        except payloads.MalformedResponseError as exc:
            raise NeedsLookupError(f"SYSPRO APSSSP {action}: unexpected answer ({exc})") from None
        if result.errors or result.invalid or result.processed < 1:
            raise errors.rejected(APSSSP, result.errors or ["no item was processed"], text)
        return UpsertResult(code=vendor.code, created=not exists, response=text)

    def close(self) -> None:
        """Log off (the session holds a licence seat) and close the connections."""
        self.client.close()


def build_adapter(
    settings: SysproErpSettings,
    secrets: ErpSecrets,
    *,
    owner: str = "tenant",
    http: httpx.Client | None = None,
    rate_limiter: RequestLimiter | None = None,
    **overrides: Any,
) -> SysproAdapter:
    """The registry's factory: a SYSPRO adapter from a tenant's `erp:` block and its secrets.

    `overrides` are `SysproSettings` fields (timeouts, `odata_url`, `max_requests_per_minute`,
    `ca_bundle`), `tax_account` (default: the tenant's `erp.syspro_tax_account`) and
    `payment_runs` (default: `erp.syspro_payment_runs`, else `MANLOC` for every currency).

    Raises:
        ConfigError: the ERP block lacks the URL, operator, password or company, or
            `erp.ca_bundle` is not a readable PEM file here.
    """
    require(settings, owner, "base_url", "username", "password", "company")
    assert settings.base_url and settings.username and settings.company
    tax_account = overrides.pop("tax_account", settings.syspro_tax_account)
    payment_runs = overrides.pop(
        "payment_runs", settings.syspro_payment_runs or DEFAULT_PAYMENT_RUNS
    )
    if settings.odata_url:
        overrides.setdefault("odata_url", settings.odata_url)
    client_settings = SysproSettings(
        rest_url=settings.base_url,
        operator=settings.username,
        password=secrets["password"],
        company=settings.company,
        company_password=secrets.get("company_password", SecretStr("")),
        **settings.client_options(owner, overrides),
    )
    return SysproAdapter(
        client_settings,
        http,
        rate_limiter=rate_limiter,
        tax_account=tax_account,
        payment_runs=payment_runs,
    )
