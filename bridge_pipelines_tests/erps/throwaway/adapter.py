"""`ThrowawayAdapter`: the ERP adapter protocol over Throwaway Books, and the registry's factory.

Bills and credit notes carry our reference in `reference`, which `GET bills?reference=`
searches. The sandbox commits before it answers and the lookup reads the same table, so the
lookup is read-after-write consistent. A post is never re-sent blindly: an ended session is
renewed and the reference looked up first (`post_with_lookup`).
"""

from collections.abc import Iterator, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import httpx

from bridge_pipelines.erps.base import (
    AdapterBase,
    DimensionType,
    DocumentType,
    ErpDimension,
    ErpDocumentRef,
    ErpGlAccount,
    ErpOpenBalance,
    ErpVendor,
    ExternalRef,
    PostableInvoice,
    PostablePayment,
    UpsertResult,
    VendorChange,
)
from bridge_pipelines.erps.external_ref import PREFIX, is_external_ref
from bridge_pipelines.erps.http import RequestLimiter
from bridge_pipelines.erps.plugin import ErpSecrets, require
from bridge_pipelines.erps.session import post_with_lookup
from bridge_pipelines.erps.values import path_segment
from bridge_pipelines.errors import BadInputError, NeedsLookupError
from bridge_pipelines.redaction import redact
from bridge_pipelines_tests.erps.throwaway.client import (
    NotFoundError,
    ThrowawayClient,
    ThrowawaySettings,
)
from bridge_pipelines_tests.erps.throwaway.settings import ThrowawayErpSettings


def _document(row: dict[str, Any]) -> ErpDocumentRef:
    total = Decimal(str(row["total"]))
    return ErpDocumentRef(
        doc_id=f"bills/{row['id']}",
        vendor_code=str(row["vendor"]),
        document_number=str(row["number"]),
        external_ref=str(row["reference"]),
        status="posted",
        total=-total if row["kind"] == "credit" else total,
        document_date=date.fromisoformat(str(row["bill_date"])),
    )


def _payment(row: dict[str, Any]) -> ErpDocumentRef:
    return ErpDocumentRef(
        doc_id=f"payments/{row['id']}",
        vendor_code=str(row["vendor"]),
        document_number=f"P{int(row['id']):06d}",
        external_ref=str(row["reference"]),
        status="posted",
        total=Decimal(str(row["total"])),
        document_date=date.fromisoformat(str(row["payment_date"])),
    )


class ThrowawayAdapter(AdapterBase):
    """One Throwaway Books company, for one batch. Use it as a context manager."""

    lookup_is_read_after_write_consistent: bool = True

    def __init__(
        self,
        settings: ThrowawaySettings,
        http: httpx.Client | None = None,
        *,
        book: str,
        rate_limiter: RequestLimiter | None = None,
    ) -> None:
        self.client = ThrowawayClient(settings, http, rate_limiter)
        self.book = book

    def read_vendors(self) -> Iterator[ErpVendor]:
        for row in self.client.pages("vendors", "vendors"):
            yield ErpVendor(code=str(row["code"]), name=str(row["name"]))

    def read_gl_accounts(self) -> Iterator[ErpGlAccount]:
        for row in self.client.pages("accounts", "accounts"):
            yield ErpGlAccount(code=str(row["code"]), name=str(row["name"]))

    def read_dimensions(self) -> Iterator[ErpDimension]:
        for row in self.client.pages("cost_centers", "cost centers"):
            yield ErpDimension(DimensionType.COST_CENTER, str(row["code"]), str(row["name"]))

    def upsert_vendor(self, vendor: VendorChange) -> UpsertResult:
        """PUT `vendors/<code>` when it exists (a GET decides), else POST `vendors`."""
        if not vendor.code:
            raise BadInputError(f"vendor {vendor.name!r}: Throwaway needs a vendor code")
        key = f"vendors/{path_segment(vendor.code, 'vendor code')}"
        try:
            self.client.get_json(key, "vendor")
            exists = True
        except NotFoundError:
            exists = False
        body = {"code": vendor.code, "name": vendor.name}
        if exists:
            answer = self.client.request("PUT", key, kind="write", what="vendor", body=body)
        else:
            answer = self.client.request("POST", "vendors", kind="write", what="vendor", body=body)
        return UpsertResult(code=vendor.code, created=not exists, response=redact(answer.text))

    def find_by_external_ref(self, ref: ExternalRef) -> list[ErpDocumentRef]:
        rows = self.client.pages("bills", "bill lookup", {"reference": ref.value})
        return [_document(row) for row in rows]

    def post_invoice(self, invoice: PostableInvoice) -> ErpDocumentRef:
        credit = invoice.document_type is DocumentType.CREDIT_MEMO
        body = {
            "book": self.book,
            "kind": "credit" if credit else "bill",
            "vendor": invoice.vendor_code,
            "number": invoice.invoice_number,
            "reference": invoice.external_ref,
            "date": invoice.invoice_date.isoformat(),
            "posting_date": invoice.posting_date.isoformat(),
            "currency": invoice.currency,
            "tax": str(invoice.tax),
            "total": str(invoice.total),
            "lines": [
                {
                    "account": line.ledger_code,
                    "amount": str(line.amount),
                    "cost_center": line.dimensions.get(DimensionType.COST_CENTER),
                    "description": line.description,
                }
                for line in invoice.lines
            ],
        }

        def send() -> ErpDocumentRef:
            answer = self.client.request(
                "POST", "bills", kind="write", what="bills", body=body, session_retry=False
            )
            created = self.client.json(answer, "bills", "write")
            if not isinstance(created, dict) or "id" not in created:
                raise NeedsLookupError("Throwaway bills: the answer names no bill")
            return ErpDocumentRef(
                doc_id=f"bills/{created['id']}",
                vendor_code=invoice.vendor_code,
                document_number=str(created.get("number") or created["id"]),
                external_ref=invoice.external_ref,
                status="posted",
                response=redact(answer.text),
            )

        return post_with_lookup(self.client, send, self.find_by_external_ref, invoice, "bills")

    def read_posted_documents(self, since: date | None = None) -> Iterator[ErpDocumentRef]:
        for row in self.client.pages("bills", "bills", {"reference_prefix": PREFIX}):
            document = _document(row)
            if not is_external_ref(document.external_ref or ""):
                continue
            if since is None or (document.document_date and document.document_date >= since):
                yield document

    # --- payments (issue 15) -----------------------------------------------------------------

    def post_payment(self, payment: PostablePayment) -> ErpDocumentRef:
        """POST `payments` once, applied to the bills the ledger says were posted."""
        applications = []
        for application in payment.applications:
            bill = (application.erp_doc_id or "").removeprefix("bills/")
            if not bill.isdigit():
                raise BadInputError(f"{application.invoice.value}: no Throwaway bill id")
            applications.append({"bill": int(bill), "amount": str(application.amount)})
        body = {
            "book": self.book,
            "vendor": payment.vendor_code,
            "reference": payment.external_ref,
            "date": payment.payment_date.isoformat(),
            "currency": payment.currency,
            "method": payment.method,
            "applications": applications,
        }

        def send() -> ErpDocumentRef:
            answer = self.client.request(
                "POST", "payments", kind="write", what="payments", body=body, session_retry=False
            )
            created = self.client.json(answer, "payments", "write")
            if not isinstance(created, dict) or "id" not in created:
                raise NeedsLookupError("Throwaway payments: the answer names no payment")
            return ErpDocumentRef(
                doc_id=f"payments/{created['id']}",
                vendor_code=payment.vendor_code,
                document_number=str(created.get("number") or created["id"]),
                external_ref=payment.external_ref,
                status="posted",
                response=redact(answer.text),
            )

        return post_with_lookup(self.client, send, self.find_payment, payment, "payments")

    def find_payment(self, ref: ExternalRef) -> list[ErpDocumentRef]:
        rows = self.client.pages("payments", "payment lookup", {"reference": ref.value})
        return [_payment(row) for row in rows]

    def read_posted_payments(self, since: date | None = None) -> Iterator[ErpDocumentRef]:
        for row in self.client.pages("payments", "payments", {"reference_prefix": PREFIX}):
            payment = _payment(row)
            if not is_external_ref(payment.external_ref or ""):
                continue
            if since is None or (payment.document_date and payment.document_date >= since):
                yield payment

    def read_open_balances(self, refs: Sequence[ExternalRef]) -> Iterator[ErpOpenBalance]:
        """Each bill's total less what payments applied, found by our reference."""
        wanted = {ref.value for ref in refs}
        if not wanted:
            return
        for row in self.client.pages("bills", "bills", {"reference_prefix": PREFIX}):
            if row["reference"] not in wanted:
                continue
            total = Decimal(str(row["total"]))
            yield ErpOpenBalance(
                doc_id=f"bills/{row['id']}",
                external_ref=str(row["reference"]),
                vendor_code=str(row["vendor"]),
                document_number=str(row["number"]),
                currency="USD",
                total=total,
                open_amount=total - Decimal(str(row.get("paid") or "0")),
            )

    def close(self) -> None:
        """Log out and close the connections."""
        self.client.close()


def build_adapter(
    settings: ThrowawayErpSettings,
    secrets: ErpSecrets,
    *,
    owner: str = "tenant",
    http: httpx.Client | None = None,
    rate_limiter: RequestLimiter | None = None,
    **overrides: Any,
) -> ThrowawayAdapter:
    """The registry's factory; `overrides` are `ThrowawaySettings` fields (timeouts, page size).

    Raises:
        ConfigError: the ERP block lacks the URL, user or password.
    """
    require(settings, owner, "base_url", "username", "password")
    assert settings.base_url and settings.username
    client_settings = ThrowawaySettings(
        base_url=settings.base_url,
        username=settings.username,
        password=secrets["password"],
        **settings.client_options(owner, overrides),
    )
    return ThrowawayAdapter(
        client_settings, http, book=settings.throwaway_book, rate_limiter=rate_limiter
    )
