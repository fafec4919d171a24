"""Feed parsing, with the hostile documents served by a real local server and fetched."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta

import pytest
from conftest import AGENT
from hostile import HostileServer

from monitor.errors import ParseError
from monitor.feeds import ParsedFeed, parse_feed
from monitor.fetch import Fetcher, FetchLimits

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def server() -> Iterator[HostileServer]:
    with HostileServer() as running:
        yield running


def served(server: HostileServer, body: bytes, headers: Mapping[str, str] | None = None) -> ParsedFeed:
    """Serve ``body``, fetch it like the pipeline does, parse what came back."""
    path = f"/feed{len(server.routes)}"
    server.serve(path, body, headers=headers or {"content-type": "application/rss+xml"})

    async def main() -> ParsedFeed:
        limits = FetchLimits(AGENT, allow_networks=(ipaddress.ip_network("127.0.0.0/8"),))
        fetcher = Fetcher(limits)
        try:
            result = await fetcher.get(server.url(path), trusted=True)
        finally:
            await fetcher.aclose()
        return parse_feed(result.body, result.headers, result.url, now=NOW)

    return asyncio.run(main())


def rss(items: str, channel: str = "", prolog: str = '<?xml version="1.0"?>') -> bytes:
    return (
        f'{prolog}<rss version="2.0" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/">'
        f"<channel><title>Tech &amp; more</title><link>https://site.example/</link>{channel}"
        f"{items}</channel></rss>"
    ).encode()


def item(title: str = "Doubao launch", link: str = "/a/1", extra: str = "") -> str:
    return f"<item><title>{title}</title><link>{link}</link>{extra}</item>"


def failure(body: bytes, headers: Mapping[str, str] | None = None, within: float = 5.0) -> str:
    started = time.monotonic()
    with pytest.raises(ParseError) as caught:
        parse_feed(body, headers or {}, "https://site.example/feed", now=NOW)
    assert time.monotonic() - started < within
    return str(caught.value)


# --- ordinary feeds --------------------------------------------------------------------------


def test_rss_entries_are_plain_text_with_absolute_links(server: HostileServer) -> None:
    body = rss(
        item(
            "ByteDance &lt;b&gt;AI&lt;/b&gt; model",
            "/news/1?x=1",
            "<guid>tag:site,1</guid><pubDate>Fri, 30 May 2025 08:00:00 +0200</pubDate>"
            "<description>&lt;p&gt;First &amp;amp; second&lt;/p&gt;&lt;p&gt;para&lt;/p&gt;"
            "</description>",
        ),
        channel="<language>de-DE</language><ttl>90</ttl>"
        "<sy:updatePeriod>daily</sy:updatePeriod><sy:updateFrequency>4</sy:updateFrequency>",
    )
    feed = served(server, body)
    assert feed.title == "Tech & more" and feed.language == "de"
    (entry,) = feed.entries
    assert entry.title == "ByteDance AI model"
    assert entry.url == server.url("/news/1?x=1")  # relative to the document, not <link>
    assert entry.guid == "tag:site,1"
    assert entry.summary == "First & second\n\npara"
    assert entry.published_at == datetime(2025, 5, 30, 6, 0, tzinfo=UTC)
    assert entry.language == "de"
    assert (feed.hints.ttl_minutes, feed.hints.update_period) == (90, "daily")
    assert feed.hints.interval() == timedelta(hours=6)  # daily / 4, longer than the ttl


def test_atom_feed_relative_links_resolve_against_the_final_url() -> None:
    body = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="fr"><title>Pixels</title>
<entry><id>urn:1</id><title type="html">TikTok &amp;amp; l'interdiction</title>
<link href="articles/2"/><updated>2025-05-31T10:00:00Z</updated>
<content type="html">&lt;div&gt;Texte&lt;/div&gt;</content></entry></feed>"""
    feed = parse_feed(body, {"content-type": "application/atom+xml"}, "https://x.example/f/", now=NOW)
    (entry,) = feed.entries
    assert entry.url == "https://x.example/f/articles/2"
    assert entry.title == "TikTok & l'interdiction" and entry.summary == "Texte"
    assert entry.language == "fr"


def test_entries_without_a_usable_link_are_skipped_and_counted() -> None:
    body = rss(item(link="javascript:alert(1)") + item(link="") + item(link="/ok"))
    feed = parse_feed(body, {}, "https://site.example/feed", now=NOW)
    assert [e.url for e in feed.entries] == ["https://site.example/ok"]
    assert feed.skipped == 2


def test_json_feed_is_read() -> None:
    body = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "J",
            "language": "id",
            "items": [
                {
                    "id": "1",
                    "url": "https://j.example/1",
                    "title": "Larangan TikTok",
                    "content_html": "<p>Isi</p>",
                    "date_published": "2025-05-30T08:00:00+07:00",
                },
                {"id": "2", "content_text": "no link"},
            ],
        }
    ).encode()
    feed = parse_feed(body, {"content-type": "application/feed+json"}, "https://j.example/", now=NOW)
    (entry,) = feed.entries
    assert (entry.title, entry.summary, entry.language) == ("Larangan TikTok", "Isi", "id")
    assert entry.published_at == datetime(2025, 5, 30, 1, 0, tzinfo=UTC)


# --- hostile XML -------------------------------------------------------------------------


def test_billion_laughs_is_not_expanded(server: HostileServer) -> None:
    levels = ['<!ENTITY lol0 "lol">'] + [f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10)]
    prolog = f'<?xml version="1.0"?><!DOCTYPE rss [{"".join(levels)}]>'
    started = time.monotonic()
    feed = served(server, rss(item("&lol9;"), prolog=prolog))
    assert time.monotonic() - started < 5
    assert "lollol" not in feed.entries[0].title


def test_one_big_entity_repeated_is_not_expanded(server: HostileServer) -> None:
    prolog = f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY big "{"x" * 100_000}">]>'
    started = time.monotonic()
    feed = served(server, rss(item("&big;" * 10_000), prolog=prolog))
    assert time.monotonic() - started < 5
    assert len(feed.entries[0].title) < 100_000


def test_external_entity_is_refused_even_behind_a_quoted_subset_end(server: HostileServer) -> None:
    # A "]>" inside an entity value ends nothing: the whole subset is read, and an
    # entity that would read a file or a URL refuses the feed.
    prolog = '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "]>"><!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    with pytest.raises(ParseError, match="declares XML entities that read files or URLs, which are refused"):
        served(server, rss(item("&xxe;"), prolog=prolog))
    parameter = '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY % remote PUBLIC "x" "http://evil.example/x.dtd">]>'
    assert "read files or URLs" in failure(rss(item(), prolog=parameter))


def test_internal_entities_are_stripped_with_their_doctype_never_expanded() -> None:
    prolog = '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "]>"><!-- ] > --><?pi ]>?><!ENTITY big "xxxx">]>'
    (entry,) = parse_feed(rss(item("Doubao &big;"), prolog=prolog), {}, "https://s.example/", now=NOW).entries
    assert entry.title == "Doubao &big;"


def test_entity_declared_in_a_prolog_comment_is_still_refused() -> None:
    # feedparser collects entity declarations from anywhere before the first element,
    # comments included: there, a comment shelters nothing.
    prolog = '<?xml version="1.0"?>\n<!--\n<!DOCTYPE rss>\n<!ENTITY big "xxxx">\n-->\n'
    assert "declares XML entities" in failure(rss(item("&big;"), prolog=prolog))
    cdata = '<?xml version="1.0"?>\n<![CDATA[\n<!ENTITY big "xxxx">\n]]>\n'
    assert "declares XML entities" in failure(rss(item("&big;"), prolog=cdata))


def test_plain_doctype_of_old_rss_is_accepted() -> None:
    prolog = (
        '<?xml version="1.0"?><!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"'
        ' "http://my.netscape.com/publish/formats/rss-0.91.dtd">'
    )
    assert parse_feed(rss(item(), prolog=prolog), {}, "https://s.example/", now=NOW).entries


def test_huge_email_like_author_is_capped_before_feedparser(server: HostileServer) -> None:
    author = "a" * 20_000 + "@" + "b." * 20_000  # minutes of regex backtracking uncapped
    started = time.monotonic()
    feed = served(server, rss(item(extra=f"<author>{author}</author>")))
    assert time.monotonic() - started < 5
    assert feed.entries[0].title == "Doubao launch"


# --- charsets ------------------------------------------------------------------------------------


def test_wrong_charset_header_does_not_lose_the_feed(server: HostileServer) -> None:
    body = rss(item("Künstliche Intelligenz")).replace(b'<?xml version="1.0"?>', b"")
    latin1 = body.decode().encode("latin-1")
    feed = served(server, latin1, {"content-type": "application/rss+xml; charset=utf-8"})
    assert feed.entries[0].title.startswith("K") and "Intelligenz" in feed.entries[0].title


def test_declared_encoding_without_header_is_honoured(server: HostileServer) -> None:
    body = rss(item("Künstliche Intelligenz"), prolog='<?xml version="1.0" encoding="iso-8859-1"?>')
    feed = served(server, body.decode().encode("latin-1"), {"content-type": "text/xml"})
    assert feed.entries[0].title == "Künstliche Intelligenz"


@pytest.mark.parametrize("codec", ["utf-8-sig", "utf-16"])
def test_byte_order_marks(server: HostileServer, codec: str) -> None:
    text = rss(item("豆包 Doubao"), prolog=f'<?xml version="1.0" encoding="{codec[:6]}"?>').decode()
    feed = served(server, text.encode(codec), {"content-type": "application/xml"})
    assert feed.entries[0].title == "豆包 Doubao"


def test_utf16_doctype_is_read_by_the_safety_passes() -> None:
    text = '<?xml version="1.0" encoding="utf-16"?><!DOCTYPE r [<!ENTITY a "]>"><!ENTITY b "x">]>'
    body = (text + rss(item("&b;"), prolog="").decode()).encode("utf-16")
    (entry,) = parse_feed(body, {}, "https://s.example/", now=NOW).entries
    assert entry.title == "&b;"  # stripped, never expanded
    external = text.replace('"x"', 'SYSTEM "file:///etc/passwd"')
    assert "refused" in failure((external + rss(item("&b;"), prolog="").decode()).encode("utf-16"))


# --- what hostile-looking text inside CDATA and comments is: text ---------------------------------

SECURITY_POST = """<![CDATA[<p>The XXE payload looks like this:</p>
<pre><!DOCTYPE foo [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<foo>&xxe;</foo></pre><p>Patch now.</p>]]>"""


def test_a_security_blog_quoting_entities_in_cdata_keeps_every_item(server: HostileServer) -> None:
    items = "".join(
        item(f"XXE explained, part {n}", f"/xxe/{n}", f"<description>{SECURITY_POST}</description>") for n in range(3)
    )
    feed = served(server, rss(items + "<!-- <!ENTITY in a comment> <!DOCTYPE x [ -->"))
    assert [e.title for e in feed.entries] == [f"XXE explained, part {n}" for n in range(3)]
    assert '<!ENTITY xxe SYSTEM "file:///etc/passwd">' in feed.entries[0].summary
    assert feed.entries[0].summary.endswith("Patch now.")


def test_a_doctype_quoted_in_cdata_does_not_cut_through_it(server: HostileServer) -> None:
    # A remover that ignored CDATA would look for this DOCTYPE's end past "]]>" and lose the items.
    quoted = "<description><![CDATA[Write <!DOCTYPE html> first, then [brackets]]]></description>"
    feed = served(server, rss(item("First", "/1", quoted) + item("Second", "/2")))
    assert [e.title for e in feed.entries] == ["First", "Second"]
    assert feed.entries[0].summary == "Write first, then [brackets]"


def test_an_entity_declared_outside_cdata_in_the_body_is_still_refused() -> None:
    body = rss(item("One", "/1", '<description><![CDATA[text]]></description><!ENTITY x "y">'))
    assert "declares XML entities" in failure(body)
    unterminated = rss(item("One", "/1", '<description><![CDATA[text <!ENTITY x "y"></description>'))
    assert "declares XML entities" in failure(unterminated)  # an open CDATA shelters nothing


BIG = 4 * 1024 * 1024


@pytest.mark.parametrize(
    "body",
    [
        b"<?xml?><!DOCTYPE x [" + b'"a"' * (BIG // 3) + b"]>" + rss(item()),
        b"<?xml?><!DOCTYPE x [" + b"<!--]-->" * (BIG // 8) + b"]>" + rss(item()),
        rss(item(extra="<![CDATA[" * (BIG // 9) + "<!--" * (BIG // 4))) + b"<!DOCTYPE x>",
        rss(item(extra="<![CDATA[<!DOCTYPE x>]]>" * (BIG // 24))),
    ],
    ids=["quoted-strings", "subset-comments", "open-cdata-and-comments", "quoted-doctypes"],
)
def test_declaration_scans_take_linear_time(body: bytes) -> None:
    started = time.monotonic()
    with contextlib.suppress(ParseError):  # refused or not a feed: either way, quickly
        parse_feed(body, {}, "https://s.example/", now=NOW)
    assert time.monotonic() - started < 10


# --- encodings where "<" is not the byte "<" -------------------------------------------------------

GERMAN = "Künstliche Intelligenz: Doubao übertrifft"


@pytest.mark.parametrize("codec", ["utf-32-le", "utf-32-be"])
@pytest.mark.parametrize("bom", [True, False], ids=["bom", "no-bom"])
def test_utf32_feeds_are_read(server: HostileServer, codec: str, bom: bool) -> None:
    text = rss(item(GERMAN), prolog='<?xml version="1.0" encoding="utf-32"?>').decode()
    body = (("\ufeff" if bom else "") + text).encode(codec)
    (entry,) = served(server, body, {"content-type": "application/rss+xml"}).entries
    assert entry.title == GERMAN


def test_utf32_entities_are_refused_like_utf8_ones() -> None:
    prolog = '<?xml version="1.0" encoding="utf-32"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    assert "refused" in failure(rss(item("&x;"), prolog=prolog).decode().encode("utf-32"))


@pytest.mark.parametrize("codec", ["utf-7", "cp037", "utf-16-be"])
def test_declared_encodings_that_hide_markup_are_converted_before_the_safety_passes(codec: str) -> None:
    # In UTF-7 "<" may be written "+ADw-": feedparser decodes it, a byte scan would not see
    # it, and one entity of 1,000 characters referenced 100 times became a 100,000-character
    # title (feedparser 6.0.14, before this conversion).
    big = "x" * 1000
    prolog = f'<?xml version="1.0" encoding="{codec}"?>\n<!DOCTYPE rss [\n<!ENTITY big "{big}">\n]>\n'
    body = rss(item("&big;" * 100), prolog=prolog).decode().encode(codec)
    if codec == "utf-7":
        body = body.replace(b"<!", b"+ADw-!")
        assert b"<!ENTITY" not in body
    headers = {"content-type": f"application/rss+xml; charset={codec}"}
    (entry,) = parse_feed(body, headers, "https://s.example/", now=NOW).entries
    assert entry.title == "&big;" * 100  # stripped with its DOCTYPE, never expanded
    external = prolog.replace(f'"{big}"', 'SYSTEM "file:///etc/passwd"')
    hostile = rss(item("&big;"), prolog=external).decode().encode(codec)
    if codec == "utf-7":
        hostile = hostile.replace(b"<!", b"+ADw-!")
    assert "refused" in failure(hostile, headers)
    (entry,) = parse_feed(rss(item(GERMAN)).decode().encode(codec), headers, "https://s.example/", now=NOW).entries
    assert entry.title == GERMAN


# --- not feeds ------------------------------------------------------------------------------------


def test_html_served_as_a_feed(server: HostileServer) -> None:
    page = b"<!DOCTYPE html><html><head><title>Home</title></head><body>hi</body></html>"
    with pytest.raises(ParseError, match="is an HTML page; `monitor feeds add` with this address finds the feeds"):
        served(server, page, {"content-type": "application/rss+xml"})


@pytest.mark.parametrize("body", [b"", b"  \r\n", b"\xef\xbb\xbf"])
def test_empty_200_is_not_a_feed(server: HostileServer, body: bytes) -> None:
    with pytest.raises(ParseError, match="answered with an empty body"):
        served(server, body)


@pytest.mark.parametrize(
    "body",
    [
        b"\x00\xff\xfe garbage",
        b"just text",
        b"<kml><Document/></kml>",
        b"{not json",
        b'{"a": 1}',
        b"[" * 100_000,
    ],
)
def test_garbage_is_one_clear_error(body: bytes) -> None:
    message = failure(body)
    assert message.startswith("not a feed: https://site.example/feed") and "\n" not in message


# --- dates --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "date",
    [
        "0000-00-00",
        "2024-13-45T00:00:00Z",
        "2024-02-30",
        "Mon, 45 Jan 2024 10:00:00 GMT",
        "Mon, 45 Foo 2024 99:99:99 GMT",
        "2999-01-01T00:00:00Z",
        "1970-01-01T00:00:00Z",
        "Thu, 01 Jan 1970 00:00:00 +0000",
        "",
        "yesterday",
    ],
)
def test_absurd_dates_become_unknown(server: HostileServer, date: str) -> None:
    feed = served(server, rss(item(extra=f"<pubDate>{date}</pubDate>")))
    assert feed.entries[0].published_at is None


def test_date_slightly_in_the_future_is_kept() -> None:
    body = rss(item(extra="<pubDate>Sun, 01 Jun 2025 20:00:00 GMT</pubDate>"))
    entry = parse_feed(body, {}, "https://s.example/", now=NOW).entries[0]
    assert entry.published_at == datetime(2025, 6, 1, 20, 0, tzinfo=UTC)
