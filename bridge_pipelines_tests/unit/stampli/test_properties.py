"""Properties: no input crashes the parser, and every refused row is located and counted."""

import contextlib

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bridge_pipelines.errors import FileRejectedError
from bridge_pipelines.stampli.invoices import FIELDS
from bridge_pipelines.stampli.parse import ParseResult, parse_export
from bridge_pipelines.tenants.models import FILE_KINDS, FileKind
from bridge_pipelines_tests.support.stampli_builders import invoice_rows, to_csv

NAME = "approved_invoices_20261121_141500.csv"
HEADER = [f.column for f in FIELDS]
FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

cells = st.one_of(
    st.text(alphabet=st.sampled_from('0123456789.,-"\n\r eE+ABCé東\t'), max_size=12),
    st.sampled_from(["", "1.00", "-1.00", "2026-11-20", "Invoice", "CreditMemo", "USD", "1"]),
    st.text(max_size=8),
)


def check_located(result: ParseResult, columns: set[str]) -> None:
    assert result.rows_total == result.rows_accepted + result.rows_rejected
    for error in result.errors:
        assert error.source == NAME
        assert error.row is not None and 1 <= error.row <= max(result.rows_total, 1)
        assert error.field is None or error.field in columns
        assert str(error).startswith(f"{NAME} row {error.row}")


def parse_or_reject(kind: FileKind, data: bytes) -> ParseResult | None:
    try:
        return parse_export(kind, data, source=NAME)
    except FileRejectedError as exc:
        assert str(exc).startswith(NAME)
        return None


@FAST
@given(st.binary(max_size=400), st.sampled_from(FILE_KINDS))
@example(b'"\n', "invoices")
@example(b"\xef\xbb\xbf<", "invoices")
@example(b"a\n\n\n", "gl_accounts")
def test_random_bytes_never_crash(data: bytes, kind: FileKind) -> None:
    parse_or_reject(kind, data)


@FAST
@given(st.binary(max_size=200))
def test_random_bytes_after_a_valid_header_never_crash(tail: bytes) -> None:
    result = parse_or_reject("invoices", ",".join(HEADER).encode() + b"\n" + tail)
    if result is not None:
        check_located(result, set(HEADER))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.fixed_dictionaries({c: cells for c in ("LineAmount", "Currency", "InvoiceDate")})
        | st.fixed_dictionaries({c: cells for c in ("LineNumber", "TaxAmount", "DocumentType")}),
        min_size=1,
        max_size=6,
    ),
    st.booleans(),
)
def test_csv_with_random_cells_is_fully_accounted(edits: list[dict[str, str]], crlf: bool) -> None:
    base = invoice_rows()
    rows = [dict(base[i % len(base)], **edit) for i, edit in enumerate(edits)]
    result = parse_or_reject("invoices", to_csv(rows, HEADER, crlf=crlf))
    if result is not None:
        check_located(result, set(HEADER))
        accepted = set(result.frame.get_column("invoice_id").to_list())
        assert not accepted & {e.document.split()[-1] for e in result.errors if e.document}


@FAST
@given(st.text(alphabet=st.sampled_from('<>/="& ?!abcDOCTYPEInvoice\n'), max_size=120))
def test_xmlish_text_never_crashes(text: str) -> None:
    with contextlib.suppress(FileRejectedError):
        parse_export("invoices", ("<" + text).encode(), source="approved_invoices_1.xml")
