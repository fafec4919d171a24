"""Finding a site's feeds from its pages (`monitor feeds add`, `monitor feeds discover`).

``discover_feeds`` is pure; ``find_feeds`` fetches a URL the operator typed and returns
the feed itself or the feeds its page links to, and ``announced_feeds`` lists the feeds
a page links to.

A URL the operator typed is theirs; a feed URL a page announces is a stranger's, like an
article link: it is fetched under the ``fetch.allow_networks`` rule before it is added.
"""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

from lxml import etree  # type: ignore[import-untyped]
from lxml import html as lxml_html

from monitor.errors import FetchError, ParseError
from monitor.feeds import parse_feed
from monitor.fetch import Fetcher, Refused
from monitor.opml import FeedRef

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
