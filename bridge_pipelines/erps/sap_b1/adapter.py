"""`SapB1Adapter`: the ERP adapter protocol over the SAP Business One Service Layer.

- One Service Layer session per adapter (= per batch), opened at the first call, renewed once
  when SAP answers 401/301, ended by `close()` / the `with` block.
- Postings: per tenant (`erp.sap_b1_posting_mode`) an A/P service invoice (`PurchaseInvoices`,
  the vendor's invoice number in `NumAtCard`, our reference in `JournalMemo`; credit memos on
  `PurchaseCreditNotes`) or a journal entry (`JournalEntries`, our reference in `Reference`).
  See `payloads.py`.
- Lookup: `$filter` on CardCode + our reference in JournalMemo or (documents posted before
  issue 16) NumAtCard, not cancelled; or on Reference. SAP commits a
  document before it answers and the filter reads the same tables, so a committed document is
  found by the next lookup: `lookup_is_read_after_write_consistent` is True.
- A post is never re-sent blindly: after an expired session the adapter logs in again and
  looks the reference up first; a timeout, reset or 5xx after sending is `NeedsLookupError`.
- Payments (issue 15): outgoing payments (`VendorPayments`) applied to the posted A/P
  invoices and credit notes, from the tenant's `erp.sap_b1_payment_account`; our reference in
  `JournalRemarks`, searched before any resend; open balances read as `DocTotal - PaidToDate`.
- Master data: `BusinessPartners` (suppliers), `ChartOfAccounts`, `ProfitCenters` (cost
  centers), `Projects`, open `PurchaseOrders`, paged through nextLinks.
"""

import logging
from collections.abc import Iterator, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import httpx

from bridge_pipelines.erps.base import (
    AdapterBase,
    DimensionType,
    ErpDimension,
    ErpDocumentRef,
    ErpGlAccount,
    ErpOpenBalance,
    ErpPurchaseOrderLine,
    ErpVendor,
    ExternalRef,
    PostableInvoice,
    PostablePayment,
    UpsertResult,
    VendorChange,
)
from bridge_pipelines.erps.external_ref import PREFIX as EXTERNAL_REF_PREFIX
from bridge_pipelines.erps.external_ref import is_external_ref
from bridge_pipelines.erps.http import RequestLimiter
from bridge_pipelines.erps.plugin import ErpSecrets, require
from bridge_pipelines.erps.sap_b1 import payloads
from bridge_pipelines.erps.sap_b1.client import (
    NotFoundError,
    SapB1Client,
    SapB1Settings,
)
from bridge_pipelines.erps.sap_b1.settings import SapB1ErpSettings
from bridge_pipelines.erps.session import Answer, post_with_lookup
from bridge_pipelines.erps.values import (
    checked_code,
    day_or_none,
    decimal_or_zero,
    odata_key,
    text_or_none,
)
from bridge_pipelines.errors import ConfigError, NeedsLookupError
from bridge_pipelines.redaction import redact

log = logging.getLogger(__name__)

DOCUMENT_COLUMNS = ("DocEntry", "DocNum", "CardCode", "NumAtCard", "JournalMemo", "DocumentStatus")
JOURNAL_COLUMNS = ("JdtNum", "Reference")
POSTED_COLUMNS = (*DOCUMENT_COLUMNS, "DocDate", "DocTotal", "VatSum", "DocumentLines")
POSTED_JOURNAL_COLUMNS = ("JdtNum", "Reference", "ReferenceDate", "JournalEntryLines")
PAYMENT_COLUMNS = ("DocEntry", "DocNum", "CardCode", "JournalRemarks", "DocDate", "Cancelled")
POSTED_PAYMENT_COLUMNS = (*PAYMENT_COLUMNS, "TransferSum", "CashSum")
BALANCE_COLUMNS = (
    "DocEntry", "DocNum", "CardCode", "NumAtCard", "JournalMemo", "DocCurrency", "DocTotal",
    "PaidToDate",
)  # fmt: skip
REFS_PER_QUERY = 20  # `or`-ed equalities per $filter: the URL stays short


def _yes(value: object) -> bool:
    return str(value or "").strip() in ("tYES", "Y", "true", "True")


def _posted_document(entity_set: str, row: dict[str, Any]) -> ErpDocumentRef | None:
    """A `PurchaseInvoices` / `PurchaseCreditNotes` row as a document of ours, or None."""
    reference = payloads.reference_of(row, is_external_ref)
    if reference is None:
        return None
    lines = [line for line in row.get("DocumentLines") or [] if isinstance(line, dict)]
    total = decimal_or_zero(row.get("DocTotal"))
    return ErpDocumentRef(
        doc_id=f"{entity_set}({row['DocEntry']})",
        vendor_code=text_or_none(row.get("CardCode")),
        document_number=str(row.get("DocNum") or row["DocEntry"]),
        external_ref=reference,
        status=str(row.get("DocumentStatus") or "posted"),
        total=-abs(total) if entity_set == payloads.CREDIT_NOTES else total,
        debit_total=(
            sum((decimal_or_zero(line.get("LineTotal")) for line in lines), Decimal(0))
            + decimal_or_zero(row.get("VatSum"))
            if lines
            else None
        ),
        credit_total=total,
        document_date=day_or_none(row.get("DocDate")),
    )


def _posted_journal(row: dict[str, Any]) -> ErpDocumentRef | None:
    """A `JournalEntries` row as a document of ours (its sides summed), or None."""
    reference = str(row.get("Reference") or "")
    if not is_external_ref(reference):
        return None
    lines = [line for line in row.get("JournalEntryLines") or [] if isinstance(line, dict)]
    partner = next(
        (
            line.get("ShortName")
            for line in lines
            if line.get("ShortName") and line.get("ShortName") != line.get("AccountCode")
        ),
        None,
    )
    return ErpDocumentRef(
        doc_id=f"JournalEntries({row['JdtNum']})",
        vendor_code=text_or_none(partner),
        document_number=str(row["JdtNum"]),
        external_ref=reference,
        status="posted",
        debit_total=sum((decimal_or_zero(line.get("Debit")) for line in lines), Decimal(0)),
        credit_total=sum((decimal_or_zero(line.get("Credit")) for line in lines), Decimal(0)),
        document_date=day_or_none(row.get("ReferenceDate")),
    )


class SapB1Adapter(AdapterBase):
    """One SAP B1 company, for one batch. Use it as a context manager."""

    lookup_is_read_after_write_consistent: bool = True

    def __init__(
        self,
        settings: SapB1Settings,
        http: httpx.Client | None = None,
        *,
        posting_mode: payloads.PostingMode = "service_invoice",
        tax_account: str | None = None,
        rate_limiter: RequestLimiter | None = None,
        payment_account: str | None = None,
        payment_means: payloads.PaymentMeans = "bank_transfer",
    ) -> None:
        self.settings = settings
        self.posting_mode: payloads.PostingMode = posting_mode
        self.tax_account = tax_account
        self.payment_account = payment_account
        self.payment_means: payloads.PaymentMeans = payment_means
        self.client = SapB1Client(settings, http, rate_limiter)
        self._credit_notes_served = True

    # --- master data ------------------------------------------------------------------------

    def read_vendors(self) -> Iterator[ErpVendor]:
        """Every supplier (`BusinessPartners`, `CardType eq 'cSupplier'`); frozen = inactive."""
        select = ("CardCode", "CardName", "Currency", "FederalTaxID", "EmailAddress", "Frozen")
        rows = self.client.entities(
            "BusinessPartners", select=select, filter=f"CardType eq '{payloads.SUPPLIER}'"
        )
        for row in rows:
            yield ErpVendor(
                code=str(row["CardCode"]).strip(),
                name=str(row.get("CardName") or "").strip(),
                currency=text_or_none(row.get("Currency")),
                active=not _yes(row.get("Frozen")),
                tax_id=text_or_none(row.get("FederalTaxID")),
                email=text_or_none(row.get("EmailAddress")),
            )

    def read_gl_accounts(self) -> Iterator[ErpGlAccount]:
        """Every account (`ChartOfAccounts`); only `ActiveAccount = tYES` takes postings."""
        select = ("Code", "Name", "AccountType", "ActiveAccount")
        for row in self.client.entities("ChartOfAccounts", select=select):
            yield ErpGlAccount(
                code=str(row["Code"]).strip(),
                name=str(row.get("Name") or "").strip(),
                account_type=text_or_none(row.get("AccountType")),
                active=_yes(row.get("ActiveAccount")) if "ActiveAccount" in row else True,
            )

    def read_dimensions(self) -> Iterator[ErpDimension]:
        """Profit centers of dimension 1 as cost centers (`CostingCode`), and projects."""
        select = ("CenterCode", "CenterName", "InWhichDimension", "Active")
        for row in self.client.entities("ProfitCenters", select=select):
            if str(row.get("InWhichDimension") or "1") != "1":
                continue  # CostingCode2..5 are not mapped (yet)
            yield ErpDimension(
                type=DimensionType.COST_CENTER,
                code=str(row["CenterCode"]).strip(),
                name=str(row.get("CenterName") or "").strip(),
                active=_yes(row.get("Active")) if "Active" in row else True,
            )
        for row in self.client.entities("Projects", select=("Code", "Name", "Active")):
            yield ErpDimension(
                type=DimensionType.PROJECT,
                code=str(row["Code"]).strip(),
                name=str(row.get("Name") or "").strip(),
                active=_yes(row.get("Active")) if "Active" in row else True,
            )

    def read_open_pos(self) -> Iterator[ErpPurchaseOrderLine]:
        """Open lines of open purchase orders (`DocumentStatus eq 'bost_Open'`)."""
        select = ("DocEntry", "DocNum", "DocDate", "CardCode", "DocCurrency", "DocumentLines")
        rows = self.client.entities(
            "PurchaseOrders", select=select, filter="DocumentStatus eq 'bost_Open'"
        )
        for row in rows:
            for index, line in enumerate(row.get("DocumentLines") or []):
                if not isinstance(line, dict) or line.get("LineStatus") == "bost_Close":
                    continue
                quantity = decimal_or_zero(line.get("Quantity"))
                open_quantity = line.get("RemainingOpenQuantity")
                received = (
                    quantity - decimal_or_zero(open_quantity) if open_quantity is not None else 0
                )
                yield ErpPurchaseOrderLine(
                    po_number=str(row.get("DocNum") or row["DocEntry"]),
                    line=int(line.get("LineNum", index)),
                    vendor_code=str(row.get("CardCode") or ""),
                    description=str(line.get("ItemDescription") or line.get("ItemCode") or ""),
                    quantity=quantity,
                    unit_price=decimal_or_zero(line.get("Price") or line.get("UnitPrice")),
                    amount=decimal_or_zero(line.get("LineTotal")),
                    currency=str(line.get("Currency") or row.get("DocCurrency") or ""),
                    received_quantity=Decimal(received),
                    ledger_code=text_or_none(line.get("AccountCode")),
                    order_date=day_or_none(row.get("DocDate")),
                )

    def upsert_vendor(self, vendor: VendorChange) -> UpsertResult:
        """PATCH `BusinessPartners('<code>')` when it exists, else POST a new `cSupplier`.

        The GET by key decides, so calling again after an uncertain answer is safe.

        Raises:
            BadInputError: no CardCode (the mapping assigns it) or a value SAP cannot hold.
            RejectedByErpError: SAP refused it; its located message is kept.
            NeedsLookupError: the answer was lost; calling again is safe.
        """
        body = payloads.business_partner(vendor, create=True)  # validates the code first
        assert vendor.code
        key = odata_key("BusinessPartners", vendor.code, "supplier code")
        try:
            self.client.get_json(key, "BusinessPartners get", {"$select": "CardCode,CardType"})
            exists = True
        except NotFoundError:
            exists = False
        if exists:
            patch = payloads.business_partner(vendor, create=False)
            answer = self.client.request(
                "PATCH", key, kind="write", what="BusinessPartners update", body=patch
            )
        else:
            answer = self.client.request(
                "POST", "BusinessPartners", kind="write", what="BusinessPartners add", body=body
            )
        return UpsertResult(code=vendor.code, created=not exists, response=redact(answer.text))

    # --- postings ---------------------------------------------------------------------------

    def _documents(self, entity_set: str, ref: ExternalRef) -> list[ErpDocumentRef]:
        checked_code(ref.vendor_code, "supplier code")
        checked_code(ref.value, "reference")
        rows = list(
            self.client.entities(
                entity_set,
                select=DOCUMENT_COLUMNS,
                filter=payloads.document_filter(ref.vendor_code, ref.value),
            )
        )
        return [
            ErpDocumentRef(
                doc_id=f"{entity_set}({row['DocEntry']})",
                vendor_code=str(row.get("CardCode") or ref.vendor_code),
                document_number=str(row.get("DocNum") or row["DocEntry"]),
                external_ref=ref.value,
                status=str(row.get("DocumentStatus") or "posted"),
            )
            for row in rows
            # SAP compares case-insensitively; ours is in JournalMemo, or NumAtCard before #16
            if ref.value in (row.get("JournalMemo"), row.get("NumAtCard"))
        ]

    def find_by_external_ref(self, ref: ExternalRef) -> list[ErpDocumentRef]:
        """Every document of ours with `ref` (in the tenant's posting mode's object).

        Service mode searches invoices and credit notes (the reference says which, but not
        in a way we parse); a server without `PurchaseCreditNotes` counts as holding none.
        """
        if self.posting_mode == "journal_entry":
            checked_code(ref.value, "reference")
            rows = self.client.entities(
                payloads.JOURNAL_ENTRIES,
                select=JOURNAL_COLUMNS,
                filter=payloads.journal_filter(ref.value),
            )
            return [
                ErpDocumentRef(
                    doc_id=f"JournalEntries({row['JdtNum']})",
                    vendor_code=ref.vendor_code,
                    document_number=str(row["JdtNum"]),
                    external_ref=ref.value,
                    status="posted",
                )
                for row in rows
                if str(row.get("Reference")) == ref.value
            ]
        found = self._documents(payloads.INVOICES, ref)
        if self._credit_notes_served:
            try:
                found += self._documents(payloads.CREDIT_NOTES, ref)
            except (ConfigError, NotFoundError) as exc:
                self._credit_notes_served = False  # asked once per batch, not per lookup
                log.info("SAP B1: the server has no PurchaseCreditNotes (%s)", exc)
        return found

    def read_posted_documents(self, since: date | None = None) -> Iterator[ErpDocumentRef]:
        """Every document of ours, whatever the posting mode, for `bridge verify`.

        A/P invoices and credit notes by `startswith(JournalMemo,'BP')` or, posted before
        issue 16, `startswith(NumAtCard,'BP')` (not cancelled), and
        journal entries by `startswith(Reference,'BP')`, each paged through nextLinks. A
        document's journal is the one B1 derives: lines (+ VAT) debited, `DocTotal` credited;
        a credit note's `total` is negative, as the source's is. A server without
        `PurchaseCreditNotes` holds none.
        """
        for entity_set in (payloads.INVOICES, payloads.CREDIT_NOTES):
            where = payloads.posted_filter(EXTERNAL_REF_PREFIX)
            if since is not None:
                where += f" and DocDate ge '{since.isoformat()}'"
            rows = self.client.entities(entity_set, select=POSTED_COLUMNS, filter=where)
            try:
                for row in rows:
                    if doc := _posted_document(entity_set, row):
                        yield doc
            except (ConfigError, NotFoundError) as exc:
                if entity_set != payloads.CREDIT_NOTES:
                    raise
                log.info("SAP B1: the server has no PurchaseCreditNotes (%s)", exc)
        where = f"startswith(Reference,'{EXTERNAL_REF_PREFIX}')"
        if since is not None:
            where += f" and ReferenceDate ge '{since.isoformat()}'"
        for row in self.client.entities(
            payloads.JOURNAL_ENTRIES, select=POSTED_JOURNAL_COLUMNS, filter=where
        ):
            if doc := _posted_journal(row):
                yield doc

    def _created(self, entity_set: str, invoice: PostableInvoice, answer: Answer) -> ErpDocumentRef:
        try:
            body = self.client.json(answer, entity_set, "write")
        except NeedsLookupError:
            body = None
        if not isinstance(body, dict):
            # 201 means committed; an unreadable body only costs us the key: find it.
            found = self.find_by_external_ref(invoice.ref)
            if len(found) == 1:
                return found[0]
            raise NeedsLookupError(
                f"SAP B1 {entity_set}: created, but the answer is unreadable and the lookup "
                f"found {len(found)} documents"
            )
        if entity_set == payloads.JOURNAL_ENTRIES:
            key = number = body.get("JdtNum")
        else:
            key = body.get("DocEntry")
            number = body.get("DocNum") or key
        if key is None:
            location = answer.headers.get("location", "")
            key = location.rsplit("(", 1)[-1].rstrip(")") if "(" in location else "?"
        return ErpDocumentRef(
            doc_id=f"{entity_set}({key})",
            vendor_code=invoice.vendor_code,
            document_number=str(number),
            external_ref=invoice.external_ref,
            status="posted",
            response=redact(answer.text),
        )

    def post_invoice(self, invoice: PostableInvoice) -> ErpDocumentRef:
        """POST the document once; see the protocol for the error classes.

        An expired session (401/301: SAP processed nothing) is renewed, the reference looked
        up, and the document sent again only when the lookup finds none.
        """
        entity_set = payloads.entity_set_for(invoice, self.posting_mode)
        if self.posting_mode == "journal_entry":
            body = payloads.journal_entry(invoice, self.tax_account)
        else:
            body = payloads.service_document(invoice, self.tax_account)

        def send() -> ErpDocumentRef:
            answer = self.client.request(
                "POST", entity_set, kind="write", what=entity_set, body=body, session_retry=False
            )
            return self._created(entity_set, invoice, answer)

        return post_with_lookup(self.client, send, self.find_by_external_ref, invoice, entity_set)

    # --- payments (issue 15) -----------------------------------------------------------------

    def _payment(self, row: dict[str, Any]) -> ErpDocumentRef:
        total = decimal_or_zero(row.get("TransferSum")) + decimal_or_zero(row.get("CashSum"))
        return ErpDocumentRef(
            doc_id=f"{payloads.VENDOR_PAYMENTS}({row['DocEntry']})",
            vendor_code=text_or_none(row.get("CardCode")),
            document_number=str(row.get("DocNum") or row["DocEntry"]),
            external_ref=text_or_none(row.get("JournalRemarks")),
            status="posted",
            total=total if "TransferSum" in row or "CashSum" in row else None,
            document_date=day_or_none(row.get("DocDate")),
        )

    def find_payment(self, ref: ExternalRef) -> list[ErpDocumentRef]:
        """Outgoing payments of the supplier carrying our reference in `JournalRemarks`."""
        checked_code(ref.vendor_code, "supplier code")
        checked_code(ref.value, "reference")
        rows = self.client.entities(
            payloads.VENDOR_PAYMENTS,
            select=PAYMENT_COLUMNS,
            filter=payloads.payment_filter(ref.vendor_code, ref.value),
        )
        # SAP compares case-insensitively; ours is exact.
        return [self._payment(row) for row in rows if row.get("JournalRemarks") == ref.value]

    def post_payment(self, payment: PostablePayment) -> ErpDocumentRef:
        """POST `VendorPayments` once; an expired session is renewed and looked up first.

        Raises:
            ConfigError: the tenant names no `erp.sap_b1_payment_account`.
            BadInputError: an application is not an A/P invoice or credit note of ours.
            RejectedByErpError: SAP refused it (an amount over what is open, a closed period).
        """
        if not self.payment_account:
            raise ConfigError(
                "SAP B1: erp.sap_b1_payment_account (the bank or cash account payments are "
                "made from) must be set to record payments"
            )
        body = payloads.vendor_payment(payment, self.payment_account, self.payment_means)
        entity_set = payloads.VENDOR_PAYMENTS

        def send() -> ErpDocumentRef:
            answer = self.client.request(
                "POST", entity_set, kind="write", what=entity_set, body=body, session_retry=False
            )
            try:
                created = self.client.json(answer, entity_set, "write")
            except NeedsLookupError:
                created = None
            if not isinstance(created, dict) or "DocEntry" not in created:
                found = self.find_payment(payment.ref)
                if len(found) == 1:
                    return found[0]
                raise NeedsLookupError(
                    f"SAP B1 {entity_set}: created, but the answer is unreadable and the lookup "
                    f"found {len(found)} payments"
                )
            return ErpDocumentRef(
                doc_id=f"{entity_set}({created['DocEntry']})",
                vendor_code=payment.vendor_code,
                document_number=str(created.get("DocNum") or created["DocEntry"]),
                external_ref=payment.external_ref,
                status="posted",
                response=redact(answer.text),
            )

        return post_with_lookup(self.client, send, self.find_payment, payment, entity_set)

    def read_posted_payments(self, since: date | None = None) -> Iterator[ErpDocumentRef]:
        """Every outgoing payment carrying one of our references (not cancelled)."""
        where = f"startswith(JournalRemarks,'{EXTERNAL_REF_PREFIX}') and Cancelled eq 'tNO'"
        if since is not None:
            where += f" and DocDate ge '{since.isoformat()}'"
        rows = self.client.entities(
            payloads.VENDOR_PAYMENTS, select=POSTED_PAYMENT_COLUMNS, filter=where
        )
        for row in rows:
            if is_external_ref(str(row.get("JournalRemarks") or "")):
                yield self._payment(row)

    def read_open_balances(self, refs: Sequence[ExternalRef]) -> Iterator[ErpOpenBalance]:
        """`DocTotal - PaidToDate` of each A/P invoice and credit note among `refs`.

        Searched by our reference alone (`JournalMemo`, or `NumAtCard` before issue 16),
        `REFS_PER_QUERY` at a time; a reference SAP does not hold is absent from the answer.
        """
        values = sorted({checked_code(ref.value, "reference") for ref in refs})
        for entity_set in (payloads.INVOICES, payloads.CREDIT_NOTES):
            for start in range(0, len(values), REFS_PER_QUERY):
                chunk = values[start : start + REFS_PER_QUERY]
                either = " or ".join(
                    f"JournalMemo eq {payloads.literal(v)} or NumAtCard eq {payloads.literal(v)}"
                    for v in chunk
                )
                rows = self.client.entities(
                    entity_set, select=BALANCE_COLUMNS, filter=f"({either}) and Cancelled eq 'tNO'"
                )
                wanted = set(chunk)
                for row in rows:
                    reference = payloads.reference_of(row, wanted.__contains__)
                    if reference is None:
                        continue
                    total = decimal_or_zero(row.get("DocTotal"))
                    yield ErpOpenBalance(
                        doc_id=f"{entity_set}({row['DocEntry']})",
                        external_ref=reference,
                        vendor_code=text_or_none(row.get("CardCode")),
                        document_number=text_or_none(row.get("NumAtCard")),
                        currency=str(row.get("DocCurrency") or ""),
                        total=total,
                        open_amount=total - decimal_or_zero(row.get("PaidToDate")),
                    )

    def close(self) -> None:
        """Log out (the session holds a licence seat) and close the connections."""
        self.client.close()


def build_adapter(
    settings: SapB1ErpSettings,
    secrets: ErpSecrets,
    *,
    owner: str = "tenant",
    http: httpx.Client | None = None,
    rate_limiter: RequestLimiter | None = None,
    **overrides: Any,
) -> SapB1Adapter:
    """The registry's factory: an SAP B1 adapter from a tenant's `erp:` block and its secrets.

    `overrides` are `SapB1Settings` fields (timeouts, `ca_bundle`, `page_size`, ...) plus
    `posting_mode` and `tax_account`.

    Raises:
        ConfigError: the ERP block lacks the URL, user, password or company, or
            `erp.ca_bundle` is not a readable PEM file here.
    """
    require(settings, owner, "base_url", "username", "password", "company")
    assert settings.base_url and settings.username and settings.company
    posting_mode = overrides.pop("posting_mode", settings.sap_b1_posting_mode)
    tax_account = overrides.pop("tax_account", settings.sap_b1_tax_account)
    payment_account = overrides.pop("payment_account", settings.sap_b1_payment_account)
    payment_means = overrides.pop("payment_means", settings.sap_b1_payment_means)
    client_settings = SapB1Settings(
        base_url=settings.base_url,
        company=settings.company,
        username=settings.username,
        password=secrets["password"],
        **settings.client_options(owner, overrides),
    )
    return SapB1Adapter(
        client_settings,
        http,
        posting_mode=posting_mode,
        tax_account=tax_account,
        rate_limiter=rate_limiter,
        payment_account=payment_account,
        payment_means=payment_means,
    )
