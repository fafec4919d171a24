"""Feed documents → Entry records (pure).

feedparser does the heavy lifting, on the raw bytes plus the response headers (never a
string, which it may read as a path or URL). Before it sees them, the bytes are made safe:
a document in an encoding where "<" need not be the byte "<" (UTF-16, UTF-32, EBCDIC,
UTF-7 …) is converted to UTF-8 first, so that what the safety passes read is what
feedparser reads; DOCTYPE declarations are removed, and an ENTITY declaration outside them
refuses the feed (feedparser's lenient fallback expands entities without limit), except
inside the CDATA sections and comments of the document, where they are only text; and the
fields that it scans with quadratic regular expressions (author names and e-mails, dates)
are truncated.
After it, titles and summaries become plain text, links absolute http(s) URLs, and dates
outside 1990..now+2 days become None. JSON Feed (jsonfeed.org) is read directly.
"""

from __future__ import annotations

import calendar
import codecs
import functools
import html
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit
from xml.sax import SAXException

from monitor.errors import ParseError
from monitor.model import Entry
from monitor.polling import PollHints

EARLIEST_DATE = datetime(1990, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=2)
MAX_ENTRIES = 1000  # per document; the rest are counted in ParsedFeed.skipped
FIELD_CAP = 1024  # characters kept of author, name and e-mail fields
DATE_CAP = 128
SUMMARY_CAP = 200_000
TITLE_CAP = 1000


@dataclass(frozen=True)
class ParsedFeed:
    title: str
    entries: list[Entry]
    hints: PollHints = field(default_factory=PollHints)
    language: str | None = None
    skipped: int = 0  # entries dropped: no usable link, or beyond MAX_ENTRIES


def parse_feed(body: bytes, headers: Mapping[str, str], url: str, *, now: datetime | None = None) -> ParsedFeed:
    """Parse an RSS, Atom, RDF or JSON feed; ParseError("not a feed: …") when it is none."""
    import feedparser

    headers = {name.lower(): value for name, value in headers.items()}
    stripped = body.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not stripped:
        raise ParseError(f"not a feed: {url} answered with an empty body")
    now = now or datetime.now(UTC)
    if stripped[:1] in (b"{", b"["):
        return _parse_json_feed(stripped, url, now)
    body, headers = _as_utf8(body, headers)
    if _looks_like_html(body):
        raise ParseError(
            f"not a feed: {url} is an HTML page; `monitor feeds add` with this address finds the feeds it links to"
        )
    body = _cap_fields(_strip_declarations(body, url))
    headers.setdefault("content-location", url)
    parsed: Any = feedparser.parse(body, response_headers=headers)
    if not parsed.get("version") and not parsed.entries:
        problem = parsed.get("bozo_exception")
        # Only XML syntax errors say something useful; the rest is about missing headers.
        reason = problem if isinstance(problem, SAXException) else "no RSS, Atom or RDF element"
        raise ParseError(f"not a feed: {url} could not be read as RSS, Atom or RDF ({reason})")
    feed = parsed.feed
    language = _language(feed.get("language") or headers.get("content-language"))
    entries: list[Entry] = []
    skipped = 0
    for raw in parsed.entries:
        entry = _entry(raw, url, language, now) if len(entries) < MAX_ENTRIES else None
        if entry is None:
            skipped += 1
        else:
            entries.append(entry)
    return ParsedFeed(
        title=_plain(feed.get("title", ""), TITLE_CAP) or (urlsplit(url).hostname or url),
        entries=entries,
        hints=PollHints(
            ttl_minutes=_int(feed.get("ttl")),
            update_period=feed.get("sy_updateperiod"),
            update_frequency=_int(feed.get("sy_updatefrequency")),
        ),
        language=language,
        skipped=skipped,
    )


# --- making the bytes safe ----------------------------------------------------------------

_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_ENTITY = re.compile(rb"<!ENTITY", re.IGNORECASE)
_EXTERNAL_ENTITY = re.compile(rb"<!ENTITY\s+(?:%\s+)?\S+\s+(?:SYSTEM|PUBLIC)\b", re.IGNORECASE)
_ROOT = re.compile(rb"<\w")  # where feedparser's "head" ends: the first element
_CDATA, _COMMENT = rb"(?-i:<!\[CDATA\[)", rb"<!--"  # CDATA: upper case only
_DECLARATIONS = rb"<!DOCTYPE|<!ENTITY"
# What the body scan looks for, by which shelters are still possible: once a CDATA section
# (or a comment) is left open, no later one can close, and looking again costs n² time.
_MARKUP = {
    (cdata, comment): re.compile(
        b"|".join([*([_CDATA] if cdata else []), *([_COMMENT] if comment else []), _DECLARATIONS]), re.IGNORECASE
    )
    for cdata in (True, False)
    for comment in (True, False)
}
# Runs of what needs no decision (quoted strings, plain characters), in one possessive match.
_DECLARATION_RUN = re.compile(rb"""(?:[^"'\[>]++|"[^"]*+"|'[^']*+')*+""")
_SUBSET_RUN = re.compile(rb"""(?:[^"'\]<]++|"[^"]*+"|'[^']*+'|<(?![!?]))*+""")
_AUTHOR_FIELDS = rb"author|creator|contributor|publisher|managingEditor|webMaster|name|email|owner"
_DATE_FIELDS = rb"pubDate|published|updated|lastBuildDate|date|issued|modified|created"
_OPEN_TAG = rb"(<(?:[\w.-]{1,40}:)?(?:%s)\b[^<>]{0,1000}>\s{0,100}(?:<!\[CDATA\[)?)"
_LONG_AUTHOR = re.compile(_OPEN_TAG % _AUTHOR_FIELDS + rb"([^<\]]{%d,})" % (FIELD_CAP + 1), re.IGNORECASE)
_LONG_DATE = re.compile(_OPEN_TAG % _DATE_FIELDS + rb"([^<\]]{%d,})" % (DATE_CAP + 1), re.IGNORECASE)


def _strip_declarations(body: bytes, url: str) -> bytes:
    """Remove every DOCTYPE declaration; refuse entity declarations outside them.

    Before the first element (feedparser's "head") nothing shelters a declaration:
    feedparser collects entity declarations there even from comments. After it, CDATA
    sections and comments are text (a security blog quoting ``<!ENTITY`` keeps its items);
    an unterminated one shelters nothing.
    """
    if _DOCTYPE.search(body) is None and _ENTITY.search(body) is None:
        return body  # nearly every feed
    root = _ROOT.search(body)
    split = root.start() if root else len(body)
    head = _strip_doctypes(body[:split], url)
    if _ENTITY.search(head):
        raise ParseError(f"not a feed: {url} declares XML entities, which are refused for safety")
    return head + _strip_doctypes(body[split:], url, shelters=True)


def _strip_doctypes(part: bytes, url: str, *, shelters: bool = False) -> bytes:
    """``part`` without its DOCTYPE declarations; with ``shelters``, CDATA sections and
    comments are passed over and an ENTITY declaration outside them refuses the feed."""
    kept: list[bytes] = []
    position = scan = 0
    open_ends = {b"<![CDATA[": shelters, b"<!--": shelters}  # False once one was left open
    while (found := _next_markup(part, scan, open_ends, shelters)) is not None:
        token = found.group(0).upper()
        if token in open_ends:
            close = part.find(b"]]>" if token == b"<![CDATA[" else b"-->", found.end())
            if close == -1:
                open_ends[token] = False  # an open one shelters nothing, and no later one closes
            scan = found.end() if close == -1 else close + 3
            continue
        if token == b"<!ENTITY":
            raise ParseError(f"not a feed: {url} declares XML entities, which are refused for safety")
        end = _doctype_end(part, found.end())
        if end == -1:
            raise ParseError(f"not a feed: {url} has an unterminated DOCTYPE declaration")
        if _EXTERNAL_ENTITY.search(part, found.end(), end):
            raise ParseError(
                f"not a feed: {url} declares XML entities that read files or URLs, which are refused for safety"
            )
        kept.append(part[position : found.start()])
        position = scan = end
    kept.append(part[position:])
    return b"".join(kept)


def _next_markup(part: bytes, scan: int, open_ends: dict[bytes, bool], shelters: bool) -> re.Match[bytes] | None:
    if not shelters:
        return _DOCTYPE.search(part, scan)
    return _MARKUP[open_ends[b"<![CDATA["], open_ends[b"<!--"]].search(part, scan)


def _doctype_end(body: bytes, position: int) -> int:
    """The index just past the DOCTYPE declaration whose content starts at ``position``,
    or -1: quoted strings and the internal subset (with its own strings, comments and
    processing instructions) are skipped, so a "]>" inside an entity value ends nothing."""
    while True:
        position = _match_end(_DECLARATION_RUN, body, position)
        if body[position : position + 1] == b">":
            return position + 1
        if body[position : position + 1] != b"[":
            return -1  # the end of the document, or a quote left open
        position = _subset_end(body, position + 1)
        if position == -1:
            return -1


def _subset_end(body: bytes, position: int) -> int:
    while True:
        position = _match_end(_SUBSET_RUN, body, position)
        if body[position : position + 1] == b"]":
            return position + 1
        if body.startswith(b"<!", position) and not body.startswith(b"<!--", position):
            position += 1  # a declaration: <!ENTITY, <!ELEMENT, <!ATTLIST …
            continue
        ends = b"-->" if body.startswith(b"<!--", position) else b"?>" if body.startswith(b"<?", position) else b""
        close = body.find(ends, position + 2) if ends else -1
        if close == -1:
            return -1  # the end of the document, a quote, comment or instruction left open
        position = close + len(ends)


def _match_end(pattern: re.Pattern[bytes], body: bytes, position: int) -> int:
    found = pattern.match(body, position)
    return found.end() if found else position


def _cap_fields(body: bytes) -> bytes:
    """Truncate the fields feedparser scans with quadratic regexes (seconds per kilobyte)."""

    def truncate(cap: int) -> Any:
        def replace(match: re.Match[bytes]) -> bytes:
            kept = match.group(2)[:cap]
            while kept and 0x80 <= kept[-1] <= 0xBF:  # never cut a UTF-8 character in two
                kept = kept[:-1]
            if kept and kept[-1] >= 0xC0:
                kept = kept[:-1]
            return match.group(1) + kept

        return replace

    body = _LONG_AUTHOR.sub(truncate(FIELD_CAP), body)
    return _LONG_DATE.sub(truncate(DATE_CAP), body)


_ENCODING_DECLARATION = re.compile(r"""(<\?xml[^>]*encoding=)["'][^"']*["']""")
_XML_ENCODING = re.compile(rb"""^<\?[^>]*?encoding=["']([\w.:-]{1,40})["']""")
_BYTE_ORDER_MARKS = (  # the longer first: UTF-32LE's mark begins with UTF-16LE's
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF8, "utf-8"),
    (b"\x4c\x6f\xa7\x94", "cp037"),  # "<?xm" in EBCDIC, which feedparser also recognises
)
_NO_BOM = (  # an ASCII character (X) and its zero bytes: XML Appendix F
    (re.compile(rb"\x00\x00\x00[^\x00]", re.DOTALL), "utf-32-be"),
    (re.compile(rb"[^\x00]\x00\x00\x00", re.DOTALL), "utf-32-le"),
    (re.compile(rb"\x00[^\x00]", re.DOTALL), "utf-16-be"),
    (re.compile(rb"[^\x00]\x00", re.DOTALL), "utf-16-le"),
)
_XML_TYPES = ("application/xml", "application/xml-dtd", "application/xml-external-parsed-entity")


def _as_utf8(body: bytes, headers: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    """The document in UTF-8 when feedparser would read it in an encoding where "<" need
    not be the byte "<"; else unchanged, for feedparser to decode as it always does."""
    codec = _sniffed_encoding(body) or _declared_encoding(body, headers)
    if codec is None or _ascii_safe(codec):
        return body, headers
    text = body.decode(codec, errors="replace").lstrip("\ufeff")
    text = _ENCODING_DECLARATION.sub(r'\1"utf-8"', text, count=1)
    content_type = headers.get("content-type", "application/xml").split(";")[0]
    return text.encode("utf-8"), {**headers, "content-type": f"{content_type}; charset=utf-8"}


def _sniffed_encoding(body: bytes) -> str | None:
    for mark, codec in _BYTE_ORDER_MARKS:
        if body.startswith(mark):
            return codec
    for pattern, codec in _NO_BOM:
        if pattern.match(body):
            return codec
    return None


def _declared_encoding(body: bytes, headers: Mapping[str, str]) -> str | None:
    """The encoding feedparser decodes with (RFC 3023, as feedparser applies it): the first
    of the Content-Type charset and the XML declaration's that decodes the document; None
    when neither does and feedparser falls back to its ASCII-compatible guesses."""
    media_type, _, parameters = headers.get("content-type", "").partition(";")
    media_type = media_type.strip().lower()
    charset = re.search(r"charset\s*=\s*[\"']?([\w.:-]{1,40})", parameters, re.IGNORECASE)
    http = charset.group(1) if charset else None
    declaration = _XML_ENCODING.match(body)
    xml = declaration.group(1).decode("ascii") if declaration else None
    if media_type in _XML_TYPES or (media_type.startswith("application/") and media_type.endswith("+xml")):
        first = http or xml
    elif media_type.startswith("text/"):
        first = http or "us-ascii"
    else:
        first = xml
    for codec in (first, xml):
        if codec:
            try:
                body.decode(codec)
            except (UnicodeError, LookupError):
                continue
            return codec
    return None


@functools.cache
def _ascii_safe(codec: str) -> bool:
    """True when the bytes of ASCII decode to themselves in ``codec`` and nothing else
    decodes to ASCII, so the byte-level safety passes read what feedparser will."""
    try:
        name = codecs.lookup(codec).name
        if name in ("unicode-escape", "raw-unicode-escape"):
            return False  # "\\x3c" decodes to "<"
        probe = bytes(range(0x80))
        return probe.decode(name) == probe.decode("latin-1")
    except LookupError:
        return True  # not a text encoding: nobody decodes with it
    except UnicodeError:
        return False


def _looks_like_html(body: bytes) -> bool:
    head = body[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"<?xml"):
        return False
    return head.startswith((b"<!doctype html", b"<html")) or (
        b"<html" in head and b"<rss" not in head and b"<feed" not in head
    )


# --- entries ------------------------------------------------------------------------------


def _entry(raw: Any, feed_url: str, feed_language: str | None, now: datetime) -> Entry | None:
    link = _http_url(raw.get("link") or "", feed_url)
    if link is None:
        guid = raw.get("id") or ""
        link = _http_url(guid, feed_url) if guid.startswith(("http://", "https://")) else None
    if link is None:
        return None
    content = raw.get("content") or []
    summary = _plain((content[0].get("value") if content else None) or raw.get("summary") or "", SUMMARY_CAP)
    title = _plain(raw.get("title") or "", TITLE_CAP) or summary[:120].strip() or link
    detail = raw.get("title_detail") or {}
    return Entry(
        guid=(raw.get("id") or link)[:2000],
        url=link,
        title=title,
        summary=summary,
        published_at=_entry_date(raw, now),
        language=_language(detail.get("language")) or feed_language,
    )


def _http_url(link: str, base: str) -> str | None:
    link = link.strip()
    if not link:
        return None
    absolute = urljoin(base, link)
    parts = urlsplit(absolute)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return absolute[:4000]


_ISO_DAY = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_RFC822_DAY = re.compile(r"\b(\d{1,2})\s+[A-Za-z]{3}\s+\d{4}")


def _entry_date(raw: Any, now: datetime) -> datetime | None:
    for key in ("published", "updated"):
        # dict.get: FeedParserDict.get maps missing keys onto others, with a warning.
        parsed, text = dict.get(raw, key + "_parsed"), dict.get(raw, key) or ""
        if parsed:
            # feedparser "normalises" month 13 into next January; such a date is unknown.
            return _date(parsed, now) if _valid_day(str(text)) else None
    return None


def _valid_day(text: str) -> bool:
    if (iso := _ISO_DAY.search(text)) is not None:
        try:
            year, month, day = (int(part) for part in iso.groups())
            datetime(year, month, day)
        except ValueError:
            return False
    if (rfc := _RFC822_DAY.search(text)) is not None:
        return 1 <= int(rfc.group(1)) <= 31
    return True


def _date(value: Any, now: datetime) -> datetime | None:
    """A parsed time tuple (UTC) as a datetime, None when absent or outside 1990..now+2d."""
    if not value:
        return None
    try:
        moment = datetime.fromtimestamp(calendar.timegm(value), UTC)
    except (ValueError, TypeError, OverflowError, OSError):
        return None
    return _sane(moment, now)


def _sane(moment: datetime, now: datetime) -> datetime | None:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if not EARLIEST_DATE <= moment <= now + FUTURE_SLACK:
        return None
    return moment.astimezone(UTC)


_BLOCK_TAG = re.compile(r"</?(?:p|div|br|li|ul|ol|h[1-6]|tr|blockquote|section|article)\b[^>]*>")
_TAG = re.compile(r"<[^>]*>")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")


def _plain(markup: str, cap: int) -> str:
    """Markup → plain text: tags dropped, entities decoded, spaces collapsed, length capped."""
    text = _BLOCK_TAG.sub("\n", markup[: cap * 4])
    text = html.unescape(_TAG.sub("", text))
    text = _SPACES.sub(" ", text)
    text = _BLANK_LINES.sub("\n\n", "\n".join(line.strip() for line in text.split("\n")))
    return text.strip()[:cap]


_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(?=$|[-_])")


def _language(declared: Any) -> str | None:
    """'de-DE' → 'de'; None for anything that is not a language tag."""
    if not isinstance(declared, str):
        return None
    found = _LANGUAGE.match(declared.strip())
    return found.group(0).lower() if found else None


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip()[:9])
    except (TypeError, ValueError):
        return None


# --- JSON Feed ------------------------------------------------------------------------------


def _parse_json_feed(body: bytes, url: str, now: datetime) -> ParsedFeed:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ParseError(f"not a feed: {url} is neither XML nor valid JSON ({exc})") from exc
    if not isinstance(document, dict) or "jsonfeed.org" not in str(document.get("version", "")):
        raise ParseError(f"not a feed: {url} is JSON but not a JSON Feed (jsonfeed.org)")
    language = _language(document.get("language"))
    items = document.get("items")
    entries: list[Entry] = []
    skipped = 0
    for item in items if isinstance(items, list) else []:
        entry = _json_entry(item, url, language, now) if len(entries) < MAX_ENTRIES else None
        if entry is None:
            skipped += 1
        else:
            entries.append(entry)
    title = _plain(str(document.get("title") or ""), TITLE_CAP)
    return ParsedFeed(
        title=title or (urlsplit(url).hostname or url),
        entries=entries,
        language=language,
        skipped=skipped,
    )


def _json_entry(item: Any, feed_url: str, language: str | None, now: datetime) -> Entry | None:
    if not isinstance(item, dict):
        return None
    link = _http_url(str(item.get("url") or item.get("external_url") or ""), feed_url)
    if link is None:
        return None
    text = item.get("content_text") or _plain(str(item.get("content_html") or ""), SUMMARY_CAP)
    summary = str(text or item.get("summary") or "")[:SUMMARY_CAP]
    title = _plain(str(item.get("title") or ""), TITLE_CAP) or summary[:120].strip() or link
    published = None
    for key in ("date_published", "date_modified"):
        value = item.get(key)
        if isinstance(value, str) and published is None:
            try:
                published = _sane(datetime.fromisoformat(value.strip()[:40]), now)
            except ValueError:
                published = None
    return Entry(
        guid=str(item.get("id") or link)[:2000],
        url=link,
        title=title,
        summary=summary,
        published_at=published,
        language=_language(item.get("language")) or language,
    )
