"""Plain records passed between pipeline stages.

The pure stages (feeds, extract, text, topics, stories, alerts.render) take and return
these; only adapters (fetch, store, alerts senders) touch the outside world.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Field = Literal["title", "body"]

# Where an article's text came from (``Document.text_source``).
PAGE, FEED, REJECTED = "page", "feed", "rejected"  # REJECTED is followed by ": <reason>"


@dataclass(frozen=True, slots=True)
class Entry:
    """One item of a parsed feed, sanitised: no markup in title, dates range-checked."""

    guid: str
    url: str
    title: str
    summary: str  # the feed's own content, plain text; the fallback when the page fails
    published_at: datetime | None  # timezone-aware UTC, or None when absent or absurd
    language: str | None = None  # declared by the feed, if any


@dataclass(frozen=True, slots=True)
class Document:
    """What the matcher and the story clusterer see: one article's text."""

    title: str
    text: str
    language: str | None = None  # ISO 639-1 code, e.g. "id", "de", "fr"
    url: str = ""
    # Where ``text`` came from: "page", "feed" (the entry's own summary), or "rejected: <reason>"
    # when neither was an article (a consent wall, a captcha...; see monitor.not_article).
    text_source: str = PAGE

    @property
    def text_rejected(self) -> bool:
        """True when ``text`` is not the article's: only the title says what the article is."""
        return self.text_source.startswith(REJECTED)


@dataclass(frozen=True, slots=True)
class Hit:
    """One occurrence of a query term in a document (character offsets in that field)."""

    term: str
    field: Field
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class TopicMatch:
    """Why a document matched one topic."""

    topic: str
    score: float  # in [0, 1]
    terms: tuple[str, ...]  # distinct query terms that fired, in query order
    hits: tuple[Hit, ...] = field(default=())
    clause: str = ""  # the sub-query that decided the match, as text
    snippet: str = ""  # HTML-escaped, hits wrapped in <mark>…</mark>


@dataclass(frozen=True)
class Outlet:
    """One article of a story, as a reader of the alert sees it."""

    article_id: int
    url: str
    title: str
    language: str | None
    feed: str
    published_at: datetime | None


@dataclass(frozen=True)
class AlertContent:
    """Everything an alert says, gathered by the outbox when it sends the alert."""

    alert_id: int
    topic: str
    story_id: int
    story_title: str
    first_seen: datetime
    article: Outlet  # the article that triggered the alert
    outlets: tuple[Outlet, ...]  # every article of the story known at send time
    score: float
    terms: tuple[str, ...]
    snippet: str  # already HTML-escaped, hits wrapped in <mark>…</mark>
    idempotency_key: str  # stable per (topic, story, channel)
    created_at: datetime
