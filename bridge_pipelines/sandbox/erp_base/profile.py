"""`SandboxProfile`: what the demo and the test harnesses need to know of one ERP's sandbox.

A connector's descriptor (`ErpPlugin.sandbox`) names its profile by dotted path, so the
product never imports a sandbox. The demo starts `app` and writes a tenant from
`erp_section` and `mapping`; the conformance suite, the fault matrix and the soak also arm
faults on `write_match` (the request that posts a document) and read the ERP's documents
through `documents`, in one shape for every ERP.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

Encrypt = Callable[[str, str], str]
"""`encrypt(field, plain)`: seals a secret for the tenant being written (`erp.password`)."""


@dataclass(frozen=True)
class SandboxDocument:
    """One document the sandbox ERP holds, in the shape every harness reads.

    `doc_id` is the id the adapter reports (`ErpDocumentRef.doc_id`); `reference` is the
    searchable field our external reference is written to; `debits` / `credits` are the
    journal the ERP derives; `total` is the document's gross (positive); `period` is the
    posting period (`YYYY-MM`) the ERP put it in.
    """

    doc_id: str
    reference: str
    vendor_code: str
    number: str
    debits: Decimal
    credits: Decimal
    total: Decimal
    period: str = ""
    open_amount: Decimal | None = None  # what is left to pay, where the sandbox tracks it

    @property
    def balanced(self) -> bool:
        """Debits equal credits, and equal the document's gross."""
        return self.debits == self.credits == self.total and self.total >= 0


@dataclass(frozen=True)
class SandboxPayment:
    """One payment the sandbox ERP holds (issue 15), in the shape every harness reads.

    `reference` is the searchable field our payment reference is written to; `applied` maps
    each settled document's `doc_id` (as `SandboxDocument.doc_id`) to the amount applied.
    """

    doc_id: str
    reference: str
    vendor_code: str
    total: Decimal
    applied: Mapping[str, Decimal] = field(default_factory=dict)
    cancelled: bool = False


def no_payments(rows: list[dict[str, Any]]) -> list[SandboxPayment]:
    """A sandbox that records no payments."""
    return []


@dataclass(frozen=True)
class SandboxProfile:
    """One ERP sandbox, for the demo and the harnesses.

    Attributes:
        app: `module:function` of the ASGI app factory (`start_sandbox` runs it).
        api_root: the path a person opens to see the API.
        erp_section: `(base_url, encrypt) -> dict`, a tenant file's `erp:` block for the
            seeded integration user of a sandbox at `base_url`.
        mapping: Stampli code -> ERP code tables (`vendors`, `gl_accounts`, `cost_centers`)
            from the seeded company.
        write_match: the fault-rule match (`method`, `path`, ...) of the request posting an
            AP invoice, for `SandboxAdmin.arm_fault`.
        login_match: the same for the login request.
        documents: `/_sandbox/documents` rows -> the AP documents in one shape.
        schedules: tenant `schedules:` the demo sets for this ERP (a PO file where it has POs).
        wrong_password: a password the seeded user does not have (for auth-failure tests).
        payments: `/_sandbox/documents` rows -> the payments it holds (none by default).
        payment_match: the fault-rule match of the request recording a payment.
        clerk_route: for a reconcile-only ERP (the ERP makes payments), the admin route where
            the demo's AP clerk records one (`demo/ap_clerk.py`); empty where there is none.
    """

    app: str
    api_root: str
    erp_section: Callable[[str, Encrypt], dict[str, object]]
    mapping: Mapping[str, Mapping[str, str]]
    write_match: Mapping[str, str]
    login_match: Mapping[str, str]
    documents: Callable[[list[dict[str, Any]]], list[SandboxDocument]]
    schedules: Mapping[str, object] = field(default_factory=dict)
    wrong_password: str = "not-the-password-0"
    payments: Callable[[list[dict[str, Any]]], list[SandboxPayment]] = no_payments
    payment_match: Mapping[str, str] = field(default_factory=dict)
    clerk_route: str = ""
