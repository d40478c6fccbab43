"""`AcumaticaAdapter`: the ERP adapter protocol over Acumatica's contract-based REST API.

- Postings are AP `Bill`s (`Debit Adj.` for credit memos) with line-level GL coding (branch,
  account, subaccount, project) and the vendor's invoice number in `VendorRef`
  (`payloads.py`). Acumatica has no idempotency key [C: seed 004], so before a bill is saved
  it is looked up by vendor + `VendorRef`: ours (our reference leads `Description`) is that
  bill; someone else's with the same type is a refusal (a hand-keyed duplicate, for review);
  none: `PUT` with `If-None-Match: *` (create only; 412 means a record with the key exists,
  and the lookup decides again).
- Release (`erp.acumatica_release_bills`): `ReleaseBill` (202 + Location, polled to 204).
  A bill of ours found unreleased (a run that died between save and release) is released by
  the lookup that finds it, and reported complete only once it is; never saved twice.
- Lookups read the same tables the PUT wrote: `lookup_is_read_after_write_consistent`.
- Master data: `Vendor`, `Account`, `Subaccount` / `Branch` / `Project` (the tenant's cost
  center field's records as cost centers), open `PurchaseOrder` lines.
- Payments (reconcile-only: the payment is made in Acumatica): AP `Check`s with their
  applications (`read_payments`), bills' balances (`read_open_balances`).
"""

import logging
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from bridge_pipelines.erps.acumatica import payloads
from bridge_pipelines.erps.acumatica.client import AcumaticaClient, AcumaticaSettings
from bridge_pipelines.erps.acumatica.errors import RecordExistsError
from bridge_pipelines.erps.acumatica.settings import AcumaticaErpSettings
from bridge_pipelines.erps.acumatica.tokens import TokenStore
from bridge_pipelines.erps.base import (
    AdapterBase,
    DimensionType,
    ErpDimension,
    ErpDocumentRef,
    ErpGlAccount,
    ErpOpenBalance,
    ErpPayment,
    ErpPurchaseOrderLine,
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
from bridge_pipelines.erps.values import (
    checked_code,
    day_or_none,
    decimal_or_zero,
    odata_literal,
    text_or_none,
)
from bridge_pipelines.errors import (
    BridgeError,
    ConfigError,
    NeedsLookupError,
    RejectedByErpError,
)
from bridge_pipelines.redaction import redact
from bridge_pipelines.settings import get_settings

log = logging.getLogger(__name__)

BILL_COLUMNS = (
    "Type", "ReferenceNbr", "Vendor", "VendorRef", "Description", "Status", "Amount", "Balance",
    "Date", "CurrencyID",
)  # fmt: skip
DIMENSION_ENTITIES = {
    "Subaccount": ("SubaccountCD", "Description", DimensionType.SUBACCOUNT),
    "Branch": ("BranchID", "BranchName", DimensionType.BRANCH),
    "Project": ("ProjectID", "Description", DimensionType.PROJECT),
}
PAID_DOCS = (payloads.BILL, payloads.DEBIT_ADJUSTMENT)


def _ours(row: dict[str, Any], reference: str) -> bool:
    return str(row.get("Description") or "").startswith(reference)


def _reference(row: dict[str, Any]) -> str | None:
    first = str(row.get("Description") or "").split(" ", 1)[0]
    return first if is_external_ref(first) else None


def _doc_id(row: dict[str, Any]) -> str:
    return f"{row.get('Type')}/{row.get('ReferenceNbr')}"


class AcumaticaAdapter(AdapterBase):
    """One Acumatica tenant, for one batch. Use it as a context manager."""

    lookup_is_read_after_write_consistent: bool = True

    def __init__(
        self,
        settings: AcumaticaSettings,
        http: httpx.Client | None = None,
        *,
        release: bool = False,
        cost_center_field: str = "Subaccount",
        tax_account: str | None = None,
        rate_limiter: RequestLimiter | None = None,
    ) -> None:
        self.settings = settings
        self.release = release
        self.cost_center_field = cost_center_field
        self.tax_account = tax_account
        self.client = AcumaticaClient(settings, http, rate_limiter)
        self._open_pos: dict[str, payloads.PoLink] | None = None
        self._version_checked = False

    # --- endpoint version -------------------------------------------------------------------

    def _records(self, entity: str, **options: Any) -> Iterator[dict[str, Any]]:
        """`client.records`, a 404 explained by the versions the instance offers."""
        try:
            yield from self.client.records(entity, **options)
        except ConfigError as exc:
            if "HTTP 404" not in str(exc):
                raise
            raise self._version_missing() from None

    def _version_missing(self) -> ConfigError:
        s = self.settings
        try:
            offered = self.client.endpoint_versions()
        except BridgeError:
            offered = []
        names = ", ".join(offered) or "none listed"
        return ConfigError(
            f"Acumatica at {s.base_url} does not serve endpoint {s.endpoint} version "
            f"{s.version}; it offers {s.endpoint} {names}: set erp.acumatica_endpoint_version"
        )

    # --- master data ------------------------------------------------------------------------

    def read_vendors(self) -> Iterator[ErpVendor]:
        """Every vendor; `Active` (and `One-Time`) post, others are inactive."""
        select = ("VendorID", "VendorName", "Status", "CurrencyID", "Terms", "TaxRegistrationID",
                  "LastModifiedDateTime")  # fmt: skip
        for row in self._records("Vendor", select=select, expand=("MainContact",)):
            contact = row.get("MainContact") or {}
            modified = text_or_none(row.get("LastModifiedDateTime"))
            yield ErpVendor(
                code=str(row["VendorID"]).strip(),
                name=str(row.get("VendorName") or "").strip(),
                currency=text_or_none(row.get("CurrencyID")),
                active=row.get("Status") in ("Active", "One-Time"),
                terms_code=text_or_none(row.get("Terms")),
                tax_id=text_or_none(row.get("TaxRegistrationID")),
                email=text_or_none(contact.get("Email")) if isinstance(contact, dict) else None,
                updated_at=datetime.fromisoformat(modified) if modified else None,
            )

    def read_gl_accounts(self) -> Iterator[ErpGlAccount]:
        select = ("AccountCD", "Description", "Type", "Active")
        for row in self._records("Account", select=select):
            yield ErpGlAccount(
                code=str(row["AccountCD"]).strip(),
                name=str(row.get("Description") or "").strip(),
                account_type=text_or_none(row.get("Type")),
                active=bool(row.get("Active", True)),
            )

    def read_dimensions(self) -> Iterator[ErpDimension]:
        """Subaccounts, branches and projects; the cost center field's ones as cost centers."""
        for entity, (key, name, kind) in DIMENSION_ENTITIES.items():
            status = "Status" if entity == "Project" else "Active"
            for row in self._records(entity, select=(key, name, status)):
                active = (
                    row.get("Status") == "Active"
                    if entity == "Project"
                    else bool(row.get("Active"))
                )
                yield ErpDimension(
                    type=DimensionType.COST_CENTER if entity == self.cost_center_field else kind,
                    code=str(row[key]).strip(),
                    name=str(row.get(name) or "").strip(),
                    active=active,
                )

    def _purchase_orders(self) -> Iterator[dict[str, Any]]:
        return self._records(
            "PurchaseOrder",
            select=("Type", "OrderNbr", "VendorID", "Date", "Status", "CurrencyID"),
            expand=("Details",),
            filter="Status eq 'Open'",
        )

    def read_open_pos(self) -> Iterator[ErpPurchaseOrderLine]:
        """Lines not completed of open purchase orders (`Status eq 'Open'`)."""
        for row in self._purchase_orders():
            for index, line in enumerate(row.get("Details") or [], start=1):
                if not isinstance(line, dict) or line.get("Completed"):
                    continue
                yield ErpPurchaseOrderLine(
                    po_number=str(row["OrderNbr"]),
                    line=int(line.get("LineNbr") or index),
                    vendor_code=str(row.get("VendorID") or ""),
                    description=str(line.get("LineDescription") or line.get("InventoryID") or ""),
                    quantity=decimal_or_zero(line.get("OrderQty")),
                    unit_price=decimal_or_zero(line.get("UnitCost")),
                    amount=decimal_or_zero(line.get("ExtendedCost")),
                    currency=str(row.get("CurrencyID") or "USD"),
                    received_quantity=decimal_or_zero(line.get("QtyOnReceipts")),
                    ledger_code=text_or_none(line.get("Account")),
                    order_date=day_or_none(row.get("Date")),
                )

    def upsert_vendor(self, vendor: VendorChange) -> UpsertResult:
        """`PUT Vendor` (an upsert by `VendorID`); a `$filter` read first says which it was."""
        body = payloads.vendor(vendor, create=True)  # validates the code first
        assert vendor.code
        where = f"VendorID eq {odata_literal(vendor.code, 'vendor code')}"
        exists = bool(list(self._records("Vendor", select=("VendorID",), filter=where)))
        if exists:
            body = payloads.vendor(vendor, create=False)
        answer = self.client.call(
            "PUT", "Vendor", lambda a: a, kind="write", what="Vendor", body=body
        )
        return UpsertResult(code=vendor.code, created=not exists, response=redact(answer.text))

    # --- postings ---------------------------------------------------------------------------

    def _bills_by_vendor_ref(self, vendor_code: str, vendor_ref: str) -> list[dict[str, Any]]:
        where = (
            f"Vendor eq {odata_literal(vendor_code, 'vendor code')} and "
            f"VendorRef eq {odata_literal(vendor_ref, 'vendor invoice number')}"
        )
        return list(self._records("Bill", select=BILL_COLUMNS, filter=where))

    def _document(self, row: dict[str, Any], reference: str | None) -> ErpDocumentRef:
        return ErpDocumentRef(
            doc_id=_doc_id(row),
            vendor_code=text_or_none(row.get("Vendor")),
            document_number=text_or_none(row.get("ReferenceNbr")),
            external_ref=reference,
            status=text_or_none(row.get("Status")),
            complete=not (self.release and row.get("Status") in payloads.UNRELEASED),
        )

    def _finish(
        self, row: dict[str, Any], reference: str, *, posting: bool = False
    ) -> ErpDocumentRef:
        """Our bill, released first when the tenant releases and it is not yet.

        A release that fails leaves it incomplete: a lookup reports `complete=False` (the
        engine holds it for review); a post raises `NeedsLookupError`, so the engine looks
        it up (and tries the release once more) instead of counting it posted.
        """
        if self.release and row.get("Status") == "Balanced":
            try:
                self._release(str(row["Type"]), str(row["ReferenceNbr"]))
                row = {**row, "Status": "Open"}
            except BridgeError as exc:
                log.warning("Acumatica: %s is saved but not released: %s", _doc_id(row), exc)
                if posting:
                    raise NeedsLookupError(
                        f"Acumatica {_doc_id(row)} is saved but its release failed: {exc}"
                    ) from None
        return self._document(row, reference)

    def find_by_external_ref(self, ref: ExternalRef) -> list[ErpDocumentRef]:
        """Our bills for `ref`: vendor + `VendorRef`, then our reference leading `Description`.

        A bill of ours found unreleased on a releasing tenant is released here (it was saved
        by a run that died before releasing it) and reported complete once it is.
        """
        checked_code(ref.value, "reference")
        rows = self._bills_by_vendor_ref(ref.vendor_code, ref.document_number)
        return [self._finish(row, ref.value) for row in rows if _ours(row, ref.value)]

    def _release(self, doc_type: str, number: str) -> None:
        what = "ReleaseBill"
        answer = self.client.call(
            "POST", f"Bill/{what}", lambda a: a, kind="write", what=what,
            body=payloads.release_entity(doc_type, number),
        )  # fmt: skip
        location = answer.headers.get("location")
        if answer.status == 202 and location:
            self.client.wait_for(location, f"{what} status")

    def _po_links(self, invoice: PostableInvoice) -> dict[str, payloads.PoLink]:
        """Open POs of the invoice's vendor its PO references line up with (read once)."""
        wanted = {line.po_number for line in invoice.lines if line.po_number}
        if not wanted:
            return {}
        if self._open_pos is None:
            self._open_pos = {}
            for row in self._purchase_orders():
                lines = [d for d in row.get("Details") or [] if isinstance(d, dict)]
                first = lines[0] if lines else {}
                self._open_pos[f"{row.get('VendorID')}|{row['OrderNbr']}"] = payloads.PoLink(
                    order_type=str(row.get("Type") or "Normal"),
                    order_nbr=str(row["OrderNbr"]),
                    project=text_or_none(first.get("Project")),
                    subaccount=text_or_none(first.get("Subaccount")),
                )
        return {
            number: self._open_pos[f"{invoice.vendor_code}|{number}"]
            for number in wanted
            if f"{invoice.vendor_code}|{number}" in self._open_pos
        }

    def post_invoice(self, invoice: PostableInvoice) -> ErpDocumentRef:
        """Look up by vendor + `VendorRef`, then `PUT` create-only once, then release.

        Raises:
            RejectedByErpError: refused (422), or a bill with the same vendor reference and
                type exists that is not ours (keyed by hand: review it).
            NeedsLookupError: it may have been saved (timeout, reset, 5xx, unreadable).
            RetryableError: nothing reached Acumatica, or 429 past the retry budget.
            ConfigError: credentials, instance URL or endpoint version are wrong.
        """
        body = payloads.bill(
            invoice,
            branch=self.settings.branch,
            cost_center_field=self.cost_center_field,
            tax_account=self.tax_account,
            po_links=self._po_links(invoice),
        )
        doc_type = payloads.bill_type(invoice)
        existing = self._bills_by_vendor_ref(invoice.vendor_code, invoice.invoice_number)
        ours = [row for row in existing if _ours(row, invoice.external_ref)]
        if len(ours) > 1:
            raise NeedsLookupError(
                f"Acumatica holds {len(ours)} bills with reference {invoice.external_ref}"
            )
        if ours:
            return self._finish(ours[0], invoice.external_ref, posting=True)
        foreign = [row for row in existing if row.get("Type") == doc_type]
        if foreign:
            raise RejectedByErpError(
                f"Acumatica already holds {_doc_id(foreign[0])} for vendor "
                f"{invoice.vendor_code} with vendor reference {invoice.invoice_number}, not "
                "posted by this bridge: check it before posting again",
                redact(str(foreign[0])),
            )

        def send() -> ErpDocumentRef:
            try:
                answer = self.client.call(
                    "PUT", "Bill", lambda a: a, kind="write", what="Bill", body=body,
                    headers={"If-None-Match": "*"}, session_retry=False,
                    params={"$select": ",".join(BILL_COLUMNS)},
                )  # fmt: skip
            except RecordExistsError:
                found = self.find_by_external_ref(invoice.ref)
                if len(found) == 1:
                    return found[0]
                raise RejectedByErpError(
                    f"Acumatica: a bill with this key exists and is not ours ({len(found)} of "
                    "ours found)",
                    None,
                ) from None
            try:
                row = payloads.unwrap(self.client.json(answer, "Bill", "write"))
            except NeedsLookupError:
                row = None
            if not isinstance(row, dict) or not row.get("ReferenceNbr"):
                found = self.find_by_external_ref(invoice.ref)
                if len(found) == 1:
                    return found[0]
                raise NeedsLookupError(
                    f"Acumatica Bill: saved, but the answer is unreadable and the lookup found "
                    f"{len(found)}"
                )
            doc = self._finish(row, invoice.external_ref, posting=True)
            return ErpDocumentRef(
                doc_id=doc.doc_id, vendor_code=invoice.vendor_code,
                document_number=doc.document_number, external_ref=invoice.external_ref,
                status=doc.status, complete=doc.complete, response=redact(answer.text),
            )  # fmt: skip

        return post_with_lookup(self.client, send, self.find_by_external_ref, invoice, "Bill")

    # --- reconciliation ---------------------------------------------------------------------

    def _our_bills(
        self, since: date | None = None, details: bool = False
    ) -> Iterator[dict[str, Any]]:
        where = f"startswith(Description,'{EXTERNAL_REF_PREFIX}')"
        if since is not None:
            where += f" and Date ge datetimeoffset'{since.isoformat()}T00:00:00+00:00'"
        expand = ("Details",) if details else ()
        for row in self._records("Bill", select=BILL_COLUMNS, expand=expand, filter=where):
            if _reference(row):
                yield row

    def read_posted_documents(self, since: date | None = None) -> Iterator[ErpDocumentRef]:
        """Every bill of ours (a debit adjustment's total negative), with its lines' sum."""
        for row in self._our_bills(since, details=True):
            amount = decimal_or_zero(row.get("Amount"))
            lines = [d for d in row.get("Details") or [] if isinstance(d, dict)]
            debit = sum((decimal_or_zero(d.get("ExtendedCost")) for d in lines), Decimal(0))
            credit_memo = row.get("Type") == payloads.DEBIT_ADJUSTMENT
            yield ErpDocumentRef(
                doc_id=_doc_id(row),
                vendor_code=text_or_none(row.get("Vendor")),
                document_number=text_or_none(row.get("ReferenceNbr")),
                external_ref=_reference(row),
                status=text_or_none(row.get("Status")),
                complete=not (self.release and row.get("Status") in payloads.UNRELEASED),
                total=-amount if credit_memo else amount,
                debit_total=debit,
                credit_total=amount,
                document_date=day_or_none(row.get("Date")),
            )

    def read_open_balances(self, refs: Sequence[ExternalRef]) -> Iterator[ErpOpenBalance]:
        """Each posted bill's `Amount` and `Balance` (an unreleased bill's balance is whole)."""
        wanted = {ref.value for ref in refs}
        if not wanted:
            return
        for row in self._our_bills():
            reference = _reference(row)
            if reference not in wanted:
                continue
            amount = decimal_or_zero(row.get("Amount"))
            balance = decimal_or_zero(row.get("Balance"))
            yield ErpOpenBalance(
                doc_id=_doc_id(row),
                external_ref=reference,
                vendor_code=text_or_none(row.get("Vendor")),
                document_number=text_or_none(row.get("VendorRef")),
                currency=str(row.get("CurrencyID") or "USD"),
                total=amount,
                open_amount=amount if row.get("Status") in payloads.UNRELEASED else balance,
            )

    def read_payments(self, since: datetime) -> Iterator[ErpPayment]:
        """One `ErpPayment` per bill an AP check (released) applied since `since`.

        The invoice number is the bill's `VendorRef`, as Stampli knows it.
        """
        moment = since.astimezone(UTC).replace(microsecond=0).isoformat()
        where = (
            f"ApplicationDate ge datetimeoffset'{moment}' and "
            "(Status eq 'Open' or Status eq 'Closed')"
        )
        checks = list(self._records("Check", expand=("Details",), filter=where))
        numbers = sorted(
            {
                str(d["ReferenceNbr"])
                for check in checks
                for d in check.get("Details") or []
                if isinstance(d, dict) and d.get("DocType") in PAID_DOCS
            }
        )
        bills: dict[str, dict[str, Any]] = {}
        for start in range(0, len(numbers), 20):
            chunk = numbers[start : start + 20]
            where = " or ".join(f"ReferenceNbr eq {payloads.literal(n)}" for n in chunk)
            for row in self._records("Bill", select=BILL_COLUMNS, filter=where):
                bills[f"{row.get('Type')}/{row.get('ReferenceNbr')}"] = row
        for check in checks:
            paid_on = day_or_none(check.get("ApplicationDate"))
            for line in check.get("Details") or []:
                if not isinstance(line, dict) or line.get("DocType") not in PAID_DOCS:
                    continue
                bill = bills.get(f"{line['DocType']}/{line['ReferenceNbr']}", {})
                yield ErpPayment(
                    payment_id=_doc_id(check),
                    vendor_code=str(check.get("Vendor") or ""),
                    invoice_number=str(bill.get("VendorRef") or line["ReferenceNbr"]),
                    amount=decimal_or_zero(line.get("AmountPaid")),
                    currency=str(check.get("CurrencyID") or "USD"),
                    paid_on=paid_on or since.date(),
                    reference=text_or_none(check.get("PaymentRef")),
                    method=text_or_none(check.get("PaymentMethod")),
                )

    def close(self) -> None:
        """Log out (the session holds an API user seat) and close the connections."""
        self.client.close()


def token_store(settings: AcumaticaErpSettings, owner: str, client_secret: str) -> TokenStore:
    """The tenant's encrypted token file: `erp.acumatica_token_store` or `$BRIDGE_HOME`'s."""
    folder = (
        Path(settings.acumatica_token_store)
        if settings.acumatica_token_store
        else get_settings().home.resolve() / "acumatica-tokens"
    )
    assert settings.acumatica_client_id
    name = owner.removeprefix("tenant ")  # `tenants.erp` names the owner "tenant <id>"
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
    return TokenStore(folder / f"{safe}.tokens", settings.acumatica_client_id, client_secret)


def build_adapter(
    settings: AcumaticaErpSettings,
    secrets: ErpSecrets,
    *,
    owner: str = "tenant",
    http: httpx.Client | None = None,
    rate_limiter: RequestLimiter | None = None,
    **overrides: Any,
) -> AcumaticaAdapter:
    """The registry's factory: an Acumatica adapter from a tenant's `erp:` block and secrets.

    `overrides` are `AcumaticaSettings` fields (timeouts, `page_size`, `token_store`, ...)
    plus `release`.

    Raises:
        ConfigError: the block lacks the instance URL, tenant or endpoint version, or the
            credentials its `acumatica_auth` needs.
    """
    require(settings, owner, "base_url", "company", "acumatica_endpoint_version")
    assert settings.base_url and settings.company and settings.acumatica_endpoint_version
    if settings.acumatica_auth == "cookie":
        require(settings, owner, "username", "password")
    else:
        require(settings, owner, "acumatica_client_id", "acumatica_client_secret")
    release = overrides.pop("release", settings.acumatica_release_bills)
    store = overrides.pop("token_store", None)
    if settings.acumatica_auth == "oauth2" and store is None:
        store = token_store(settings, owner, secrets["acumatica_client_secret"].get_secret_value())
    client_settings = AcumaticaSettings(
        base_url=settings.base_url,
        tenant=settings.company,
        endpoint=settings.acumatica_endpoint,
        version=settings.acumatica_endpoint_version,
        branch=settings.acumatica_branch,
        username=settings.username,
        password=secrets.get("password"),
        auth=settings.acumatica_auth,
        client_id=settings.acumatica_client_id,
        client_secret=secrets.get("acumatica_client_secret"),
        refresh_token=secrets.get("acumatica_refresh_token"),
        token_store=store,
        **settings.client_options(owner, overrides),
    )
    return AcumaticaAdapter(
        client_settings,
        http,
        release=release,
        cost_center_field=settings.acumatica_cost_center_field,
        tax_account=settings.acumatica_tax_account,
        rate_limiter=rate_limiter,
    )
