"""OData `ApInvoice`: posted AP invoices, listed by our reference prefix, no e.net session."""

import pytest

from bridge_pipelines_tests.contract.syspro import payloads

pytestmark = pytest.mark.contract


def test_syspro_odata_lists_posted_invoices_by_reference_prefix(syspro_sandbox):
    user_id = syspro_sandbox.logon()
    syspro_sandbox.post(user_id, payloads.ap_invoice(invoice="INV-1", reference="BPAAAA"))
    syspro_sandbox.post(user_id, payloads.ap_invoice(invoice="INV-2", reference="OTHER-1"))
    syspro_sandbox.post(user_id, payloads.ap_invoice(invoice="INV-3", reference="BPBBBB", code="C"))
    response = syspro_sandbox.odata(
        "ApInvoice",
        **{
            "$filter": "startswith(Reference,'BP')",
            "$select": "Supplier,Invoice,Reference,OrigInvValue",
        },
    )
    assert response.status_code == 200, response.text
    # Amounts are JSON numbers written from their exact text (a credit note is negative).
    assert '"OrigInvValue":1150.00' in response.text
    assert response.json()["value"] == [
        {"Supplier": "SUP00001", "Invoice": "INV-1", "Reference": "BPAAAA", "OrigInvValue": 1150.0},
        {
            "Supplier": "SUP00001",
            "Invoice": "INV-3",
            "Reference": "BPBBBB",
            "OrigInvValue": -1150.0,
        },
    ]
    # Read-only like every entity set, and basic auth as for the others.
    assert syspro_sandbox.odata("ApInvoice", auth=("CLERK", "Clerk#Demo1")).status_code == 401
