"""Hostile codes against every connector: a code never leaves its place in the URL (issue 16.11).

A supplier code comes from Stampli (`ErpVendorCode`), where a user controls it. Put into a URL
as it is, `/../Orders(1)#` names another entity. For every registered connector and its
sandbox, `upsert_vendor` and `find_by_external_ref` with a hostile code send only the requests
the same calls send with a plain code (the code itself in its place), and change nothing but
that one supplier; a code with a control character is refused before anything is sent.
"""

import unicodedata
import urllib.parse
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge_pipelines.erps.base import ExternalRef, VendorChange
from bridge_pipelines.erps.values import odata_key, odata_literal, path_segment
from bridge_pipelines.errors import BadInputError, RejectedByErpError
from bridge_pipelines_tests.erps.harness import TENANT, ErpUnderTest

pytestmark = pytest.mark.conformance

PLAIN = "QZPLAIN1"
PLAIN_REF = "BPPLAINREF000000001"
HOSTILE = [
    "/../Orders(1)#",
    "'",
    "''",
    "a'b",
    "') or 1 eq 1",
    "%2F",
    "%2F..%2F",
    "?$filter=",
    "#frag",
    "..",
    "../Login",
    "\\..\\x",
    "Ünïcødé",
    "𝔘𝔫𝔦",
    "a\x00b",
    "a\nb",
    "\r\nX: y",
    "a\u202eb",
    "tab\there",
    "a\u2028b",
]
_CONTROL = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}

codes = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(min_size=1, max_size=15),
    st.text(alphabet="/.?#%'()$=&+\\ ;:@aZ0", min_size=1, max_size=15),
)
HOSTILE_SETTINGS = settings(
    max_examples=max(20, settings.default.max_examples // 8),
    suppress_health_check=[
        *settings.default.suppress_health_check,
        HealthCheck.function_scoped_fixture,
    ],
)


def has_control(code: str) -> bool:
    return any(unicodedata.category(c) in _CONTROL for c in code)


Shape = tuple[str, str, frozenset[str]]


def shape(request: dict[str, Any], code: str | None = None) -> Shape:
    """A logged request as (method, path, query parameter names); `code` written `{code}`."""
    names = frozenset(name for name, _ in urllib.parse.parse_qsl(request["query"] or ""))
    path = request["path"] if code is None else request["path"].replace(code, "{code}")
    return request["method"], path, names


def expected(templates: set[Shape], code: str) -> set[Shape]:
    """The shapes of the plain code's requests with `code` in its place (quotes doubled or not)."""
    return {
        (method, path.replace("{code}", variant), names)
        for method, path, names in templates
        for variant in (code, code.replace("'", "''"))
    }


def sent(request: dict[str, Any]) -> str:
    """A logged request's path and query values, decoded."""
    values = [value for _, value in urllib.parse.parse_qsl(request["query"] or "")]
    return " ".join([request["path"], *values])


def logged(erp: ErpUnderTest, call: Callable[[], object]) -> tuple[object, list[dict[str, Any]]]:
    """What `call()` returned (or raised) and the requests the sandbox logged meanwhile."""
    mark = erp.mark()
    try:
        outcome: object = call()
    except (BadInputError, RejectedByErpError) as exc:
        outcome = exc
    return outcome, erp.requests(mark)


def upsert(erp: ErpUnderTest, code: str) -> Callable[[], object]:
    def upsert() -> object:
        with erp.adapter() as adapter:
            return adapter.upsert_vendor(
                VendorChange(tenant=TENANT, name="Hostile Supplies", code=code, currency="USD")
            )

    return upsert


def find(erp: ErpUnderTest, code: str) -> Callable[[], object]:
    def find() -> object:
        with erp.adapter() as adapter:
            return adapter.find_by_external_ref(ExternalRef(PLAIN_REF, code, code))

    return find


def vendors(erp: ErpUnderTest) -> dict[str, Any]:
    with erp.adapter() as adapter:
        return {v.code: v for v in adapter.read_vendors()}


@pytest.fixture
def plain_shapes(erp: ErpUnderTest) -> set[Shape]:
    """The requests a plain code sends: created, updated and looked up."""
    seen: set[Shape] = set()
    for call in (upsert(erp, PLAIN), upsert(erp, PLAIN), find(erp, PLAIN)):
        _, requests = logged(erp, call)
        seen |= {shape(r, PLAIN) for r in requests}
    return seen


@HOSTILE_SETTINGS
@given(code=codes)
def test_a_hostile_code_stays_in_its_place(
    erp: ErpUnderTest, plain_shapes: set[Shape], code: str
) -> None:
    documents = erp.documents()
    before = vendors(erp)
    for call in (upsert(erp, code), find(erp, code)):
        outcome, requests = logged(erp, call)
        if has_control(code):
            # Refused before anything is sent, or (a lookup that does not use it) never sent.
            assert isinstance(outcome, BadInputError) or call.__name__ == "find", outcome
            assert not any(code in sent(r) for r in requests), requests
            continue
        allowed = expected(plain_shapes, code)
        unexpected = [r for r in requests if shape(r) not in allowed]
        assert unexpected == [], (code, unexpected, plain_shapes)
    assert erp.documents() == documents
    # The one supplier the call names (codes are read back stripped) may change; no other.
    mine = {code, code.strip()}
    after = vendors(erp)
    assert {k: v for k, v in after.items() if k not in mine} == {
        k: v for k, v in before.items() if k not in mine
    }


@pytest.mark.parametrize(
    ("code", "key", "literal"),
    [
        ("V100", "BusinessPartners('V100')", "'V100'"),
        ("/../Orders(1)#", "BusinessPartners('%2F..%2FOrders%281%29%23')", "'/../Orders(1)#'"),
        ("a'b", "BusinessPartners('a''b')", "'a''b'"),
        ("%2F?$filter=", "BusinessPartners('%252F%3F%24filter%3D')", "'%2F?$filter='"),
        ("Ü", "BusinessPartners('%C3%9C')", "'Ü'"),
    ],
)
def test_a_code_is_escaped_for_a_path_and_quoted_for_a_filter(
    code: str, key: str, literal: str
) -> None:
    assert odata_key("BusinessPartners", code, "supplier code") == key
    assert odata_literal(code, "supplier code") == literal
    assert "/" not in path_segment(code, "supplier code")


@pytest.mark.parametrize("code", ["", "a\x00", "a\nb", "\x7f", "a\u202eb", "a\u2028b"])
def test_a_code_with_a_control_character_is_refused(code: str) -> None:
    for escape in (path_segment, odata_literal):
        with pytest.raises(BadInputError, match="supplier code"):
            escape(code, "supplier code")
