"""Hardened XML parsing: no DTD, no entities, no network, no huge trees.

A Stampli XML export never needs a DTD, so any DOCTYPE is refused before the parser sees the
bytes (scanning the prolog: XML declaration, comments, processing instructions, whitespace).
The parser is configured so that even a DOCTYPE that slipped through could not expand an entity,
load a file or reach the network; after parsing, any DTD or entity node left in the tree is
refused too. Exports are read incrementally (`iterparse_safely`) with the same parser options
spelled out, never with `iterparse`'s own, weaker, defaults; `parse_safely` builds a whole tree
for small documents.
"""

import io
import re
from collections.abc import Iterator
from typing import Any

from lxml import etree

from bridge_pipelines.errors import FileRejectedError
from bridge_pipelines.stampli.encoding import BOM, require_utf8

_PROLOG_ITEM = re.compile(rb"\s+|<\?.*?\?>|<!--.*?-->", re.DOTALL)


def reject_doctype(data: bytes, source: str) -> None:
    """Refuse a DOCTYPE (and with it every entity declaration) found in the prolog.

    Raises:
        FileRejectedError: the prolog holds `<!DOCTYPE` or `<!ENTITY`.
    """
    position = len(BOM) if data.startswith(BOM) else 0
    while True:
        match = _PROLOG_ITEM.match(data, position)
        if match is None or match.end() == position:
            break
        position = match.end()
    rest = data[position : position + 9].upper()
    if rest.startswith((b"<!DOCTYPE", b"<!ENTITY")):
        raise FileRejectedError(
            f"{source}: XML with a DOCTYPE is refused (byte offset {position}); Stampli exports "
            "carry no DTD, and DTDs are how entity expansion and external entities get in"
        )


_OPTIONS: dict[str, Any] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "huge_tree": False,
    "dtd_validation": False,
    "remove_comments": True,
    "remove_pis": True,
}


def safe_parser() -> etree.XMLParser:
    """The one parser configuration used for Stampli XML."""
    return etree.XMLParser(**_OPTIONS)


def iterparse_safely(data: bytes, source: str) -> Iterator[tuple[str, Any]]:
    """`(event, element)` for each start and end of an element, refusing what `parse_safely` does.

    The caller clears what it has read (`element.clear()` and the siblings before it), so memory
    stays near one element's size whatever the file's. An entity node is refused as it ends.

    Raises:
        FileRejectedError: not UTF-8, a DOCTYPE or entity, or not well-formed.
    """
    require_utf8(data, source)
    reject_doctype(data, source)
    events = etree.iterparse(io.BytesIO(data), events=("start", "end"), **_OPTIONS)
    try:
        for event, element in events:
            if event == "start" and element.getparent() is None:
                docinfo: Any = element.getroottree().docinfo
                if docinfo.doctype or docinfo.internalDTD is not None:
                    raise FileRejectedError(f"{source}: XML with a DOCTYPE is refused")
            if event == "end":
                for node in element.iterchildren(etree.Entity):
                    raise FileRejectedError(
                        f"{source}: XML entity reference {node.text!r} at line "
                        f"{node.sourceline} is refused"
                    )
            yield event, element
    except etree.XMLSyntaxError as exc:
        line = f" at line {exc.lineno}" if exc.lineno else ""
        raise FileRejectedError(f"{source}: malformed XML{line}: {exc.msg}") from exc


def parse_safely(data: bytes, source: str) -> etree._Element:
    """Parse `data` into a tree, refusing DTDs, entities and malformed XML.

    Raises:
        FileRejectedError: not UTF-8, a DOCTYPE or entity, or not well-formed.
    """
    require_utf8(data, source)
    reject_doctype(data, source)
    try:
        root = etree.fromstring(data, parser=safe_parser())
    except etree.XMLSyntaxError as exc:
        line = f" at line {exc.lineno}" if exc.lineno else ""
        raise FileRejectedError(f"{source}: malformed XML{line}: {exc.msg}") from exc
    docinfo: Any = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise FileRejectedError(f"{source}: XML with a DOCTYPE is refused")
    for node in root.iter(etree.Entity):
        raise FileRejectedError(
            f"{source}: XML entity reference {node.text!r} at line {node.sourceline} is refused"
        )
    return root
