"""OPML import and export, and feed discovery from a home page served locally."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest
from conftest import AGENT
from hostile import HostileServer

from monitor.discovery import discover_feeds, find_feeds
from monitor.errors import FetchError, ParseError
from monitor.fetch import Fetcher, FetchLimits
from monitor.opml import FeedRef, parse_opml, render_opml

OPML = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0"><head><title>Subscriptions</title></head><body>
  <outline text="German"><outline type="rss" text="heise" xmlUrl="https://www.heise.de/rss/heise-atom.xml"/>
    <outline type="rss" text="golem" title="Golem.de" xmlUrl="https://rss.golem.de/rss.php?feed=ATOM1.0"/></outline>
  <outline type="rss" text="BBC" xmlUrl="https://feeds.bbci.co.uk/news/technology/rss.xml"/>
  <outline type="rss" text="dup" xmlUrl="https://feeds.bbci.co.uk/news/technology/rss.xml"/>
  <outline type="rss" text="bad" xmlUrl="file:///etc/passwd"/>
  <outline text="no url"/>
</body></opml>"""


def test_import_reads_feeds_with_their_folders() -> None:
    assert parse_opml(OPML) == [
        FeedRef("https://www.heise.de/rss/heise-atom.xml", "heise", "German"),
        FeedRef("https://rss.golem.de/rss.php?feed=ATOM1.0", "Golem.de", "German"),
        FeedRef("https://feeds.bbci.co.uk/news/technology/rss.xml", "BBC", None),
    ]


def test_export_then_import_gives_the_same_list() -> None:
    feeds = parse_opml(OPML)
    document = render_opml(feeds)
    assert document.startswith(b"<?xml") and b'<opml version="2.0">' in document
    assert parse_opml(document) == feeds


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not xml at all", "is not valid OPML"),
        (b"<rss version='2.0'/>", "root element is not <opml>"),
        (b'<!DOCTYPE opml [<!ENTITY x SYSTEM "file:///etc/passwd">]><opml>&x;</opml>', "refused"),
    ],
)
def test_bad_opml_is_one_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_opml(data, "feeds.opml")


HOME = b"""<!DOCTYPE html><html><head><base href="/news/">
<link rel="alternate" type="application/rss+xml" title="All news" href="rss.xml">
<link rel="alternate" type="application/atom+xml" href="https://other.example/atom">
<link rel="alternate" hreflang="fr" href="/fr/">
<link rel="stylesheet" type="text/css" href="site.css">
<link rel="alternate feed" type="application/rss+xml" title="dup" href="rss.xml">
</head><body>home</body></html>"""

FEED = b"<?xml version='1.0'?><rss version='2.0'><channel><title>Local news</title></channel></rss>"


def test_discovery_finds_alternate_feed_links() -> None:
    assert discover_feeds(HOME, "https://site.example/") == [
        FeedRef("https://site.example/news/rss.xml", "All news"),
        FeedRef("https://other.example/atom", ""),
    ]
    assert discover_feeds(b"", "https://site.example/") == []


def fetched_feeds(url: str) -> list[FeedRef]:
    async def main() -> list[FeedRef]:
        fetcher = Fetcher(FetchLimits(AGENT, allow_networks=(ipaddress.ip_network("127.0.0.0/8"),)))
        try:
            return await find_feeds(fetcher, url)
        finally:
            await fetcher.aclose()

    return asyncio.run(main())


def test_find_feeds_from_a_home_page_or_a_feed_url() -> None:
    with HostileServer() as server:
        server.serve("/", HOME, headers={"content-type": "text/html"})
        server.serve("/news/rss.xml", FEED, headers={"content-type": "application/rss+xml"})
        server.serve("/plain", b"<html><body>nothing</body></html>")
        home = fetched_feeds(server.url("/"))
        assert home[0] == FeedRef(server.url("/news/rss.xml"), "All news")
        assert fetched_feeds(server.url("/news/rss.xml")) == [FeedRef(server.url("/news/rss.xml"), "Local news")]
        with pytest.raises(ParseError, match=r"no feed found at .*/plain"):
            fetched_feeds(server.url("/plain"))
        with pytest.raises(ParseError, match="answered HTTP 404"):
            fetched_feeds(server.url("/missing"))
    with pytest.raises(FetchError):
        fetched_feeds(server.url("/"))
