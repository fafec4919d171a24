"""Feed lists in and out (OPML), and finding a site's feeds from its home page.

``parse_opml``, ``render_opml`` and ``discover_feeds`` are pure; ``find_feeds`` fetches a
URL the operator typed and returns the feed itself or the feeds its page links to, and
``announced_feeds`` lists the feeds a page links to.

A URL the operator typed is theirs; a feed URL a page announces is a stranger's, like an
article link: it is fetched under the ``fetch.allow_networks`` rule before it is added.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from lxml import etree  # type: ignore[import-untyped]
from lxml import html as lxml_html

from monitor.errors import FetchError, ParseError
from monitor.feeds import parse_feed
from monitor.fetch import Fetcher, Refused

FEED_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/rdf+xml",
        "application/feed+json",
        "application/json",
        "text/xml",
        "application/xml",
    }
)


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


def discover_feeds(page: bytes, base_url: str) -> list[FeedRef]:
    """The feeds a page announces with ``<link rel="alternate" type="…rss+xml|atom+xml…">``."""
    if not page.strip():
        return []
    try:
        document = lxml_html.document_fromstring(page[: 2 * 1024 * 1024])
    except (etree.ParserError, ValueError):
        return []
    base = urljoin(base_url, (document.xpath("string(//base/@href)") or "").strip())
    found: list[FeedRef] = []
    for link in document.iter("link"):
        rels = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").split(";")[0].strip().lower()
        href = (link.get("href") or "").strip()
        if "alternate" not in rels or kind not in FEED_TYPES or not href:
            continue
        url = urljoin(base, href)
        if urlsplit(url).scheme in ("http", "https") and url not in {f.url for f in found}:
            found.append(FeedRef(url=url, name=(link.get("title") or "").strip()))
    return found


async def find_feeds(fetcher: Fetcher, url: str) -> list[FeedRef]:
    """``url`` itself when it is a feed, else the feeds its page links to, the first of
    them checked to be a feed that the stranger rule lets us fetch (`monitor feeds add`).

    Raises FetchError when it cannot be fetched, ParseError when no feed is found.
    """
    found, is_feed = await _feeds_at(fetcher, url, trusted=True)
    if is_feed:
        return found
    first = found[0]
    try:
        result = await fetcher.get(first.url)  # a stranger's link: fetch.allow_networks applies
    except FetchError as exc:
        detail = str(exc).removeprefix(f"{first.url}: ")
        hint = "" if isinstance(exc, Refused) and exc.for_everyone else "; add the feed's own URL if you trust it"
        raise FetchError(f"{url} announces the feed {first.url}, which cannot be added: {detail}{hint}") from None
    if result.status >= 400:
        raise ParseError(f"{url} announces the feed {first.url}, which answered HTTP {result.status}; check the page")
    try:
        feed = parse_feed(result.body, result.headers, result.url)
    except ParseError as exc:
        raise ParseError(f"{url} announces the feed {first.url}, which is not one ({exc})") from None
    return [FeedRef(url=first.url, name=first.name or feed.title), *found[1:]]


async def announced_feeds(fetcher: Fetcher, url: str) -> list[FeedRef]:
    """Like ``find_feeds`` without adding anything (`monitor feeds discover`): the page is
    any URL, so fetched under fetch.allow_networks, and the feeds it names are listed only."""
    found, _ = await _feeds_at(fetcher, url, trusted=False)
    return found


async def _feeds_at(fetcher: Fetcher, url: str, *, trusted: bool) -> tuple[list[FeedRef], bool]:
    """The feed at ``url`` (and True), or the feeds its page announces (and False)."""
    result = await fetcher.get(url, trusted=trusted)
    if result.status >= 400:
        raise ParseError(f"{url} answered HTTP {result.status}; check the address")
    try:
        feed = parse_feed(result.body, result.headers, result.url)
    except ParseError:
        found = discover_feeds(result.body, result.url)
        if not found:
            raise ParseError(
                f"no feed found at {url}: it is not a feed and links to none; give the feed's own URL"
            ) from None
        return found, False
    return [FeedRef(url=result.url, name=feed.title)], True
