"""SAP B1 integration tests: the sandbox's calendar takes `helpers.invoice()`'s fixed month."""

import pytest

from bridge_pipelines_tests.integration.erps.sap_b1.helpers import INVOICE_PERIOD


@pytest.fixture(autouse=True)
def _invoice_period_open(request: pytest.FixtureRequest) -> None:
    """Open May 2026 (the month of `invoice()`'s dates) on a test's freshly reset sandbox."""
    if "sapb1_sandbox" in request.fixturenames:
        request.getfixturevalue("sapb1_sandbox").admin.set_period(INVOICE_PERIOD, "open")
