"""Article text out of an HTML page: trafilatura, plus what trafilatura does not tell.

``extract_article`` adds the language the page declares and reads the page's
publication date; it is a pure function of the page (no clock: whether that date is
plausible is for ``monitor.article`` to say, given the time). The process pool that
runs it lives in ``monitor.workers``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

MAX_HTML_BYTES = 5 * 1024 * 1024  # trafilatura's time grows with the page; articles are smaller
MIN_TEXT_CHARS = 50


@dataclass(frozen=True)
class Extracted:
    title: str | None
    text: str
    language: str | None  # declared by the page (<html lang>, Content-Language meta, og:locale)
    published_at: datetime | None  # UTC, as the page states it (monitor.article.plausible_date checks it)


def extract_article(html: bytes, url: str, *, metadata: bool = True) -> Extracted | None:
    """The main text of an article page; None when the page has no article text.

    Without ``metadata`` the page's title and date are not looked for (a third of
    trafilatura's time): for entries whose feed already gave both.
    """
    from trafilatura import bare_extraction

    html = html[:MAX_HTML_BYTES]
    if not html.strip():
        return None
    try:
        document: Any = bare_extraction(
            html, url=url, with_metadata=metadata, include_comments=False, include_tables=True
        )
    except (ValueError, TypeError, RecursionError):
        return None  # trafilatura gives up on some malformed markup with these
    text = (getattr(document, "text", None) or "").strip() if document is not None else ""
    if len(text) < MIN_TEXT_CHARS:
        return None  # a menu or a caption, not an article: the feed's summary is better
    title = (getattr(document, "title", None) or "").strip() or None
    return Extracted(
        title=title,
        text=text,
        language=declared_language(html),
        published_at=_published(getattr(document, "date", None)),
    )


_HTML_LANG = re.compile(rb"<html\b[^>]{0,2000}?\blang\s*=\s*[\"']?\s*([A-Za-z]{2,3})(?![A-Za-z])", re.I)
_META_LANG = re.compile(
    rb"<meta\b[^>]{0,500}?http-equiv\s*=\s*[\"']?content-language[\"']?[^>]{0,500}?"
    rb"content\s*=\s*[\"']?\s*([A-Za-z]{2,3})(?![A-Za-z])",
    re.I,
)
_OG_LOCALE = re.compile(
    rb"<meta\b[^>]{0,500}?property\s*=\s*[\"']?og:locale[\"']?[^>]{0,500}?"
    rb"content\s*=\s*[\"']?\s*([A-Za-z]{2,3})(?![A-Za-z])",
    re.I,
)


def declared_language(html: bytes) -> str | None:
    """The ISO 639 code the page declares for itself, if any ('de-AT' → 'de')."""
    head = html[:65536]
    for pattern in (_HTML_LANG, _META_LANG, _OG_LOCALE):
        found = pattern.search(head)
        if found:
            return found.group(1).decode("ascii").lower()
    return None


def _published(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip()[:32])
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        return None  # year 1 or 9999 in another zone: no date
