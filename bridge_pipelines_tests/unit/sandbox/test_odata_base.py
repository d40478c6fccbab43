"""The shared OData base: options, ETags, $batch parsing and CSDL, without a server."""

from xml.etree import ElementTree as ET

import pytest

from bridge_pipelines.sandbox.erp_base.odata import batch, csdl, etag, filter, options
from bridge_pipelines.sandbox.erp_base.odata.model import (
    EDM_DECIMAL,
    ComplexType,
    EntitySetDef,
    EntityType,
    Prop,
    ServiceModel,
)

LINE = ComplexType("Line", (Prop("LineNum", "Edm.Int32"), Prop("Amount", EDM_DECIMAL)))
ORDER = EntityType(
    "Order",
    ("Id",),
    (Prop("Id", "Edm.Int32", nullable=False, computed=True), Prop("Vendor"), Prop("Total")),
    collections={"Lines": LINE},
)
MODEL = ServiceModel("Acme", "Container", (EntitySetDef("Orders", ORDER, insertable=True),))
SUPPORTED = {"$filter", "$select", "$orderby", "$top", "$skip", "$count", "$expand"}


def test_options_parse_select_orderby_paging_and_count():
    parsed = options.parse_options(
        {"$select": "Id,Lines", "$orderby": "Vendor desc, Id", "$top": "5", "$skip": "10",
         "$count": "true", "$expand": "Lines", "$filter": "Id gt 1"},
        ORDER, SUPPORTED,
    )  # fmt: skip
    assert parsed.select == ("Id", "Lines")
    assert parsed.orderby == (options.OrderKey("Vendor", True), options.OrderKey("Id", False))
    assert (parsed.top, parsed.skip, parsed.count, parsed.expand) == (5, 10, True, ("Lines",))
    assert parsed.filter == "Id gt 1"


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"$search": "x"}, options.UnsupportedOption),
        ({"$select": "Colour"}, options.OptionError),
        ({"$orderby": "Vendor sideways"}, options.OptionError),
        ({"$orderby": "Lines"}, options.OptionError),
        ({"$top": "-1"}, options.OptionError),
        ({"$expand": "Supplier"}, options.OptionError),
        ({"$count": "maybe"}, options.OptionError),
    ],
)
def test_options_refuse_rather_than_ignore(params, error):
    with pytest.raises(error):
        options.parse_options(params, ORDER, SUPPORTED)


def test_filter_compiles_to_bound_parameters_over_a_whitelist():
    compiled = filter.compile_filter(
        "Vendor eq 'O''Neil' and (Total gt 5 or startswith(Vendor,'A'))",
        {"Vendor", "Total"}, column=lambda name: f"t.{name}",
    )  # fmt: skip
    assert compiled.sql == "(t.Vendor = ? AND (t.Total > ? OR substr(t.Vendor, 1, length(?)) = ?))"
    assert compiled.params == ["O'Neil", 5, "A", "A"]
    with pytest.raises(filter.FilterError):
        filter.compile_filter("Password eq 'x'", {"Vendor"})


def test_etag_changes_with_state_and_if_match_rules():
    tag = etag.etag_of({"a": 1})
    assert tag.startswith('W/"') and tag != etag.etag_of({"a": 2})
    assert not etag.if_match_fails(None, tag)
    assert not etag.if_match_fails("*", tag)
    assert not etag.if_match_fails(f'W/"x", {tag}', tag)
    assert etag.if_match_fails('W/"stale"', tag)
    assert not etag.if_match_fails('"strong"', tag, weak_only=True)
    assert etag.if_match_fails('"strong"', tag)


def test_batch_round_trip_with_a_changeset():
    body = (
        "--b\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n"
        "--c\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
        "Content-ID: 1\r\n\r\nPOST Orders HTTP/1.1\r\nContent-Type: application/json\r\n\r\n"
        '{"Vendor": "A"}\r\n--c--\r\n'
        "--b\r\nContent-Type: application/http\r\n\r\nGET Orders(1) HTTP/1.1\r\n\r\n\r\n--b--\r\n"
    )
    parts = batch.parse_batch(body.encode(), "multipart/mixed; boundary=b")
    assert [p.changeset for p in parts] == [True, False]
    posted = parts[0].requests[0]
    assert (posted.method, posted.url, posted.content_id) == ("POST", "Orders", "1")
    assert posted.headers["content-type"] == "application/json"
    assert posted.body == b'{"Vendor": "A"}'
    assert (parts[1].requests[0].method, parts[1].requests[0].body) == ("GET", b"")
    out, content_type = batch.render_batch(
        [(True, [batch.BatchResponse(201, [("Content-Type", "application/json")], b"{}", "1")]),
         (False, [batch.BatchResponse(404)])]
    )  # fmt: skip
    assert content_type.startswith("multipart/mixed; boundary=batchresponse_")
    assert b"HTTP/1.1 201 Created" in out and b"HTTP/1.1 404 Not Found" in out
    assert b"Content-ID: 1" in out


GET_IN_CHANGESET = (
    b"--b\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n--c\r\nContent-Type: "
    b"application/http\r\n\r\nGET Orders HTTP/1.1\r\n\r\n--c--\r\n--b--"
)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"{}", "application/json"),
        (b"no parts", "multipart/mixed; boundary=b"),
        (GET_IN_CHANGESET, "multipart/mixed; boundary=b"),
    ],
)
def test_batch_refuses_what_is_not_a_batch(body, content_type):
    with pytest.raises(batch.BatchFormatError):
        batch.parse_batch(body, content_type)


def test_csdl_v4_and_v3_from_one_model():
    edm = "{http://docs.oasis-open.org/odata/ns/edm}"
    v4 = ET.fromstring(csdl.metadata_document(MODEL))
    order = v4.find(f".//{edm}EntityType[@Name='Order']")
    assert order is not None
    props = {p.get("Name"): p.get("Type") for p in order.findall(f"{edm}Property")}
    assert props["Lines"] == "Collection(Acme.Line)" and props["Id"] == "Edm.Int32"
    assert v4.find(f".//{edm}ComplexType[@Name='Line']") is not None
    v3 = ET.fromstring(csdl.metadata_document(MODEL, "3.0"))
    assert v3.get("Version") == "1.0"
    document = csdl.service_document(MODEL, "http://h/svc/")
    assert document["@odata.context"] == "http://h/svc/$metadata"
    assert document["value"] == [{"name": "Orders", "kind": "EntitySet", "url": "Orders"}]
