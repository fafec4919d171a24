"""What the query side reads from a ``Store``: frozen records, each with the JSON it shows.

``to_json`` gives the public shape of docs/cli.md and docs/api.md, the one place that
shape is written; the CLI's JSON/CSV and the API's bodies are these dicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitor.topics.snippet import snippet_offsets

Json = dict[str, Any]


def iso(moment: datetime | None) -> str | None:
    """A stored time as shown: ISO 8601 to the second, "Z" for UTC."""
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z") if moment else None


@dataclass(frozen=True, slots=True)
class Filters:
    """Which rows a list shows: each set filter narrows it (a story: one with an article in
    ``lang``/``feed``, still growing ``since``, first seen ``until``)."""

    topic: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    lang: str | None = None
    feed: str | None = None  # the feed's name
    story_id: int | None = None  # one story's rows (its matches, articles; the story itself)


@dataclass(frozen=True, slots=True)
class MatchRow:
    id: int
    topic: str
    article_id: int
    url: str
    title: str
    language: str | None
    published_at: datetime | None
    story_id: int | None
    score: float
    terms: tuple[str, ...]
    snippet: str
    matched_at: datetime | None
    backfill: bool

    def to_json(self) -> Json:
        return {
            "id": self.id,
            "topic": self.topic,
            "article_id": self.article_id,
            "url": self.url,
            "title": self.title,
            "language": self.language,
            "published_at": iso(self.published_at),
            "story_id": self.story_id,
            "score": round(self.score, 3),
            "terms": list(self.terms),
            "snippet": self.snippet,
            **snippet_offsets(self.snippet),
            "matched_at": iso(self.matched_at),
            "backfill": self.backfill,
        }


@dataclass(frozen=True, slots=True)
class StoryMember:
    """One article of a story as shown: never its text or features."""

    id: int
    url: str
    title: str
    language: str | None
    feed: str
    similarity: float  # to the closest article of the story when it joined (1.0: the first)
    signal: str  # why it joined

    def to_json(self) -> Json:
        return {
            "id": self.id,
            "url": self.url,
            "title": self.title,
            "language": self.language,
            "feed": self.feed,
            "similarity": round(self.similarity, 3),
            "signal": self.signal,
        }


@dataclass(frozen=True, slots=True)
class StoryRow:
    id: int
    title: str
    language: str | None
    first_seen: datetime | None
    topics: tuple[str, ...]  # sorted
    articles: tuple[StoryMember, ...]  # oldest first

    def to_json(self) -> Json:
        return {
            "id": self.id,
            "title": self.title,
            "language": self.language,
            "first_seen": iso(self.first_seen),
            "topics": list(self.topics),
            "languages": sorted({a.language for a in self.articles if a.language}),
            "articles": [a.to_json() for a in self.articles],
        }


@dataclass(frozen=True, slots=True)
class ArticleRow:
    id: int
    url: str
    canonical_url: str
    title: str
    language: str | None
    published_at: datetime | None
    feed: str
    story_id: int | None
    text_source: str
    text: str | None  # None: not read (a list without texts)

    def to_json(self) -> Json:
        return {
            "id": self.id,
            "url": self.url,
            "canonical_url": self.canonical_url,
            "title": self.title,
            "language": self.language,
            "published_at": iso(self.published_at),
            "feed": self.feed,
            "story_id": self.story_id,
            "text_source": self.text_source,
            **({"text": self.text} if self.text is not None else {}),
        }


@dataclass(frozen=True, slots=True)
class FeedRow:
    name: str
    url: str
    last_status: str | None  # "dead" for a feed given up on
    last_error: str | None
    last_warning: str | None
    error_count: int
    last_checked_at: datetime | None
    next_check_at: datetime | None  # None for a dead feed
    interval: int | None  # seconds
    failing_since: datetime | None

    def to_json(self) -> Json:
        return {
            "name": self.name,
            "url": self.url,
            "last_status": self.last_status,
            "last_error": self.last_error,
            "last_warning": self.last_warning,
            "error_count": self.error_count,
            "last_checked_at": iso(self.last_checked_at),
            "next_check_at": iso(self.next_check_at),
            "interval": self.interval,
            "failing_since": iso(self.failing_since),
        }


@dataclass(frozen=True, slots=True)
class AlertRow:
    id: int
    kind: str
    topic: str
    story_id: int | None  # None for a digest or an operator alert
    channel: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime | None
    delivered_at: datetime | None

    def to_json(self) -> Json:
        return {
            "id": self.id,
            "kind": self.kind,
            "topic": self.topic,
            "story_id": self.story_id,
            "channel": self.channel,
            "status": self.status,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "created_at": iso(self.created_at),
            "delivered_at": iso(self.delivered_at),
        }


@dataclass(frozen=True, slots=True)
class Requeued:
    """What ``Store.requeue_failed`` did: the alerts queued again, and those it left as they were."""

    queued: tuple[int, ...]
    not_failed: tuple[tuple[int, str], ...] = ()  # (id, status): pending or delivered, left alone
    missing: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class TopicActivity:
    """What one topic has matched so far."""

    matches: int
    stories: int
    last_matched_at: datetime | None


NO_ACTIVITY = TopicActivity(0, 0, None)


@dataclass(frozen=True, slots=True)
class EntryOutlet:
    """One copy of a story in its feed entry: who carried it, in which language."""

    article_id: int
    title: str
    url: str
    feed: str
    language: str | None
    fetched_at: datetime | None


@dataclass(frozen=True, slots=True)
class StoryEntry:
    """A story as a feed entry: one per story however many copies, updated when it grows."""

    story_id: int
    title: str
    language: str | None
    first_seen: datetime
    updated: datetime  # its newest article's arrival
    topics: tuple[str, ...]
    snippet: str  # the newest match's (of the feed's topic, when it has one)
    outlets: tuple[EntryOutlet, ...]  # oldest first


@dataclass(frozen=True, slots=True)
class FoundArticle:
    """An article a search query matched: the article row of `monitor articles`, and why."""

    id: int
    url: str
    canonical_url: str
    title: str
    language: str | None
    published_at: datetime | None
    feed: str
    story_id: int | None
    text_source: str
    text: str
    score: float
    terms: tuple[str, ...]
    snippet: str

    def to_json(self) -> Json:
        """The JSON shape of `monitor articles --format json`, with score, terms and snippet."""
        return {
            "id": self.id,
            "url": self.url,
            "canonical_url": self.canonical_url,
            "title": self.title,
            "language": self.language,
            "published_at": iso(self.published_at),
            "feed": self.feed,
            "story_id": self.story_id,
            "text_source": self.text_source,
            "text": self.text,
            "score": round(self.score, 3),
            "terms": list(self.terms),
            "snippet": self.snippet,
        }


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One page of search results, newest stored first.

    ``next_cursor`` continues after this page (None: nothing is left). ``bounded`` says the
    page stopped at the scan bound before it was full: fewer items (even none) while more
    may follow ``next_cursor``. ``narrowed`` is False when the query gave the full-text
    index nothing to narrow on (only ``lang:``, ``site:``...): every article was a candidate.
    """

    items: tuple[FoundArticle, ...]
    next_cursor: str | None
    scanned: int
    narrowed: bool
    bounded: bool
