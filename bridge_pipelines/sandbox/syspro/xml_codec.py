"""XmlIn parsing (hardened) and Windows-1252 XML output, as e.net Solutions writes it.

XmlIn arrives in the query string, already decoded to text, so the XML declaration (whatever
encoding it names) is dropped before parsing. The parser loads no DTD, resolves no entity and
never touches the network; a document with a DOCTYPE is refused outright (no XXE, no billion
laughs).
"""

import re
from decimal import Decimal, InvalidOperation

from lxml import etree

ENCODING = "Windows-1252"
CONTENT_TYPE = "text/xml; charset=windows-1252"
_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
# Attributes SYSPRO puts on every output root (from its sample output); kept for realism.
ROOT_ATTRIBUTES = {
    "Language": "05",
    "Language2": "EN",
    "CssStyle": "",
    "DecFormat": "1",
    "DateFormat": "01",
    "Role": "01",
    "Version": "8.0.000",
    "OperatorPrimaryRole": "   ",
}
_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
)


class XmlInError(ValueError):
    """XmlIn or XmlParameters that is not acceptable XML."""


def parse(text: str, what: str = "XmlIn") -> etree._Element:
    """Parse XmlIn/XmlParameters text; raises XmlInError with a short reason."""
    body = _DECLARATION.sub("", text, count=1).strip()
    if not body:
        raise XmlInError(f"{what} is empty")
    if "<!DOCTYPE" in body.upper() or "<!ENTITY" in body.upper():
        raise XmlInError(f"{what} may not contain a DOCTYPE")
    try:
        root = etree.fromstring(body.encode("utf-8"), _PARSER)
    except etree.XMLSyntaxError as exc:
        raise XmlInError(f"{what} is not well-formed XML: {exc.msg}") from exc
    return root


def text(node: etree._Element | None, tag: str, default: str = "") -> str:
    """The stripped text of child `tag` of `node` ('' when absent or empty)."""
    if node is None:
        return default
    child = node.find(tag)
    if child is None or child.text is None:
        return default
    return child.text.strip()


def decimal(value: str) -> Decimal | None:
    """A money value as SYSPRO reads it; None when blank or not a finite number."""
    if not value:
        return None
    try:
        number = Decimal(value.replace(",", ""))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def element(root_tag: str) -> etree._Element:
    """An output root with SYSPRO's usual attributes."""
    root = etree.Element(root_tag)
    for key, value in ROOT_ATTRIBUTES.items():
        root.set(key, value)
    return root


def sub(parent: etree._Element, tag: str, value: object = None) -> etree._Element:
    """Append child `tag` (with `value` as text, unless None)."""
    node = etree.SubElement(parent, tag)
    if value is not None:
        node.text = str(value)
    return node


def count_text(n: int) -> str:
    """A count as business objects write it: six digits, zero-padded (`000001`).

    [C] SYSPRO's output, e.g. `<ItemsProcessed>000001</ItemsProcessed>` in unit tests run
    against a live SYSPRO (Zindaar/SYSPROIntegration, TestSysproIntegration/...Test.vb).
    """
    return f"{n:06d}"


def render(root: etree._Element) -> bytes:
    """Windows-1252 bytes with a matching declaration; other characters as char references."""
    body = etree.tostring(root, encoding=ENCODING, xml_declaration=False, pretty_print=True)
    assert isinstance(body, bytes)
    return f'<?xml version="1.0" encoding="{ENCODING}"?>\n'.encode("ascii") + body
