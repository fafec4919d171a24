"""The store's seam: the ``Store`` protocol and the records that cross it.

The pipeline, the dispatcher and the service talk to a ``Store``; ``monitor.store.sql``
keeps it in SQLite or PostgreSQL and ``monitor.store.memory`` in dictionaries, for tests
of what lies above the store (as httpx keeps a mock transport beside its real one).
Both take and return only the records below.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol
from urllib.parse import quote, urlsplit

from monitor import polling, stories
from monitor.changes import ALERT_FAILED, FEED_FAILING, FEED_RECOVERED, OperatorEvent, StoryChange, iso
from monitor.errors import ParseError, StorageError
from monitor.model import AlertContent, Document, Outlet, Routes, TopicMatch

if TYPE_CHECKING:
    # The workers' answer (arrives pickled), and the query side's records: a poll, which
    # never asks for them, does not load them.
    from monitor.article import Analysed
    from monitor.store.records import (
        AlertRow,
        ArticleRow,
        FeedRow,
        Filters,
        MatchRow,
        Requeued,
        SearchPage,
        StoryEntry,
        StoryRow,
        TopicActivity,
    )

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
    outcome: polling.PollOutcome
    error: str | None
    next_check_at: datetime
    interval: timedelta
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    rhythm: polling.Rhythm | None = None  # None: unchanged (the feed was not parsed)
    dead: bool = False
    warning: str | None = None  # read anyway, but worth the operator's eye
    feed: str = ""  # the feed's name and URL, and when its run of failures began before
    url: str = ""  # this poll: what an operator alert says (alerts.operator)
    failing_since: datetime | None = None
    http_status: int | None = None  # the answer's, for an HTTP_ERROR

    @property
    def failed(self) -> bool:
        return self.error is not None

    @property
    def status(self) -> str:
        """What is stored on the feed: "ok", "not modified", "HTTP 404", "error"."""
        return self.outcome.status(self.http_status)


@dataclass(frozen=True, slots=True)
class NewArticle:
    """An analysed article and the feed entry it came from, waiting for ``store_articles``.

    The worker's answer is kept whole, not copied field by field; the properties read it.
    """

    feed_id: int
    guid: str
    analysed: Analysed

    @property
    def document(self) -> Document:
        return self.analysed.document

    @property
    def url(self) -> str:
        return self.analysed.document.url

    @property
    def title(self) -> str:
        return self.analysed.document.title

    @property
    def text(self) -> str:
        return self.analysed.document.text

    @property
    def language(self) -> str | None:
        return self.analysed.document.language

    @property
    def text_source(self) -> str:
        """ "page", "feed" or "rejected: <reason>" (``monitor.model.Document``)."""
        return self.analysed.document.text_source

    @property
    def published_at(self) -> datetime | None:
        return self.analysed.published_at

    @property
    def features(self) -> stories.StoryFeatures:
        return self.analysed.features

    @property
    def matches(self) -> Sequence[TopicMatch]:
        return self.analysed.matches

    @property
    def text_hash(self) -> str | None:
        """``monitor.article.text_identity``: None for text too short to identify an item."""
        return self.analysed.text_hash

    @property
    def page_hash(self) -> str | None:
        """The page's text hash when that text is the article's: the site fingerprint."""
        return self.analysed.page_hash

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


class StoryDecision(Protocol):
    """Which story a new article joins: a stage the orchestrator hands ``store_articles``
    (``monitor.stories.stage.AssignStory``). The store finds the candidates, the articles
    filed under the new one's ``keys`` within ``window``, in the transaction that stores it;
    the decision chooses among them."""

    @property
    def window(self) -> timedelta: ...

    def keys(self, features: stories.StoryFeatures) -> Sequence[str]: ...

    def __call__(
        self, features: stories.StoryFeatures, candidates: Sequence[stories.Candidate]
    ) -> stories.Assignment: ...


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
    content: AlertContent | None  # a topic alert's or an update's story as it is now; None for the other kinds
    id: int = 0
    kind: str = "match"  # "match", "update", "digest" or "operator" (see tables.Alert)
    topic: str = ""
    created_at: datetime | None = None
    payload: str | None = None  # JSON, by kind: an update's change, a digest, an operator event


@dataclass(frozen=True, slots=True)
class Delivery:
    """What one send did: delivered (``error`` None), to retry at ``retry_at``, or given up
    (an ``error`` and no ``retry_at``)."""

    alert_id: int
    at: datetime
    error: str | None = None
    retry_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class OperatorWatch:
    """Where operator alerts go (``alerts.operator``) and how long a feed fails before one."""

    channel: str
    alert_after: timedelta


@dataclass(frozen=True, slots=True)
class DigestEntry:
    """A story that first matched a topic in a digest's window."""

    topic: str
    story_id: int
    title: str  # the story's: its first article's, in that article's language
    language: str | None
    matched_at: datetime
    snippet: str
    outlets: tuple[Outlet, ...]  # its articles stored before the window ended


# --- outbox keys: one row per key, ever, in either store --------------------------------

OPERATOR = "operator"  # the topic (and kind) of operator alerts


def outbox_key(*parts: object) -> str:
    """The unique key of an outbox row: its parts, each percent-encoded, joined by "/"."""
    return "/".join(quote(str(part), safe="") for part in parts)


def match_key(topic: str, story_id: int, channel: str) -> str:
    return outbox_key("alert", topic, story_id, channel)


def update_key(topic: str, story_id: int, change: StoryChange, channel: str) -> str:
    return outbox_key("update", topic, story_id, change.name, channel)


def digest_key(name: str, period_start: datetime) -> str:
    return outbox_key("digest", name, iso(period_start))


@dataclass(frozen=True, slots=True)
class FeedChange:
    """An operator alert a poll queues: under ``key``, once ``needs`` (a key) was queued, if set."""

    key: str
    event: OperatorEvent
    needs: str | None = None


def feed_change(poll: PollRecord, alert_after: timedelta) -> FeedChange | None:
    """A feed failing for ``alert_after`` is told once; its recovery once, if its failure was.

    Both are keyed by when the run of failures began, so each run tells at most two things.
    """
    since = poll.failing_since or poll.checked_at
    failing = outbox_key(OPERATOR, "feed", poll.feed_id, "failing", iso(since))
    if poll.error is not None:
        if poll.checked_at - since < alert_after:
            return None
        return FeedChange(failing, OperatorEvent(FEED_FAILING, poll.feed, poll.checked_at, since, poll.error, poll.url))
    if poll.failing_since is None:
        return None
    recovered = outbox_key(OPERATOR, "feed", poll.feed_id, "recovered", iso(since))
    return FeedChange(
        recovered, OperatorEvent(FEED_RECOVERED, poll.feed, poll.checked_at, since, None, poll.url), failing
    )


def given_up(
    alert_id: int, kind: str, topic: str, channel: str, attempts: int, error: str, now: datetime
) -> FeedChange:
    """The operator alert of an alert given up; again after a retry (its attempts differ)."""
    event = OperatorEvent(ALERT_FAILED, f"{kind} alert {alert_id} ({topic})", now, None, error, None, channel, attempts)
    return FeedChange(outbox_key(OPERATOR, "alert", alert_id, "failed", attempts), event)


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
class Pruned:
    """What one retention run removed."""

    articles: int  # whose text and story features were emptied
    story_keys: int


@dataclass(frozen=True, slots=True)
class Backlog:
    """What waits in the shared database: the same figures for every worker."""

    oldest_pending_alert: timedelta  # zero when nothing waits
    feeds_due: int  # due and held by no worker


class Store(Protocol):
    """Everything the monitor keeps. Each call is one short transaction with no I/O but the
    database's, safe to run on a thread; records in, records out.

    The query side (what the CLI and the API show) reads records of ``monitor.store.records``;
    lists are newest first and ``after`` continues one after the key of the last row seen
    (an id; a feed's name). ``search`` needs a full-text index: ``MemoryStore`` has none
    and raises ``NotImplementedError`` naming itself.
    """

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

    def next_feed_due(self) -> datetime | None:
        """When the next feed falls due: its next check, or its lease's end if that is later
        (a feed being polled, here or by another worker, is not due before). None: no feed."""

    def record_polls(self, records: Sequence[PollRecord], operator: OperatorWatch | None = None) -> None:
        """How each poll went and when to poll next; releases the feeds' leases. A feed failing
        for ``operator.alert_after``, or recovered after that, queues an operator alert with it."""

    def new_entries(self, feed_id: int, entries: Sequence[tuple[str, str]]) -> tuple[set[str], set[str]]:
        """Of a feed's (guid, link) entries: the GUIDs it has not delivered before, and the
        links among theirs that another feed brought already."""

    # --- articles, stories, matches, outbox rows
    def store_articles(
        self,
        batch: Sequence[NewArticle],
        routes: Routes,
        assign_story: StoryDecision,
        now: datetime,
        *,
        updates: Collection[str] = (),
    ) -> list[Stored]:
        """Store a batch in one transaction: per article the story ``assign_story`` chose
        among the candidates found here, its matches, one outbox row per (topic, story,
        routed channel) not alerted yet, and the story updates it causes for the topics in
        ``updates``; an outcome per article."""

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

    def load_alerts(self, ids: Sequence[int]) -> list[DueAlert]:
        """The outbox rows ``ids`` that still exist and everything their messages say, read at send time."""

    def record_deliveries(self, deliveries: Sequence[Delivery], operator: str | None = None) -> None:
        """What the sends did, in one transaction; each alert's lease ends. A failure without
        ``retry_at`` gives the alert up (status "failed") and tells ``operator``."""

    # --- digests
    def digest_entries(self, topics: Sequence[str], since: datetime, until: datetime) -> list[DigestEntry]:
        """The stories that first matched one of ``topics`` in [since, until), once per topic."""

    def digest_queued(self, name: str, period_start: datetime) -> bool:
        """Whether the digest of this period was queued (by any process)."""

    def last_digest(self, name: str) -> str | None:
        """The payload of the newest digest of this name ever queued."""

    def queue_digest(self, name: str, period_start: datetime, payload: str, channel: str, now: datetime) -> int | None:
        """Queue a period's digest; None when it was queued already."""

    # --- leases and health
    def renew_leases(self, owner: str, held: HeldLeases, until: datetime) -> None: ...

    def lease_owners(self) -> set[str]:
        """Every worker holding a lease on a feed or an alert, expired or not."""

    def release_leases(self, owner: str, keep: HeldLeases | None = None) -> None:
        """Give back what ``owner`` holds, but the work in ``keep``."""

    def schema_is_current(self) -> bool:
        """Whether the database's schema is this version's (False: `monitor db upgrade` is due)."""

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
        self, article_id: int, story_id: int, matches: Sequence[TopicMatch], routes: Routes, now: datetime
    ) -> tuple[str, ...]:
        """The matches a new topic finds in history, with outbox rows on their routes; the channel
        of each alert queued."""

    # --- what people and programs ask (the CLI's query commands, the API)
    def matches(self, filters: Filters, *, limit: int = 50, after: int | None = None) -> list[MatchRow]:
        """Stored matches by when they matched."""

    def stories(self, filters: Filters, *, limit: int = 50, after: int | None = None) -> list[StoryRow]:
        """Stories by first sight, each with its articles and the topics it matched."""

    def story(self, story_id: int) -> StoryRow | None: ...

    def articles(
        self, filters: Filters, *, limit: int = 50, after: int | None = None, with_text: bool = True
    ) -> list[ArticleRow]:
        """Stored articles by arrival; without ``with_text`` their texts are not read."""

    def article(self, article_id: int) -> ArticleRow | None: ...

    def feeds(self, *, failing: bool = False, limit: int = 1000, after: str | None = None) -> list[FeedRow]:
        """Polled feeds by name; ``failing``: those failing or dead."""

    def alerts(
        self,
        *,
        topic: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        after: int | None = None,
    ) -> list[AlertRow]:
        """The outbox by when each row was queued."""

    def alert(self, alert_id: int) -> AlertRow | None: ...

    def topic_activity(self) -> dict[str, TopicActivity]:
        """Per topic with a stored match: how much it matched, and when last."""

    def story_entries(self, *, topic: str | None = None, limit: int = 50) -> list[StoryEntry]:
        """The stories of the newest matches (of ``topic``, or of any), the most recently grown first."""

    def search(
        self,
        query: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> SearchPage:
        """Stored articles (fetched in [since, until)) ``query`` matches, in the topic language,
        newest first; raises ``QueryError`` for a bad query and ``UsageError`` for a cursor no
        search gave."""

    def retry_failed_alert(self, alert_id: int, now: datetime) -> str | None:
        """Queue a failed alert again, due ``now``: the status it had (None: no such alert)."""

    def requeue_failed(self, ids: Sequence[int] | None, now: datetime) -> Requeued:
        """Queue the failed alerts of ``ids`` (every failed one when None) again, due ``now``."""

    # --- retention
    def prune(self, before: datetime) -> Pruned:
        """Retention: empty the text and story features of the articles fetched before
        ``before`` and forget their story keys; rows, matches, alerts and stories stay.
        The caller keeps ``before`` at least a story window in the past."""

    # --- operations
    def backlog(self, now: datetime) -> Backlog:
        """How long the oldest undelivered alert has waited, and how many due feeds no worker holds."""
