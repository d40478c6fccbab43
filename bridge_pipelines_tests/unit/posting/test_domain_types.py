"""ERP domain values refuse floats, naive datetimes and unbalanced invoices before any ERP call."""

from dataclasses import FrozenInstanceError
from datetime import date, datetime
from decimal import Decimal

import pytest

from bridge_pipelines.erps import registry
from bridge_pipelines.erps.base import (
    DimensionType,
    DocumentType,
    ErpAdapter,
    ErpPayment,
    ErpVendor,
    PostableInvoice,
    PostableInvoiceLine,
    SourceLineage,
)
from bridge_pipelines.erps.plugin import ErpPlugin
from bridge_pipelines.erps.settings import ErpSettings
from bridge_pipelines.errors import BadInputError, ConfigError, NotSupportedError
from bridge_pipelines_tests.support.fake_erp import FakeErp


def invoice(total: str = "110.00", tax: str = "10.00", *amounts: str) -> PostableInvoice:
    lines = tuple(PostableInvoiceLine("5000", Decimal(a)) for a in (amounts or ("100.00",)))
    return PostableInvoice(
        tenant="acme",
        external_ref="BP0000000000000000AA",
        record_id=1,
        vendor_code="0000001",
        invoice_number="INV-1",
        document_type="CreditMemo",  # type: ignore[arg-type]
        invoice_date=date(2025, 3, 1),
        due_date=None,
        posting_date=date(2025, 3, 1),
        currency="USD",
        total=Decimal(total),
        tax=Decimal(tax),
        lines=lines,
        lineage=SourceLineage("a.csv", (2, 3)),
    )


def test_a_balanced_invoice_is_frozen_and_typed() -> None:
    inv = invoice("110.00", "10.00", "60.00", "40.00")
    assert inv.document_type is DocumentType.CREDIT_MEMO
    assert inv.ref.value == "BP0000000000000000AA" and inv.ref.document_number == "INV-1"
    with pytest.raises(FrozenInstanceError):
        inv.total = Decimal(0)  # type: ignore[misc]


def test_an_unbalanced_invoice_is_refused() -> None:
    with pytest.raises(BadInputError, match="!= total"):
        invoice("110.01", "10.00", "100.00")


def test_floats_and_naive_datetimes_are_refused() -> None:
    with pytest.raises(TypeError):
        PostableInvoiceLine("5000", 100.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ErpPayment("P1", "V", "INV", 1.5, "USD", date(2025, 1, 1))  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ErpVendor("V", "Vendor", updated_at=datetime(2025, 1, 1))


def test_line_dimensions_are_plain_and_read_only() -> None:
    line = PostableInvoiceLine("5000", Decimal(1), dimensions={DimensionType.COST_CENTER: "CC1"})
    assert dict(line.dimensions) == {"cost_center": "CC1"}
    with pytest.raises(TypeError):
        line.dimensions["project"] = "P1"  # type: ignore[index]


def test_optional_capabilities_say_not_supported_and_the_adapter_closes() -> None:
    with FakeErp() as erp:
        assert isinstance(erp, ErpAdapter)
        with pytest.raises(NotSupportedError):
            list(erp.read_open_pos())
        with pytest.raises(NotSupportedError):
            list(erp.read_payments(datetime.fromisoformat("2025-01-01T00:00:00+00:00")))
    assert erp.closed


def _fake_factory(settings: object, *args: object, **kw: object) -> FakeErp:
    return FakeErp()


def test_the_registry_names_unknown_kinds_and_builds_registered_ones() -> None:
    with pytest.raises(ConfigError, match="no ERP adapter for kind 'nope'"):
        registry.adapter_factory("nope")
    registry.register(
        ErpPlugin(
            kind="fake",
            display_name="Fake",
            settings_model=ErpSettings,
            adapter_factory=f"{__name__}:_fake_factory",
        )
    )
    try:
        assert "fake" in registry.kinds()
        assert isinstance(registry.adapter_factory("fake")(None), FakeErp)
    finally:
        registry.unregister("fake")
    assert "fake" not in registry.kinds()
