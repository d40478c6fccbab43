"""`read_posted_documents`: every AP invoice with our reference, read back for `bridge verify`."""

from datetime import date, timedelta

import pytest

from bridge_pipelines.erps.base import DocumentType
from bridge_pipelines.erps.syspro import adapter as syspro_adapter
from bridge_pipelines_tests.integration.erps.syspro.helpers import adapter_for, invoice

REFS = ("BP0000000000000000A1", "BP0000000000000000A2", "BP0000000000000000A3")


def _post_three(sandbox) -> None:
    with adapter_for(sandbox) as adapter:
        adapter.post_invoice(invoice("INV-1", ref=REFS[0]))
        adapter.post_invoice(invoice("INV-2", vendor="SUP00002", ref=REFS[1]))
        adapter.post_invoice(
            invoice("CM-1", ref=REFS[2], total="-115.00", tax="-15.00",
                    document_type=DocumentType.CREDIT_MEMO)
        )  # fmt: skip
        adapter.post_invoice(invoice("INV-9", ref="PO-4711"))  # someone else's reference


def test_lists_ours_through_odata_paged_with_totals_and_no_session(syspro_sandbox):
    _post_three(syspro_sandbox)
    syspro_sandbox.admin.configure(odata_page_size=1)
    since = max(r["id"] for r in syspro_sandbox.admin.requests())
    with adapter_for(syspro_sandbox) as adapter:
        docs = sorted(adapter.read_posted_documents(), key=lambda d: d.external_ref or "")
        today = docs[0].document_date
        assert today is not None
        assert list(adapter.read_posted_documents(since=today + timedelta(days=1))) == []
        assert len(list(adapter.read_posted_documents(since=today))) == 3
    assert [(d.doc_id, d.external_ref, str(d.total)) for d in docs] == [
        ("SUP00001/INV-1", REFS[0], "1150.00"),
        ("SUP00002/INV-2", REFS[1], "1150.00"),
        ("SUP00001/CM-1", REFS[2], "-115.00"),
    ]
    assert all(d.debit_total is None and d.credit_total is None for d in docs)
    paths = [r["path"] for r in syspro_sandbox.admin.requests(since=since)]
    assert paths.count("/SYSPRO8Odata/SYSPROOData/ApInvoice") >= 4  # one row a page
    assert not any("Logon" in p for p in paths)


def test_falls_back_to_comfnd_paged_by_key(syspro_sandbox, monkeypatch: pytest.MonkeyPatch):
    _post_three(syspro_sandbox)
    monkeypatch.setattr(syspro_adapter, "POSTED_PAGE_ROWS", 1)
    # A service whose OData has no ApInvoice: the adapter's own OData root points elsewhere.
    with adapter_for(syspro_sandbox, odata_url=syspro_sandbox.base_url + "/nothing") as adapter:
        docs = list(adapter.read_posted_documents())
        later = list(adapter.read_posted_documents(since=date(2999, 1, 1)))
    assert sorted(d.doc_id for d in docs) == ["SUP00001/CM-1", "SUP00001/INV-1", "SUP00002/INV-2"]
    assert later == []
    queries = [r for r in syspro_sandbox.admin.requests() if r["path"].endswith("/Query/Query")]
    assert len(queries) >= 4  # one row a page, each page after the last key seen
