"""After `bridge demo --once`: summit's Stampli payments, reconciled with Acumatica's checks.

Acumatica makes payments (reconcile-only): the demo's AP clerk cut one check per Stampli
payment. The sandbox keeps its state on disk, so it is started again on the demo's folder and
read back through the connector, as `bridge verify summit` does.
"""

from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.ledger.states import PostingKind, PostingState
from bridge_pipelines.sandbox.acumatica.app import APP_FACTORY
from bridge_pipelines.sandbox.erp_base.runner import start_sandbox

TENANT = "summit"


def assert_summit_payments_reconciled_in_acumatica(home: Path, ledger: Ledger) -> None:
    """Every Stampli payment row on a posted bill is an Acumatica check line of that amount.

    And `bridge verify`'s payment checks pass (not skipped): payments applied, open balances.
    """
    from bridge_pipelines.tenants.erp import build_adapter
    from bridge_pipelines.tenants.loader import load_tenants
    from bridge_pipelines.tenants.secrets import Keyring
    from bridge_pipelines.verify.reconcile import verify_tenant

    posted = {
        p.record_id
        for p in ledger.postings(TENANT, kind=PostingKind.INVOICE)
        if p.state == PostingState.POSTED
    }
    numbers = {
        r.payload["invoice_id"]: r.payload["invoice_number"]
        for r in ledger.records(TENANT, kind="invoices")
        if r.id in posted
    }
    stampli: dict[str, Decimal] = defaultdict(Decimal)
    for row in ledger.records(TENANT, kind="payments"):
        if row.payload["invoice_id"] in numbers:
            stampli[numbers[row.payload["invoice_id"]]] += Decimal(row.payload["amount"])
    assert stampli, "no summit payment settles a bill in Acumatica"
    (tenant,) = [t for t in load_tenants(home / "tenants") if t.id == TENANT]

    with start_sandbox(APP_FACTORY, home / "erp" / "acumatica") as sandbox:
        tenant = tenant.model_copy(
            update={"erp": tenant.erp.model_copy(update={"base_url": sandbox.base_url})}
        )
        with build_adapter(tenant, keyring=Keyring.load(home / "keys.json")) as adapter:
            report = verify_tenant(tenant, ledger, adapter=adapter)
            made = list(adapter.read_payments(datetime(2000, 1, 1, tzinfo=UTC)))

    in_erp: dict[str, Decimal] = defaultdict(Decimal)
    for line in made:
        in_erp[line.invoice_number] += line.amount
    assert dict(in_erp) == dict(stampli)
    for name in ("payments_applied", "open_balances"):
        check = report.check(name)
        assert check.ok and check.status.value == "ok", (name, check.to_dict())
    assert "reconcile-only" in (report.check("payments_applied").note or "")
    assert report.counts["erp_payments"] == len(made) > 0
    assert report.counts["open_balances_checked"] > 0
