"""Reading the sandbox's XML answers as a client would (bytes, declared encoding)."""

from lxml import etree


def parse(content: bytes) -> etree._Element:
    return etree.fromstring(content, etree.XMLParser(resolve_entities=False, no_network=True))


def errors(content: bytes) -> list[str]:
    return [e.text or "" for e in parse(content).iter("ErrorDescription")]


def first(content: bytes, tag: str) -> str:
    node = parse(content).find(f".//{tag}")
    assert node is not None, f"no <{tag}> in answer"
    return node.text or ""
