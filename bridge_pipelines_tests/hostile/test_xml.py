"""Hostile XML: bombs, external entities, DTDs, XInclude, arbitrary and mutated exports.

Every parse runs with two traps armed: a FIFO standing in for a local file (any attempt to open
it, from Python or from libxml2's C code, unblocks its writer and is recorded) and a TCP
listener standing in for the network (any connection is recorded). Properties: nothing is read,
nothing is fetched, memory and time stay bounded, and every document carrying a DTD, an entity
or an XInclude is refused with a message that names the file and says why.
"""

import contextlib
import os
import re
import resource
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import example, given, note
from hypothesis import strategies as st
from lxml import etree

from bridge_pipelines.errors import FileRejectedError
from bridge_pipelines.stampli.parse import ParseResult, parse_export
from bridge_pipelines.stampli.xml_reader import DISPLAY
from bridge_pipelines_tests.hostile.strategies import Export, byte_mutations, exports
from bridge_pipelines_tests.support.stampli_builders import INVOICES_XML, fixture

NAME = "approved_invoices_20261121_141500.xml"
SENTINEL = "SENTINEL-7f3c9e-FILE-CONTENT"
# Per parse of an attack: refusals take milliseconds, an expanding bomb would take far longer.
# Ordinary documents get no time limit: on a shared CI machine a 10 ms parse can stall.
ATTACK_SECONDS = 5.0
MAX_RSS_GROWTH_KB = 200 * 1024  # one billion-laughs expansion would be gigabytes
XML_COLUMNS = set(DISPLAY.values())
_INVALID_XML_CHAR = re.compile(
    "[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)


@dataclass
class Traps:
    """A FIFO that records being opened, a listener that records connections."""

    fifo: Path
    regular: Path
    port: int
    opened: threading.Event = field(default_factory=threading.Event)
    connected: threading.Event = field(default_factory=threading.Event)
    closing: threading.Event = field(default_factory=threading.Event)

    def check(self) -> None:
        assert not self.opened.is_set(), "the parser opened a local file"
        assert not self.connected.is_set(), "the parser opened a network connection"

    def urls(self) -> list[str]:
        return [
            f"file://{self.fifo}",
            str(self.fifo),
            f"file://{self.regular}",
            f"http://127.0.0.1:{self.port}/evil.dtd",
            f"ftp://127.0.0.1:{self.port}/evil",
        ]


def _fifo_writer(traps: Traps) -> None:
    fd = os.open(traps.fifo, os.O_WRONLY)  # blocks until someone opens the FIFO to read
    try:
        if traps.closing.is_set():
            return  # the fixture releasing us
        traps.opened.set()
        with contextlib.suppress(OSError):  # the reader may give up before we write
            os.write(fd, SENTINEL.encode())
    finally:
        os.close(fd)


def _listener(server: socket.socket, traps: Traps) -> None:
    while not traps.closing.is_set():
        try:
            conn, _ = server.accept()
        except OSError:
            return
        if not traps.closing.is_set():
            traps.connected.set()
        conn.close()


@contextlib.contextmanager
def armed_traps(folder: Path) -> Iterator[Traps]:
    fifo = folder / "secret.fifo"
    os.mkfifo(fifo)
    regular = folder / "secret.txt"
    regular.write_text(SENTINEL)
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    found = Traps(fifo=fifo, regular=regular, port=server.getsockname()[1])
    writer = threading.Thread(target=_fifo_writer, args=(found,), daemon=True)
    listener = threading.Thread(target=_listener, args=(server, found), daemon=True)
    writer.start()
    listener.start()
    try:
        yield found
    finally:
        found.closing.set()
        # Release the writer (blocked in open) and the listener (blocked in accept).
        with contextlib.suppress(OSError):
            os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
        writer.join(timeout=5)
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", found.port), 2):
            pass
        server.close()
        listener.join(timeout=5)


@pytest.fixture(scope="module")
def traps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Traps]:
    with armed_traps(tmp_path_factory.mktemp("xml-traps")) as found:
        yield found


def test_the_traps_catch_reads_and_connections(tmp_path: Path) -> None:
    """The traps themselves work (so a pass means something).

    An unsafe lxml parser trips the FIFO. This lxml's libxml2 has no HTTP client at all, so
    the listener is shown to work with a plain connection instead.
    """
    unsafe = etree.XMLParser(resolve_entities=True, load_dtd=True, no_network=False)
    with armed_traps(tmp_path) as found:
        data = f'<!DOCTYPE x [<!ENTITY e SYSTEM "file://{found.fifo}">]><x>&e;</x>'.encode()
        assert etree.fromstring(data, parser=unsafe).text == SENTINEL
        with socket.create_connection(("127.0.0.1", found.port), timeout=2):
            pass
        deadline = time.monotonic() + 5
        while not (found.opened.is_set() and found.connected.is_set()):
            assert time.monotonic() < deadline, "the traps missed a read or a connection"
            time.sleep(0.01)


def parse_trapped(
    data: bytes, traps: Traps, *, seconds: float | None = None
) -> tuple[ParseResult | None, str]:
    """Parse under the traps; the result (None when refused whole) and the refusal message."""
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    result: ParseResult | None = None
    message = ""
    try:
        result = parse_export("invoices", data, source=NAME)
    except FileRejectedError as exc:
        message = str(exc)
        assert message.startswith(f"{NAME}: "), message
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # a Rust panic in polars is a BaseException
        raise AssertionError(f"parser raised {type(exc).__name__}: {exc}") from exc
    elapsed = time.monotonic() - started
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
    traps.check()
    assert seconds is None or elapsed < seconds, f"parse took {elapsed:.1f} s"
    assert grown < MAX_RSS_GROWTH_KB, f"peak memory grew by {grown // 1024} MB"
    assert SENTINEL not in message
    if result is not None:
        assert SENTINEL not in result.frame.write_csv()
        check_accounted(result)
    return result, message


def check_accounted(result: ParseResult) -> None:
    assert result.rows_total == result.rows_accepted + result.rows_rejected
    for error in result.errors:
        assert error.source == NAME
        assert error.row is not None and 1 <= error.row <= result.rows_total, error
        assert error.field is None or error.field in XML_COLUMNS, error
        assert "internal check failed" not in error.message, str(error)
    for document in result.documents:
        payload = document.payload
        lines = sum((Decimal(line["line_amount"]) for line in payload["lines"]), Decimal(0))
        assert lines + Decimal(payload["tax_amount"]) == Decimal(payload["invoice_total"])
        assert document.amount == Decimal(payload["invoice_total"])


# --- attacks --------------------------------------------------------------------------------

BILLION_LAUGHS = (
    '<!DOCTYPE StampliExport [<!ENTITY l0 "lol">'
    + "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    + "]>"
)
QUADRATIC = f'<!DOCTYPE StampliExport [<!ENTITY a "{"a" * 50_000}">]>'


def doctypes(traps: Traps) -> st.SearchStrategy[str]:
    url = st.sampled_from(traps.urls())
    keyword = st.sampled_from(["DOCTYPE", "doctype", "DocType"])
    return st.one_of(
        st.just(BILLION_LAUGHS),
        st.just(QUADRATIC),
        st.builds(lambda k, u: f'<!{k} StampliExport SYSTEM "{u}">', keyword, url),
        st.builds(lambda k, u: f'<!{k} StampliExport PUBLIC "-//X//EN" "{u}">', keyword, url),
        st.builds(lambda k, u: f'<!{k} x [<!ENTITY e SYSTEM "{u}">]>', keyword, url),
        st.builds(lambda k, u: f'<!{k} x [<!ENTITY % p SYSTEM "{u}"> %p;]>', keyword, url),
        st.builds(lambda u: f'<!ENTITY e SYSTEM "{u}">', url),
        st.builds(lambda k: f"<!{k} StampliExport []>", keyword),
    )


def entity_references() -> st.SearchStrategy[str]:
    return st.sampled_from(["&e;", "&l9;", "&a;" * 200, "&p;", "&undefined;", "&#0;", "&#x1;"])


def xincludes(traps: Traps) -> st.SearchStrategy[str]:
    return st.builds(
        lambda u, parse: (
            f'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="{u}" parse="{parse}"/>'
        ),
        st.sampled_from(traps.urls()),
        st.sampled_from(["xml", "text"]),
    )


prolog_items = st.lists(
    st.sampled_from(
        [
            "\n",
            "  ",
            "<!-- a comment -->",
            "<!-- <!DOCTYPE x> in a comment -->",
            "<?pi data?>",
            '<?xml-stylesheet href="x.xsl"?>',
        ]
    ),
    max_size=3,
)
declarations = st.sampled_from(
    [
        "",
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<?xml version="1.0"?>',
        '<?xml version="1.0" encoding="ISO-8859-1"?>',
        '<?xml version="1.0" encoding="UTF-16"?>',
        '<?xml version="1.1"?>',
    ]
)


def insert_points(body: str) -> list[int]:
    """Positions right after a start tag or before an end tag: where an element can go."""
    return [m.end() for m in re.finditer(r"<(?!/|\?|!)[^>]*?(?<!/)>", body)] + [
        m.start() for m in re.finditer(r"</", body)
    ]


BODY = fixture(INVOICES_XML).decode("utf-8").split("?>", 1)[1].lstrip()
POINTS = insert_points(BODY)


@st.composite
def attacks(draw: st.DrawFn, traps: Traps) -> tuple[bytes, str]:
    """A fixture export carrying one or more of: a DTD, entity references, XInclude elements."""
    kinds = draw(st.sets(st.sampled_from(["doctype", "entity", "xinclude"]), min_size=1))
    body = BODY
    for _ in range(draw(st.integers(1, 3)) if "entity" in kinds else 0):
        where = draw(st.sampled_from(POINTS))
        body = body[:where] + draw(entity_references()) + body[where:]
    if "entity" in kinds and draw(st.booleans()):
        body = body.replace('id="STI-1001"', 'id="&e;"', 1)
    for _ in range(draw(st.integers(1, 3)) if "xinclude" in kinds else 0):
        points = insert_points(body)
        where = draw(st.sampled_from(points))
        body = body[:where] + draw(xincludes(traps)) + body[where:]
    parts = [draw(declarations), *draw(prolog_items)]
    if "doctype" in kinds:
        parts.append(draw(doctypes(traps)))
    parts.extend(draw(prolog_items))
    text = "".join(parts) + body
    data = text.encode("utf-8")
    if draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data
    return data, ",".join(sorted(kinds))


REFUSAL = re.compile(r"DOCTYPE|entity|unknown element|malformed XML|not UTF-8|binary content")


@given(st.data())
def test_attacks_are_refused_without_reading_or_fetching(traps: Traps, data: st.DataObject) -> None:
    attack, kinds = data.draw(attacks(traps))
    note(kinds)
    result, message = parse_trapped(attack, traps, seconds=ATTACK_SECONDS)
    assert result is None, f"an export with {kinds} was accepted"
    assert REFUSAL.search(message), message


@pytest.mark.parametrize(
    "doctype", [BILLION_LAUGHS, QUADRATIC], ids=["billion-laughs", "quadratic-blowup"]
)
@pytest.mark.parametrize("where", ["prolog", "after-comment", "after-bom"])
def test_entity_bombs_are_refused_fast(traps: Traps, doctype: str, where: str) -> None:
    prolog = {
        "prolog": "",
        "after-comment": "<!-- x -->\n",
        "after-bom": '\ufeff<?xml version="1.0"?>\n',
    }[where]
    body = BODY.replace("Returned capacitors", "&l9;&a;" * 100)
    result, message = parse_trapped(
        (prolog + doctype + body).encode("utf-8"), traps, seconds=ATTACK_SECONDS
    )
    assert result is None
    assert "DOCTYPE" in message or "malformed XML" in message, message


def test_doctype_slipping_past_the_prolog_scan_still_cannot_expand(traps: Traps) -> None:
    """A DOCTYPE the prolog scan does not see (after a broken comment) meets the parser."""
    data = ('<!-- broken -- comment --> <!DOCTYPE x [<!ENTITY e "x">]>' + BODY).encode()
    result, message = parse_trapped(data, traps, seconds=ATTACK_SECONDS)
    assert result is None and message


@pytest.mark.parametrize(
    "value", ["10<b/>00", '10<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="x"/>00']
)
def test_markup_inside_a_value_is_refused_not_truncated(traps: Traps, value: str) -> None:
    data = fixture(INVOICES_XML).replace(
        b"<Amount>1000.00</Amount>", f"<Amount>{value}</Amount>".encode()
    )
    result, message = parse_trapped(data, traps)
    assert result is None
    assert "<Amount>" in message and "text only" in message


def test_attribute_on_a_value_is_refused(traps: Traps) -> None:
    data = fixture(INVOICES_XML).replace(
        b"<Total>1140.00</Total>", b'<Total currency="EUR">1140.00</Total>'
    )
    result, message = parse_trapped(data, traps)
    assert result is None and "'currency'" in message


@given(st.binary(max_size=1000))
@example(b"<")
@example(b"\xef\xbb\xbf<StampliExport/>")
@example(b"<StampliExport><Invoice/></StampliExport>")
def test_arbitrary_bytes(traps: Traps, data: bytes) -> None:
    parse_trapped(b"<" + data, traps)


@given(st.data())
def test_byte_mutated_exports(traps: Traps, data: st.DataObject) -> None:
    parse_trapped(data.draw(byte_mutations(fixture(INVOICES_XML))), traps)


# --- structured: generated invoices written as XML ------------------------------------------


def _clean(text: str) -> str:
    return _INVALID_XML_CHAR.sub("?", text)


def to_xml(export: Export) -> bytes:
    root = etree.Element("StampliExport", kind="ApprovedInvoices")
    for invoice in export.invoices:
        h = invoice.header
        element = etree.SubElement(
            root,
            "Invoice",
            id=_clean(h["InvoiceId"]),
            number=_clean(h["InvoiceNumber"]),
            type=_clean(h["DocumentType"]),
        )
        etree.SubElement(element, "Vendor", id=_clean(h["VendorId"]), name=_clean(h["VendorName"]))
        for tag, column in (
            ("InvoiceDate", "InvoiceDate"),
            ("DueDate", "DueDate"),
            ("PostingDate", "PostingDate"),
            ("Currency", "Currency"),
            ("Total", "InvoiceTotal"),
            ("Tax", "TaxAmount"),
            ("PONumber", "PONumber"),
        ):
            etree.SubElement(element, tag).text = _clean(h[column])
        etree.SubElement(
            element, "Approval", by=_clean(h["ApprovedBy"]), at=_clean(h["ApprovedAt"])
        )
        lines = etree.SubElement(element, "Lines")
        for cells in invoice.lines:
            line = etree.SubElement(
                lines,
                "Line",
                number=_clean(cells["LineNumber"]),
                glAccount=_clean(cells["GLAccount"]),
                costCenter=_clean(cells["CostCenter"]),
            )
            etree.SubElement(line, "Description").text = _clean(cells["LineDescription"])
            etree.SubElement(line, "Amount").text = _clean(cells["LineAmount"])
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


@given(exports())
def test_generated_exports_as_xml_good_invoices_flow(traps: Traps, export: Export) -> None:
    result, message = parse_trapped(to_xml(export), traps)
    assert result is not None, message
    documents = {d.payload["invoice_id"]: d for d in result.documents}
    for index, invoice in enumerate(export.invoices, start=1):
        if not invoice.good:
            continue
        errors = [str(e) for e in result.errors if e.row == index]
        assert invoice.invoice_id in documents, f"{invoice.invoice_id} refused: {errors}"
        document = documents[invoice.invoice_id]
        assert document.rows == (index,)
        assert document.amount == Decimal(invoice.total_cents) / 100
        assert Decimal(document.payload["tax_amount"]) == Decimal(invoice.tax_cents) / 100
