"""Feed lists in and out: OPML files parsed and written (pure). Finding a site's feeds
from its pages is ``monitor.discovery``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from lxml import etree  # type: ignore[import-untyped]

from monitor.errors import ParseError


@dataclass(frozen=True)
class FeedRef:
    """A feed as a list names it: its URL, a display name, and an optional folder."""

    url: str
    name: str = ""
    category: str | None = None


def _safe_parser() -> etree.XMLParser:
    # No DTD, no entity expansion, no network, no multi-gigabyte trees.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def parse_opml(data: bytes, source: str = "the OPML file") -> list[FeedRef]:
    """Every outline with an http(s) ``xmlUrl``, its folder taken from the enclosing outline."""
    if b"<!ENTITY" in data[:65536].upper():
        raise ParseError(f"{source} declares XML entities, which are refused for safety")
    try:
        root = etree.fromstring(data, _safe_parser())
    except etree.XMLSyntaxError as exc:
        raise ParseError(f"{source} is not valid OPML ({exc})") from exc
    if root is None or etree.QName(root).localname.lower() != "opml":
        raise ParseError(f"{source} is not OPML: its root element is not <opml>")
    feeds: list[FeedRef] = []
    seen: set[str] = set()
    for outline in root.iter("{*}outline"):
        url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        if urlsplit(url).scheme not in ("http", "https") or url in seen:
            continue
        seen.add(url)
        parent = outline.getparent()
        category = None
        if parent is not None and etree.QName(parent).localname == "outline":
            category = (parent.get("text") or parent.get("title") or "").strip() or None
        name = (outline.get("title") or outline.get("text") or "").strip()
        feeds.append(FeedRef(url=url, name=name, category=category))
    return feeds


def render_opml(feeds: Iterable[FeedRef], title: str = "monitor feeds") -> bytes:
    """An OPML 2.0 document, feeds grouped in one outline per category."""
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = title
    body = etree.SubElement(root, "body")
    folders: dict[str, etree._Element] = {}
    for feed in feeds:
        parent = body
        if feed.category:
            if feed.category not in folders:
                folders[feed.category] = etree.SubElement(body, "outline", text=feed.category, title=feed.category)
            parent = folders[feed.category]
        name = feed.name or feed.url
        etree.SubElement(parent, "outline", type="rss", text=name, title=name, xmlUrl=feed.url)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))
