"""Feed documents → Entry records (pure).

feedparser does the heavy lifting, on the raw bytes plus the response headers (never a
string, which it may read as a path or URL). Before it sees them, the bytes are made safe:
DOCTYPE declarations are removed and any remaining ENTITY declaration refuses the feed
(feedparser's lenient fallback expands entities without limit), and the fields that it
scans with quadratic regular expressions (author names and e-mails, dates) are truncated.
After it, titles and summaries become plain text, links absolute http(s) URLs, and dates
outside 1990..now+2 days become None. JSON Feed (jsonfeed.org) is read directly.
"""

from __future__ import annotations

import calendar
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
    body, headers = _utf8_if_utf16(body, headers)
    if _looks_like_html(body):
        raise ParseError(
            f"not a feed: {url} is an HTML page; `monitor feeds add` with this address finds the feeds it links to"
        )
    body = _cap_fields(_strip_doctype(body, url))
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
_AUTHOR_FIELDS = rb"author|creator|contributor|publisher|managingEditor|webMaster|name|email|owner"
_DATE_FIELDS = rb"pubDate|published|updated|lastBuildDate|date|issued|modified|created"
_OPEN_TAG = rb"(<(?:[\w.-]{1,40}:)?(?:%s)\b[^<>]{0,1000}>\s{0,100}(?:<!\[CDATA\[)?)"
_LONG_AUTHOR = re.compile(_OPEN_TAG % _AUTHOR_FIELDS + rb"([^<\]]{%d,})" % (FIELD_CAP + 1), re.IGNORECASE)
_LONG_DATE = re.compile(_OPEN_TAG % _DATE_FIELDS + rb"([^<\]]{%d,})" % (DATE_CAP + 1), re.IGNORECASE)


def _strip_doctype(body: bytes, url: str) -> bytes:
    """Remove every DOCTYPE declaration; refuse entity declarations that survive it."""
    kept: list[bytes] = []
    position = 0
    while (found := _DOCTYPE.search(body, position)) is not None:
        start = found.end()
        close = body.find(b">", start)
        subset = body.find(b"[", start)
        if subset != -1 and (close == -1 or subset < close):
            subset_end = body.find(b"]", subset)
            close = -1 if subset_end == -1 else body.find(b">", subset_end)
        if close == -1:
            raise ParseError(f"not a feed: {url} has an unterminated DOCTYPE declaration")
        kept.append(body[position : found.start()])
        position = close + 1
    kept.append(body[position:])
    body = b"".join(kept)
    if _ENTITY.search(body):
        raise ParseError(f"not a feed: {url} declares XML entities, which are refused for safety")
    return body


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


def _utf8_if_utf16(body: bytes, headers: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    """UTF-16 documents become UTF-8, so the byte-level safety passes can read them."""
    if body[:2] in (b"\xff\xfe", b"\xfe\xff"):
        codec = "utf-16"
    elif body[:2] == b"<\x00":
        codec = "utf-16-le"
    elif body[:2] == b"\x00<":
        codec = "utf-16-be"
    else:
        return body, headers
    text = body.decode(codec, errors="replace").lstrip("\ufeff")
    text = _ENCODING_DECLARATION.sub(r'\1"utf-8"', text, count=1)
    content_type = headers.get("content-type", "application/xml").split(";")[0]
    return text.encode("utf-8"), {**headers, "content-type": f"{content_type}; charset=utf-8"}


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
