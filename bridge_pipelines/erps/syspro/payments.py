"""The SYSPRO adapter's payment calls: APSTPM to record a payment, `ApInvoicePay` to find it.

- `post_payment` records Stampli's payment as a manual check (APSTPM `PostApManualPay`) in the
  payment run configured for its currency, applied to the posted invoices it settles; our
  reference goes into `PaymentReference`. It fails as `post_invoice` does: SYSPRO's
  `ErrorDescription` (an over-payment, a paid invoice, a closed period) is a
  `RejectedByErpError`, an answer that may mean it landed is `NeedsLookupError`, an expired
  session is renewed and the reference looked up before anything is sent again.
- `find_payment` reads `ApInvoicePay` with COMFND by `PaymentReference`: the table APSTPM
  writes in its own transaction, so a committed check is found by the next lookup.
- `read_open_balances` / `read_posted_payments` read OData (`ApInvoice.MthInvBal1`,
  `ApInvoicePay`), no e.net session taken; COMFND when the service lacks the entity set.
"""

import logging
from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from typing import Any

from bridge_pipelines.erps.base import ErpDocumentRef, ErpOpenBalance, ExternalRef, PostablePayment
from bridge_pipelines.erps.external_ref import PREFIX as EXTERNAL_REF_PREFIX
from bridge_pipelines.erps.external_ref import is_external_ref
from bridge_pipelines.erps.session import post_with_lookup
from bridge_pipelines.erps.syspro import errors, payloads
from bridge_pipelines.erps.syspro import payment_payloads as pay
from bridge_pipelines.erps.syspro.client import SysproClient
from bridge_pipelines.erps.syspro.odata import ODataReader
from bridge_pipelines.erps.values import checked_code, day_or_none, decimal_or_none, odata_literal
from bridge_pipelines.errors import ConfigError, NeedsLookupError, RetryableError

log = logging.getLogger(__name__)

APSTPM = "APSTPM"
COMFND = "COMFND"
BALANCE_COLUMNS = ("Supplier", "Invoice", "Reference", "Currency", "OrigInvValue", "MthInvBal1")
REFS_PER_FILTER = 15  # keeps an OData `$filter` URL short
PAY_PAGE_ROWS = 10_000


class SysproPayments:
    """Payment calls of `SysproAdapter` (mixed in; the adapter provides client and OData)."""

    client: SysproClient
    _odata: ODataReader
    payment_runs: Mapping[str, str]

    def post_payment(self, payment: PostablePayment) -> ErpDocumentRef:
        """Record the payment once with APSTPM; see the protocol for the error classes.

        Raises:
            BadInputError: no payment run for its currency, or a check number, supplier code
                or invoice number SYSPRO cannot hold; nothing is sent.
        """
        checked_code(payment.vendor_code, "supplier code")
        run = pay.payment_run_for(payment.currency, self.payment_runs)
        cheque = checked_code(pay.cheque_number(payment), "check number")
        parameters = pay.manual_payment_parameters(payment.posting_period)
        xml_in = pay.manual_payment(payment, run, cheque)

        def send() -> ErpDocumentRef:
            root, text = self.client.transaction(APSTPM, parameters, xml_in, session_retry=False)
            return self._recorded(payment, run, cheque, root, text)

        return post_with_lookup(self.client, send, self.find_payment, payment, APSTPM)

    def _recorded(
        self, payment: PostablePayment, run: str, cheque: str, root: Any, text: str
    ) -> ErpDocumentRef:
        try:
            result = pay.manual_payment_result(root)
        except payloads.MalformedResponseError as exc:
            raise NeedsLookupError(
                f"SYSPRO APSTPM: unexpected answer ({exc}); it may have been applied"
            ) from None
        if result.errors or result.invalid or result.processed < 1:
            raise errors.rejected(APSTPM, result.errors or ["no item was processed"], text)
        run = result.payment_run or run
        return ErpDocumentRef(
            doc_id=pay.payment_doc_id(run, payment.vendor_code, cheque),
            vendor_code=payment.vendor_code,
            document_number=cheque,
            external_ref=payment.external_ref,
            status=f"applied to {result.invoices_released} invoice(s) in payment run {run}",
            complete=True,
            response=text,
            total=result.net_released,
            document_date=payment.payment_date,
        )

    def find_payment(self, ref: ExternalRef) -> list[ErpDocumentRef]:
        """Every check whose `ApInvoicePay` rows carry `ref` in `PaymentReference` (COMFND).

        Raises:
            NeedsLookupError: the answer could not be read; the caller must not assume "none".
        """
        written = payloads.reference_for(ref.value)
        xml_in = payloads.query(
            "ApInvoicePay",
            pay.PAY_COLUMNS,
            where=(payloads.Condition("PaymentReference", written),),
            order_by=("PaymentNumber", "Supplier", "Cheque"),
            return_rows=1000,
        )
        root, text = self.client.query(COMFND, xml_in)
        try:
            rows = payloads.query_rows(root, "ApInvoicePay", pay.PAY_COLUMNS)
        except payloads.MalformedResponseError as exc:
            raise NeedsLookupError(f"SYSPRO COMFND payment lookup: {exc}") from None
        return [
            _payment_document(check, ref.value, text)
            for check in pay.group_checks(rows)
            if check.reference == written
        ]

    def read_open_balances(self, refs: Sequence[ExternalRef]) -> Iterator[ErpOpenBalance]:
        """`ApInvoice` balances (`MthInvBal1`) of our posted invoices, by supplier and number.

        A document counts only when its `Reference` is ours, so a reference without its
        supplier code (reconciliation knows Stampli's vendor, not always the ERP's) is looked
        up by invoice number and matched on `Reference`. Amounts are positive (a credit note's
        negative values are turned), `open_amount` 0 is paid (or fully taken).
        """
        wanted = {payloads.reference_for(r.value): r for r in refs}
        try:
            rows = list(self._balance_rows_odata(list(wanted.values())))
        except ConfigError as exc:
            log.info("SYSPRO OData has no ApInvoice (%s); reading balances with COMFND", exc)
            rows = list(self._balance_rows_comfnd(list(wanted.values())))
        for row in rows:
            key = (str(row["Supplier"]).strip(), str(row["Invoice"]).strip())
            ref = wanted.get(str(row.get("Reference") or "").strip())
            if ref is None or ref.document_number.strip() != key[1]:
                continue
            if ref.vendor_code and ref.vendor_code.strip() != key[0]:
                continue
            total = decimal_or_none(row.get("OrigInvValue"))
            open_amount = decimal_or_none(row.get("MthInvBal1"))
            if total is None or open_amount is None:
                raise RetryableError(f"SYSPRO ApInvoice {key[0]}/{key[1]}: unreadable balance")
            yield ErpOpenBalance(
                doc_id=f"{key[0]}/{key[1]}",
                external_ref=ref.value,
                vendor_code=key[0],
                document_number=key[1],
                currency=str(row.get("Currency") or "").strip(),
                total=abs(total),
                open_amount=abs(open_amount),
            )

    def _balance_rows_odata(self, refs: Sequence[ExternalRef]) -> Iterator[Mapping[str, Any]]:
        for start in range(0, len(refs), REFS_PER_FILTER):
            where = " or ".join(_balance_filter(r) for r in refs[start : start + REFS_PER_FILTER])
            yield from self._odata.entities("ApInvoice", select=BALANCE_COLUMNS, filter=where)

    def _balance_rows_comfnd(self, refs: Sequence[ExternalRef]) -> Iterator[Mapping[str, Any]]:
        for ref in refs:
            where: tuple[payloads.Condition, ...] = (
                payloads.Condition("Invoice", ref.document_number),
            )
            if ref.vendor_code:
                where = (payloads.Condition("Supplier", ref.vendor_code), *where)
            xml_in = payloads.query(
                "ApInvoice",
                BALANCE_COLUMNS,
                where=where,
                order_by=("Invoice",),
            )
            root, _ = self.client.query(COMFND, xml_in)
            try:
                yield from payloads.query_rows(root, "ApInvoice", BALANCE_COLUMNS)
            except payloads.MalformedResponseError as exc:
                raise RetryableError(f"SYSPRO COMFND balance: {exc}") from None

    def read_posted_payments(self, since: date | None = None) -> Iterator[ErpDocumentRef]:
        """Every check whose `PaymentReference` has our shape, for payment reconciliation.

        OData `ApInvoicePay` with `startswith(PaymentReference,'BP')` [I: the entity set];
        without it, one COMFND query (`LIKE 'BP%'`, at most 10,000 invoice rows [I]).
        `total` is the net paid; `document_date` the check date.
        """
        rows: Sequence[Mapping[str, Any]]
        try:
            rows = list(self._pay_rows_odata(since))
        except ConfigError as exc:
            log.info("SYSPRO OData has no ApInvoicePay (%s); listing with COMFND", exc)
            rows = self._pay_rows_comfnd(since)
        for check in pay.group_checks(rows):
            if is_external_ref(check.reference):
                yield _payment_document(check, check.reference, None)

    def _pay_rows_odata(self, since: date | None) -> Iterator[Mapping[str, Any]]:
        where = f"startswith(PaymentReference,{odata_literal(EXTERNAL_REF_PREFIX, 'prefix')})"
        if since is not None:
            where += f" and ChequeDate ge {odata_literal(since.isoformat(), 'day')}"
        yield from self._odata.entities("ApInvoicePay", select=pay.PAY_COLUMNS, filter=where)

    def _pay_rows_comfnd(self, since: date | None) -> list[dict[str, str]]:
        where = [payloads.Condition("PaymentReference", f"{EXTERNAL_REF_PREFIX}%", "LIKE")]
        if since is not None:
            where.append(payloads.Condition("ChequeDate", since.isoformat(), "GE"))
        xml_in = payloads.query(
            "ApInvoicePay",
            pay.PAY_COLUMNS,
            where=where,
            order_by=("PaymentNumber", "Supplier", "Cheque"),
            return_rows=PAY_PAGE_ROWS,
        )
        root, _ = self.client.query(COMFND, xml_in)
        try:
            return payloads.query_rows(root, "ApInvoicePay", pay.PAY_COLUMNS)
        except payloads.MalformedResponseError as exc:
            raise RetryableError(f"SYSPRO COMFND payment listing: {exc}") from None


def _payment_document(check: pay.PaymentRows, ref: str, response: str | None) -> ErpDocumentRef:
    return ErpDocumentRef(
        doc_id=check.doc_id,
        vendor_code=check.supplier,
        document_number=check.cheque,
        external_ref=ref,
        status=f"applied in payment run {check.payment_run}",
        complete=True,
        response=response,
        total=check.net_paid,
        document_date=day_or_none(check.cheque_date),
    )


def _balance_filter(ref: ExternalRef) -> str:
    """One `ApInvoice` of `ref`: by supplier and number, or by number alone without a supplier."""
    number = f"Invoice eq {odata_literal(ref.document_number, 'invoice number')}"
    if not ref.vendor_code:
        return f"({number})"
    return f"(Supplier eq {odata_literal(ref.vendor_code, 'supplier code')} and {number})"
