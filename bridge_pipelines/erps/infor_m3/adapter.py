"""`InforM3Adapter`: the ERP adapter protocol over the ION API Gateway and M3's MI programs.

- One OAuth2 grant per adapter (= per batch): taken at the first call, refreshed before it
  expires, revoked by `close()`.
- A supplier invoice is an APS450MI batch [C]: `LstInvBySupInv` first (the supplier's invoice
  number, `SINO` per `SUNO`: a batch of ours already there is completed, never doubled), then
  `AddHead`, one bulk request with every `AddLine` and `ApproveInvoice`, then
  `APS455MI/ValidByBatchNo`, which turns the batch into the supplier invoice (approve before
  validate, as Infor's APS450MI workflow documents it [C]). Four requests an invoice.
- A batch left half-built (a line refused after the head went in, an answer lost) is found by
  the next attempt through `LstInvBySupInv` + `GetHead` (our reference in `CORI`) and
  completed: `LstLines` says which lines are in, only the others are added. Lines that differ
  from the invoice's are refused for review, never a second batch.
- Lookup (`find_by_external_ref`) returns validated invoices only: an unvalidated batch is
  not a supplier invoice yet, and the next `post_invoice` completes it. M3 writes before it
  answers, so `lookup_is_read_after_write_consistent` is True.
- Payments: APS130MI, the supplier payment interface [C]: a proposal for the payee and the
  invoices' dates (`CreateProposal`, our reference in its report text `LITX`), checked to hold
  exactly the invoices paid (`LstInvByPayDoc`, else deleted), then confirmed as a manual check
  (`CreateConfChk`, the reference also in the voucher text `VTXT`). M3 proposals pay an
  invoice's open amount and no MI transaction changes it: a partial payment is refused for
  review (`pays_partial_amounts` False; the README says where to record one by hand).
- Balances: `APS200MI/GetInvTotInfo` (`PCUA` paid, `OCUA` open) [C].
"""

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
from pydantic import SecretStr

from bridge_pipelines.erps.base import (
    AdapterBase,
    DimensionType,
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
from bridge_pipelines.erps.external_ref import is_external_ref
from bridge_pipelines.erps.http import RequestLimiter
from bridge_pipelines.erps.infor_m3 import payloads
from bridge_pipelines.erps.infor_m3.client import InforM3Client, InforM3Settings, IonApiFile, Record
from bridge_pipelines.erps.infor_m3.errors import M3RejectedError, rejected
from bridge_pipelines.erps.infor_m3.settings import InforM3ErpSettings
from bridge_pipelines.erps.plugin import ErpSecrets, require
from bridge_pipelines.erps.settings import is_loopback
from bridge_pipelines.erps.values import decimal_or_zero, fit_text, text_or_none
from bridge_pipelines.errors import BadInputError, ConfigError, NeedsLookupError

log = logging.getLogger(__name__)

REPORT_LAYOUT = "AP30"  # [I] the check layout (FAM function AP30 is "check" [C Infor doc])
CONFIRMED = "90"


@dataclass(frozen=True)
class Batch:
    """One APS450MI batch head as `GetHead` answers it."""

    inbn: str
    head: Record

    @property
    def validated(self) -> bool:
        return self.head.get("SUPA") == payloads.VALIDATED

    @property
    def approved(self) -> bool:
        return self.head.get("APRV") == "1" or self.head.get("SUPA") == "20"


def _m3_day(text: str | None) -> date | None:
    value = (text or "").strip()
    if len(value) != 8 or not value.isdigit():
        return None
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        return None


class InforM3Adapter(AdapterBase):
    """One M3 company and division, for one batch. Use it as a context manager."""

    lookup_is_read_after_write_consistent: bool = True
    # A proposal pays an invoice's open amount; APS130MI cannot change it (see the README).
    pays_partial_amounts: bool = False

    def __init__(
        self,
        settings: InforM3Settings,
        http: httpx.Client | None = None,
        *,
        rate_limiter: RequestLimiter | None = None,
    ) -> None:
        self.settings = settings
        self.client = InforM3Client(settings, http, rate_limiter)

    def _doc_id(self, inbn: str) -> str:
        return f"{self.settings.division}/{inbn}"

    # --- master data ------------------------------------------------------------------------

    def read_vendors(self) -> Iterator[ErpVendor]:
        """Every supplier (`CRS620MI/LstSuppliers`); status 90 (blocked) is inactive [I]."""
        for row in self.client.list_all("CRS620MI", "LstSuppliers", {}, "SUNO"):
            yield ErpVendor(
                code=row["SUNO"],
                name=row.get("SUNM", ""),
                currency=text_or_none(row.get("CUCD")),
                active=row.get("STAT") != "90",
                terms_code=text_or_none(row.get("TEPY")),
                tax_id=text_or_none(row.get("VRNO")),
                email=text_or_none(row.get("MEAL")),
            )

    def _identities(self, dimension: int) -> Iterator[Record]:
        fields = {"AITP": str(dimension)}
        yield from self.client.list_all("CRS630MI", "LstAccountID", fields, "AITM")

    def read_gl_accounts(self) -> Iterator[ErpGlAccount]:
        """Accounting dimension 1, the accounts (`CRS630MI/LstAccountID` AITP 1) [C]."""
        for row in self._identities(1):
            yield ErpGlAccount(
                code=row["AITM"],
                name=row.get("TX40", ""),
                account_type=text_or_none(row.get("ACGR")),
                active=row.get("VTDT", "0") in ("", "0"),
            )

    def read_dimensions(self) -> Iterator[ErpDimension]:
        """Accounting dimension 2 as cost centres (the common setup [I])."""
        for row in self._identities(2):
            yield ErpDimension(
                type=DimensionType.COST_CENTER,
                code=row["AITM"],
                name=row.get("TX40", ""),
                active=row.get("VTDT", "0") in ("", "0"),
            )

    def upsert_vendor(self, vendor: VendorChange) -> UpsertResult:
        """`CRS620MI/GetBasicData` decides: `UpdSupplier` when it exists, else `AddSupplier`.

        Raises:
            BadInputError: no supplier code, or one longer than M3's 10 characters.
            RejectedByErpError: M3 refused it.
        """
        if not vendor.code:
            raise BadInputError(f"vendor {vendor.name!r}: no M3 supplier code to create")
        suno = payloads.code(vendor.code, "SUNO", "supplier")
        record = {
            "SUNO": suno,
            "SUNM": fit_text(vendor.name, 36),
            "CUCD": vendor.currency or "",
            "VRNO": fit_text(vendor.tax_id, 16),
            "MEAL": fit_text(vendor.email, 60),
            "STAT": "90" if vendor.on_hold else "20",
        }
        try:
            self.client.execute("CRS620MI", "GetBasicData", {"SUNO": suno})
            exists = True
        except M3RejectedError as exc:
            if not exc.not_found:
                raise
            exists = False
        transaction = "UpdSupplier" if exists else "AddSupplier"
        self.client.execute("CRS620MI", transaction, record, kind="write")
        return UpsertResult(code=suno, created=not exists, response=f"CRS620MI/{transaction} OK")

    # --- postings ---------------------------------------------------------------------------

    def _head(self, inbn: str) -> Batch:
        [head] = self.client.execute("APS450MI", "GetHead", {"INBN": inbn})[:1] or [{}]
        return Batch(inbn, head)

    def _batches(self, ref: ExternalRef) -> list[Batch]:
        """Our batches for this supplier invoice: `LstInvBySupInv`, then `GetHead` for `CORI`."""
        rows = self.client.execute(
            "APS450MI",
            "LstInvBySupInv",
            {"SUNO": ref.vendor_code, "SINO": ref.document_number},
            maxrecs=0,
        )
        batches = [self._head(row["INBN"]) for row in rows if row.get("INBN")]
        return [b for b in batches if b.head.get("CORI") == ref.value]

    def _document(self, batch: Batch, response: str | None = None) -> ErpDocumentRef:
        head = batch.head
        return ErpDocumentRef(
            doc_id=self._doc_id(batch.inbn),
            vendor_code=text_or_none(head.get("SUNO")),
            document_number=text_or_none(head.get("SINO")),
            external_ref=text_or_none(head.get("CORI")),
            status=head.get("SUPA") or None,
            complete=batch.validated,
            response=response,
            total=decimal_or_zero(head.get("CUAM")),
            document_date=_m3_day(head.get("IVDT")),
        )

    def find_by_external_ref(self, ref: ExternalRef) -> list[ErpDocumentRef]:
        """Validated supplier invoices of ours with `ref` (an unfinished batch is not one)."""
        return [self._document(b) for b in self._batches(ref) if b.validated]

    def post_invoice(self, invoice: PostableInvoice) -> ErpDocumentRef:
        """Post the batch once, or complete ours if one is there; see the module docstring.

        Raises:
            RejectedByErpError: M3 refused the head, a line, the approval or the validation
                (a closed period as `PeriodClosedError`); a batch left behind is completed
                by the next attempt.
            NeedsLookupError: an answer was lost; or our batch holds lines unlike these.
        """
        head, lines = payloads.head(invoice), payloads.lines(invoice)
        ours = self._batches(invoice.ref)
        if len(ours) > 1:
            ids = ", ".join(self._doc_id(b.inbn) for b in ours)
            raise NeedsLookupError(
                f"Infor M3 holds {len(ours)} batches with {invoice.external_ref}: {ids}"
            )
        if ours and ours[0].validated:
            return self._document(ours[0], "already in M3")
        if ours:
            batch = ours[0]
            log.info("Infor M3: completing batch %s of %s", batch.inbn, invoice.external_ref)
            held = self.client.execute("APS450MI", "LstLines", {"INBN": batch.inbn}, maxrecs=0)
        else:
            [created] = self.client.execute("APS450MI", "AddHead", head, kind="write")[:1] or [{}]
            if not created.get("INBN"):
                raise NeedsLookupError("Infor M3 AddHead: the answer holds no INBN")
            batch, held = Batch(created["INBN"], {}), []
        self._complete(invoice, batch, lines, held)
        return ErpDocumentRef(
            doc_id=self._doc_id(batch.inbn),
            vendor_code=invoice.vendor_code,
            document_number=invoice.invoice_number,
            external_ref=invoice.external_ref,
            status=payloads.VALIDATED,
            response=f"APS455MI/ValidByBatchNo {batch.inbn} OK",
            total=Decimal(head["CUAM"]),
            document_date=invoice.invoice_date,
        )

    def _complete(
        self, invoice: PostableInvoice, batch: Batch, lines: list[Record], held: list[Record]
    ) -> None:
        """Add the lines not yet in, approve, validate."""
        if len(held) > len(lines) or not all(
            payloads.same_line(sent, got) for sent, got in zip(lines, held, strict=False)
        ):
            raise NeedsLookupError(
                f"Infor M3 batch {batch.inbn} carries {invoice.external_ref} but holds lines "
                "unlike this invoice's: correct or reject it in APS450, never posted again"
            )
        missing = [{"INBN": batch.inbn, **line} for line in lines[len(held) :]]
        calls: list[tuple[str, Mapping[str, str]]] = [("AddLine", line) for line in missing]
        if not batch.approved:
            calls.append(("ApproveInvoice", {"INBN": batch.inbn}))
        if calls:
            results = self.client.execute_bulk("APS450MI", calls)
            for (name, _), result in zip(calls, results, strict=True):
                if result.get("errorMessage"):
                    raise rejected(f"APS450MI/{name} (batch {batch.inbn})", result, str(result))
        self.client.execute("APS455MI", "ValidByBatchNo", {"INBN": batch.inbn}, kind="write")

    def read_posted_documents(self, since: date | None = None) -> Iterator[ErpDocumentRef]:
        """Every validated batch of ours (`LstInvBatchNo` status 90, then `GetHead`).

        `total` is signed as the source is: a credit memo went in with a negative `CUAM`.
        """
        rows = self.client.execute(
            "APS450MI", "LstInvBatchNo", {"SUPA": payloads.VALIDATED}, maxrecs=0
        )
        for row in rows:
            day = _m3_day(row.get("IVDT"))
            if since is not None and day is not None and day < since:
                continue
            batch = self._head(row["INBN"])
            if is_external_ref(batch.head.get("CORI", "")) and batch.validated:
                yield self._document(batch)

    # --- payments ---------------------------------------------------------------------------

    def _invoice_total(self, ref: ExternalRef) -> Record | None:
        try:
            [info] = self.client.execute(
                "APS200MI", "GetInvTotInfo", {"SUNO": ref.vendor_code, "SINO": ref.document_number}
            )[:1] or [{}]
        except M3RejectedError as exc:
            if exc.not_found:
                return None
            raise
        return info if info.get("CORI", ref.value) == ref.value else None

    def read_open_balances(self, refs: Sequence[ExternalRef]) -> Iterator[ErpOpenBalance]:
        """`APS200MI/GetInvTotInfo` per document: `CUAM` total, `OCUA` open [C]."""
        for ref in refs:
            info = self._invoice_total(ref)
            if info is None:
                continue
            yield ErpOpenBalance(
                doc_id=f"{info.get('DIVI') or self.settings.division}/{info.get('VONO', '')}",
                external_ref=ref.value,
                vendor_code=info.get("SUNO") or ref.vendor_code,
                document_number=info.get("SINO") or ref.document_number,
                currency=info.get("CUCD", ""),
                total=abs(decimal_or_zero(info.get("CUAM"))),
                open_amount=abs(decimal_or_zero(info.get("OCUA"))),
            )

    def _payment(self, row: Record) -> ErpDocumentRef:
        return ErpDocumentRef(
            doc_id=f"{self.settings.division}/{row['PRPN']}/{row['PYON']}",
            vendor_code=text_or_none(row.get("SPYN")),
            document_number=text_or_none(row.get("CKNO")) or row["PRPN"],
            external_ref=text_or_none(row.get("LITX")),
            status=row.get("STAT") or None,
            complete=row.get("STAT") == CONFIRMED,
            total=decimal_or_zero(row.get("PYAM")),
            document_date=_m3_day(row.get("ACDT")),
        )

    def _proposals(self) -> list[Record]:
        return self.client.execute(
            "APS130MI", "LstProposal", {"DIVI": self.settings.division}, maxrecs=0
        )

    def find_payment(self, ref: ExternalRef) -> list[ErpDocumentRef]:
        """Proposals carrying `ref` in their report text (`LITX`), confirmed or not."""
        return [self._payment(r) for r in self._proposals() if r.get("LITX") == ref.value]

    def read_posted_payments(self, since: date | None = None) -> Iterator[ErpDocumentRef]:
        """Every confirmed payment of ours (`LstProposal`, status 90)."""
        for row in self._proposals():
            payment = self._payment(row)
            if not (payment.complete and is_external_ref(payment.external_ref or "")):
                continue
            if since is None or payment.document_date is None or payment.document_date >= since:
                yield payment

    def post_payment(self, payment: PostablePayment) -> ErpDocumentRef:
        """A payment proposal for exactly these documents, confirmed; see the module docstring.

        Raises:
            RejectedByErpError: a document is not in M3, not open for the amount applied
                (partial payments are refused), or the proposal would hold other invoices.
            NeedsLookupError: several proposals carry the reference, or an answer was lost.
        """
        division = self.settings.division
        found = self.find_payment(payment.ref)
        if len(found) > 1:
            raise NeedsLookupError(
                f"Infor M3 holds {len(found)} payment proposals with {payment.external_ref}"
            )
        if found and found[0].complete:
            return found[0]
        if found:
            _, prpn, pyon = found[0].doc_id.split("/")
            return self._confirm(payment, prpn, pyon)
        wanted = self._check_open(payment)
        days = sorted(wanted.values())
        [created] = self.client.execute(
            "APS130MI",
            "CreateProposal",
            {
                "CUDI": division,
                "DIVF": division,
                "DIVT": division,
                "PRPD": payloads.m3_date(payment.payment_date),
                "SPYF": payment.vendor_code,
                "SPYT": payment.vendor_code,
                "IVDF": days[0],
                "IVDT": days[-1],
                "CUCF": payment.currency,
                "CUCT": payment.currency,
                "LITX": payment.external_ref,
            },
            kind="write",
        )[:1] or [{}]
        prpn = created.get("PRPN", "")
        if not prpn:
            raise NeedsLookupError("Infor M3 CreateProposal: the answer holds no PRPN")
        held = self.client.execute(
            "APS130MI", "LstInvByPayDoc", {"DIVI": division, "PRPN": prpn, "PYON": "1"}, maxrecs=0
        )
        if {(r.get("SUNO"), r.get("SINO")) for r in held} != set(wanted):
            self.client.execute(
                "APS130MI",
                "DeleteProposal",
                {"DIVI": division, "PRPN": prpn, "PYON": "1"},
                kind="write",
            )
            raise M3RejectedError(
                f"Infor M3 payment {payment.payment_id}: a proposal for supplier "
                f"{payment.vendor_code} would also pay other open invoices; record it in APS130",
                f"proposal {prpn} held {sorted(str(r.get('SINO')) for r in held)}",
                error_type="Selection",
                error_code="",
                error_field="SINO",
                m3_message="",
            )
        return self._confirm(payment, prpn, "1")

    def _check_open(self, payment: PostablePayment) -> dict[tuple[str, str], str]:
        """Each document's invoice date, once its open amount is what the payment applies."""
        wanted: dict[tuple[str, str], str] = {}
        for application in payment.applications:
            ref = application.invoice
            info = self._invoice_total(ref)
            if info is None:
                raise M3RejectedError(
                    f"Infor M3 has no supplier invoice {ref.document_number} of {ref.vendor_code}",
                    "GetInvTotInfo: not found",
                    error_type="ServerReturnedNOK",
                    error_code="",
                    error_field="SINO",
                    m3_message="does not exist",
                )
            open_amount = abs(decimal_or_zero(info.get("OCUA")))
            if open_amount != application.amount or info.get("CUCD") != payment.currency:
                raise M3RejectedError(
                    f"Infor M3 invoice {ref.document_number}: open {open_amount} "
                    f"{info.get('CUCD')}, the payment applies {application.amount} "
                    f"{payment.currency}; M3 proposals pay the open amount",
                    f"GetInvTotInfo OCUA {open_amount}",
                    error_type="Amount",
                    error_code="",
                    error_field="OCUA",
                    m3_message="",
                )
            wanted[(ref.vendor_code, ref.document_number)] = info.get("IVDT", "")
        return wanted

    def _confirm(self, payment: PostablePayment, prpn: str, pyon: str) -> ErpDocumentRef:
        check = fit_text(payment.reference or payment.payment_id, 15)
        self.client.execute(
            "APS130MI",
            "CreateConfChk",
            {
                "DIVI": self.settings.division,
                "PRPN": prpn,
                "PYON": pyon,
                "ACDT": payloads.m3_date(payment.payment_date),
                "LITP": REPORT_LAYOUT,
                "CKNO": check,
                "CUCD": payment.currency,
                "VTXT": payment.external_ref,
            },
            kind="write",
        )
        return ErpDocumentRef(
            doc_id=f"{self.settings.division}/{prpn}/{pyon}",
            vendor_code=payment.vendor_code,
            document_number=check or prpn,
            external_ref=payment.external_ref,
            status=CONFIRMED,
            total=payment.total,
            document_date=payment.payment_date,
            response=f"APS130MI/CreateConfChk {prpn}/{pyon} OK",
        )

    def close(self) -> None:
        """Revoke the grant and close the connections."""
        self.client.close()


def _ionapi(settings: InforM3ErpSettings, secrets: ErpSecrets, owner: str) -> IonApiFile:
    """The `.ionapi` file, with `erp.username`/`erp.password` and `erp.base_url` applied.

    Raises:
        ConfigError: the file is unreadable, or an URL is plain HTTP off this machine.
    """
    text = secrets["ionapi"].get_secret_value()
    ion = IonApiFile.parse(text, owner)
    api_url = ion.api_url
    if settings.base_url:
        api_url = f"{settings.base_url.rstrip('/')}/{ion.tenant}"
    token_url, revoke_url = ion.token_url, ion.revoke_url
    if settings.sso_url:
        sso = settings.sso_url if settings.sso_url.endswith("/") else settings.sso_url + "/"
        token_url = sso + ion.token_url.rsplit("/", 1)[-1]
        revoke_url = sso + ion.revoke_url.rsplit("/", 1)[-1]
    key = settings.username or ion.service_key
    secret = secrets.get("password", ion.service_secret)
    for url in (api_url, token_url):
        parsed = httpx.URL(url)
        if parsed.scheme != "https" and not (is_loopback(parsed.host) or settings.allow_plaintext):
            raise ConfigError(
                f"{owner}: erp.ionapi names {parsed.scheme}://{parsed.host}: must be https "
                "(or set allow_plaintext with a plaintext_reason)"
            )
    return IonApiFile(
        tenant=ion.tenant,
        client_id=ion.client_id,
        client_secret=ion.client_secret,
        api_url=api_url,
        token_url=token_url,
        revoke_url=revoke_url,
        service_key=key,
        service_secret=SecretStr(secret.get_secret_value()),
    )


def build_adapter(
    settings: InforM3ErpSettings,
    secrets: ErpSecrets,
    *,
    owner: str = "tenant",
    http: httpx.Client | None = None,
    rate_limiter: RequestLimiter | None = None,
    **overrides: Any,
) -> InforM3Adapter:
    """The registry's factory: an M3 adapter from a tenant's `erp:` block and its secrets.

    `overrides` are `InforM3Settings` fields (timeouts, `ca_bundle`, `page_size`,
    `refresh_margin`, ...).

    Raises:
        ConfigError: the block lacks the `.ionapi` file, the company or the division, or the
            file is unreadable, or `erp.ca_bundle` is not a readable PEM file here.
    """
    require(settings, owner, "ionapi", "company", "division")
    assert settings.company and settings.division
    client_settings = InforM3Settings(
        ionapi=_ionapi(settings, secrets, owner),
        company=settings.company,
        division=settings.division,
        **settings.client_options(owner, overrides),
    )
    return InforM3Adapter(client_settings, http, rate_limiter=rate_limiter)
