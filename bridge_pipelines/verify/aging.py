"""AP aging, Stampli against the ERP: what a controller compares at the end of a day.

Every approved invoice of the tenant with something open, aged by its due date as of a day
(`current`, `1-30`, `31-60`, `61-90`, `90+` days past due), per currency: Stampli's open amount
(its total less every Stampli payment) beside the ERP's (`read_open_balances` of the posted
ones; an invoice not posted yet is open in Stampli only, which shows). Credit memos count
negative, as they reduce what is owed. Read-only, like `bridge verify`.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from bridge_pipelines.erps.base import ErpAdapter
from bridge_pipelines.errors import NotSupportedError
from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.ledger.states import PostingState
from bridge_pipelines.posting.payment_run import records_payments
from bridge_pipelines.posting.payments import PaymentBook
from bridge_pipelines.posting.run import posting_target
from bridge_pipelines.tenants.models import TenantConfig
from bridge_pipelines.verify.payments import invoice_balances, read_erp_balances

BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")
ZERO = Decimal(0)


def bucket_of(due: date | None, as_of: date) -> str:
    """The aging bucket of a due date as of a day."""
    late = (as_of - due).days if due else 0
    if late <= 0:
        return "current"
    for limit, name in ((30, "1-30"), (60, "31-60"), (90, "61-90")):
        if late <= limit:
            return name
    return "90+"


@dataclass
class Aging:
    """Open AP by currency and bucket, Stampli and ERP, and the invoices that differ."""

    tenant: str
    as_of: date
    stampli: dict[tuple[str, str], Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    erp: dict[tuple[str, str], Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    differences: list[dict[str, str]] = field(default_factory=list)
    erp_note: str | None = None

    def rows(self) -> list[dict[str, str]]:
        """One row per currency and bucket holding anything: Stampli, ERP, difference."""
        keys = sorted(set(self.stampli) | set(self.erp), key=lambda k: (k[0], BUCKETS.index(k[1])))
        out = []
        for currency, bucket in keys:
            s, e = (
                self.stampli.get((currency, bucket), ZERO),
                self.erp.get((currency, bucket), ZERO),
            )
            out.append(
                {
                    "currency": currency,
                    "bucket": bucket,
                    "stampli": f"{s:.2f}",
                    "erp": f"{e:.2f}" if self.erp_note is None else "not read",
                    "difference": f"{s - e:.2f}" if self.erp_note is None else "",
                }
            )
        return out

    @property
    def matches(self) -> bool:
        """Stampli and the ERP agree on every invoice (and the ERP could be read)."""
        return self.erp_note is None and not self.differences


def ap_aging(
    tenant: TenantConfig, ledger: Ledger, adapter: ErpAdapter | None, as_of: date
) -> Aging:
    """The tenant's AP aging as of `as_of`: Stampli beside the ERP.

    Raises:
        BridgeError: the ERP could not be read.
    """
    aging = Aging(tenant=tenant.id, as_of=as_of)
    book = PaymentBook.load(ledger, tenant.id, posting_target(tenant))
    balances = list(invoice_balances(book, recorded=records_payments(tenant)).values())
    erp = {}
    if adapter is None:
        aging.erp_note = "the tenant has no ERP"
    else:
        try:
            erp = read_erp_balances(adapter, balances)
        except NotSupportedError as exc:
            aging.erp_note = f"the ERP reads no open balances: {exc}"
    for balance in balances:
        document = balance.document
        sign = Decimal(-1) if document.document_type == "CreditMemo" else Decimal(1)
        key = (document.currency, bucket_of(document.due_date, as_of))
        aging.stampli[key] += sign * balance.stampli_open
        posted = balance.posting is not None and balance.posting.state == PostingState.POSTED
        found = erp.get(balance.posting.external_ref, []) if posted and balance.posting else []
        erp_open = sum((b.open_amount for b in found), ZERO) if found else ZERO
        aging.erp[key] += sign * erp_open
        if aging.erp_note is None and erp_open != balance.stampli_open:
            aging.differences.append(
                {
                    "invoice": balance.name,
                    "bucket": key[1],
                    "stampli open": f"{balance.stampli_open:.2f}",
                    "ERP open": f"{erp_open:.2f}" if posted else "not posted",
                    "ERP document": (balance.posting.erp_doc_id or "") if balance.posting else "",
                }
            )
    return aging
