"""The store's seam: the ``Store`` protocol and the records that cross it.

The pipeline, the dispatcher and the service talk to a ``Store``; ``monitor.store.sql``
keeps it in SQLite or PostgreSQL and ``monitor.store.memory`` in dictionaries, for tests
of what lies above the store (as httpx keeps a mock transport beside its real one).
Both take and return only the records below.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol
from urllib.parse import urlsplit

from monitor import polling, stories
from monitor.errors import ParseError, StorageError
from monitor.model import AlertContent, Document, TopicMatch

# A lease is short and renewed while its work goes on (service: the heartbeat), so a
# worker that dies leaves its feeds and alerts to the others within about this long.
LEASE = timedelta(seconds=60)

DISCOVERED = "discovered"  # the origin of a feed a page announced (a stranger's URL)
SITE_TEXT_PAGES = 2  # other links of one site with the same page text make it the site's text


class WantedFeed(Protocol):
    """A feed the configuration asks for (``monitor.config.FeedConfig`` is one)."""

    @property
    def url(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def interval(self) -> timedelta | None: ...  # a fixed polling interval overriding the adaptive one


@dataclass(frozen=True, slots=True)
class FeedState:
    """What polling one feed needs to know about it."""

    id: int
    name: str
    url: str
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    error_count: int
    failing_since: datetime | None
    interval_override: timedelta | None
    rhythm: polling.Rhythm
    trusted: bool = True  # False for a feed a page announced: fetched under fetch.allow_networks


@dataclass(frozen=True, slots=True)
class PollRecord:
    """The outcome of polling one feed, as stored on it."""

    feed_id: int
    checked_at: datetime
    status: str  # "ok", "not modified", "HTTP 404", "error"
    error: str | None
    next_check_at: datetime
    interval: timedelta
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    rhythm: polling.Rhythm | None = None  # None: unchanged (the feed was not parsed)
    dead: bool = False
    warning: str | None = None  # read anyway, but worth the operator's eye

    @property
    def failed(self) -> bool:
        return self.error is not None


@dataclass(frozen=True, slots=True)
class NewArticle:
    feed_id: int
    guid: str
    url: str
    title: str
    text: str
    language: str | None
    published_at: datetime | None
    features: stories.StoryFeatures
    text_hash: str | None  # monitor.analysis.text_identity: None for text too short to identify an item
    text_source: str = "page"  # "page", "feed" or "rejected: <reason>" (monitor.model.Document)
    page_hash: str | None = None  # the page's text hash when that text is the article's: the site fingerprint

    @property
    def site(self) -> str:
        """The link's host without "www.", which the site fingerprint counts pages of ("" when none)."""
        host = urlsplit(self.url).hostname or ""
        return host.removeprefix("www.")

    @property
    def canonical_url(self) -> str:
        """The link without tracking noise; an entry without a usable link is known by its GUID."""
        try:
            return stories.canonical_url(self.url)
        except ParseError:
            return f"guid:{self.feed_id}:{self.guid}"


@dataclass(frozen=True, slots=True)
class StoredArticle:
    article_id: int
    story_id: int
    new_story: bool
    signal: str
    matches: int
    queued_on: tuple[str, ...]  # the channel of each alert queued

    @property
    def alerts(self) -> int:
        return len(self.queued_on)


@dataclass(frozen=True, slots=True)
class ToStore:
    """One analysed article and the topics it matched, waiting for ``store_articles``."""

    article: NewArticle
    matches: Sequence[TopicMatch]


@dataclass(frozen=True, slots=True)
class SiteBoilerplate:
    """Not stored: the page's text is what its site served for ``pages`` other links too (a
    consent wall or an interstitial nobody recognised), so it is not this article's text."""

    pages: int


Stored = StoredArticle | SiteBoilerplate | None | Exception  # one article's outcome (None: a duplicate)


@dataclass
class HeldLeases:
    """The feeds and alerts this process is working on now: what its heartbeat renews.

    A row leased but dropped from here (its poll abandoned) is left to expire, so
    another worker, or this one later, picks it up.
    """

    feeds: set[int] = field(default_factory=set)
    alerts: set[int] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class DueAlert:
    """An outbox row on its way out: where it goes, how often it was tried, what it says."""

    channel: str
    attempts: int
    content: AlertContent


def idempotency_key(topic: str, story_id: int, channel: str) -> str:
    """Stable per (topic, story, channel): a receiver drops a redelivery by it."""
    slug = "-".join(stories_slug(topic))
    return f"monitor-{slug}-{story_id}-{channel.replace(':', '-')}"


def stories_slug(text: str) -> list[str]:
    return [w for w in "".join(c if c.isalnum() else " " for c in text.lower()).split() if w]


def free_name(name: str, taken: set[str]) -> str:
    """``name``, or ``name-2``, ``name-3``... when taken; the name chosen is then taken."""
    chosen, n = name, 1
    while chosen in taken:
        n += 1
        chosen = f"{name}-{n}"
    taken.add(chosen)
    return chosen


@dataclass(frozen=True, slots=True)
class Backlog:
    """What waits in the shared database: the same figures for every worker."""

    oldest_pending_alert: timedelta  # zero when nothing waits
    feeds_due: int  # due and held by no worker


class Store(Protocol):
    """Everything the monitor keeps. Each call is one short transaction with no I/O but the
    database's, safe to run on a thread; records in, records out."""

    def close(self) -> None:
        """Let go of the database (its connections); the store is not used after."""

    # --- feeds
    def sync_feeds(self, feeds: Sequence[WantedFeed], now: datetime) -> None:
        """Make the polled feeds follow the configuration; feeds added by hand are left alone."""

    def add_feed(self, url: str, name: str, now: datetime, *, discovered: bool = False) -> str | None:
        """Add a feed by hand: the name it got, or None when its URL is polled already."""

    def active_feeds(self) -> list[tuple[str, str]]:
        """(name, url) of every polled feed, by name."""

    def claim_due_feeds(
        self, owner: str, now: datetime, *, lease: timedelta = LEASE, names: Iterable[str] | None = None
    ) -> list[FeedState]:
        """Lease the feeds whose time has come; with ``names``, those feeds due or not (empty: all)."""

    def record_polls(self, records: Sequence[PollRecord]) -> None:
        """How each poll went and when to poll next; releases the feeds' leases."""

    def new_entries(self, feed_id: int, entries: Sequence[tuple[str, str]]) -> tuple[set[str], set[str]]:
        """Of a feed's (guid, link) entries: the GUIDs it has not delivered before, and the
        links among theirs that another feed brought already."""

    # --- articles, stories, matches, outbox rows
    def store_articles(
        self, batch: Sequence[ToStore], channels: Sequence[str], rules: stories.StoryRules, now: datetime
    ) -> list[Stored]:
        """Store a batch in one transaction: per article its story, matches and one outbox row
        per (topic, story, channel) not alerted yet; an outcome per article."""

    # --- the outbox
    def claim_due_alerts(
        self,
        owner: str,
        now: datetime,
        *,
        limit: int = 100,
        lease: timedelta = LEASE,
        channels: Sequence[str] | None = None,
        other_than: Sequence[str] | None = None,
    ) -> list[int]:
        """Lease due alerts of ``channels`` (all when None), or of every channel but ``other_than``."""

    def load_alert(self, alert_id: int) -> DueAlert | None:
        """An outbox row and everything its message says, read at send time."""

    def mark_delivered(self, alert_id: int, now: datetime) -> None: ...

    def mark_attempt_failed(self, alert_id: int, error: str, retry_at: datetime | None) -> None:
        """A failed delivery; ``retry_at`` None gives up (status "failed")."""

    # --- leases and health
    def renew_leases(self, owner: str, held: HeldLeases, until: datetime) -> None: ...

    def lease_owners(self) -> set[str]:
        """Every worker holding a lease on a feed or an alert, expired or not."""

    def release_leases(self, owner: str, keep: HeldLeases | None = None) -> None:
        """Give back what ``owner`` holds, but the work in ``keep``."""

    def probe_write(self) -> None:
        """A write that changes nothing: raises StorageError while writes are refused."""

    def can_write_again(self) -> bool:
        """After a StorageError: True once a write may succeed (a full disk freed, say)."""

    def storage_error(self, exc: BaseException) -> StorageError | None:
        """``exc`` as the StorageError it means (disk full, database gone...), else None."""

    # --- topics
    def changed_topics(self, queries: dict[str, str], now: datetime) -> list[str]:
        """Record the configured queries; the names that are new or whose query changed."""

    def stored_documents(self, since: datetime) -> Iterator[tuple[int, int, Document]]:
        """(article id, story id, document) of every article fetched since ``since``, oldest first."""

    def store_backfill(
        self, article_id: int, story_id: int, matches: Sequence[TopicMatch], channels: Sequence[str], now: datetime
    ) -> tuple[str, ...]:
        """The matches a new topic finds in history, with outbox rows on ``channels``; the channel of
        each alert queued."""

    # --- operations
    def backlog(self, now: datetime) -> Backlog:
        """How long the oldest undelivered alert has waited, and how many due feeds no worker holds."""
