"""The store in dictionaries: ``Store`` for tests of what lies above the store.

It keeps the promises the SQL store keeps (one row per item, one outbox row per key:
(topic, story, channel), a story update, a digest's period, a feed's change of state;
leases, the story decision over shared index keys) and nothing of its cost;
``tests/unit/test_store_contract.py`` runs the same checks on both, so the
two cannot drift apart. It is not durable and not shared between processes.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

from monitor import polling, stories
from monitor.changes import story_changes
from monitor.errors import ParseError, StorageError
from monitor.model import REJECTED, AlertContent, Document, Outlet, Routes, TopicMatch
from monitor.store.interface import (
    DISCOVERED,
    LEASE,
    OPERATOR,
    SITE_TEXT_PAGES,
    Backlog,
    Delivery,
    DigestEntry,
    DueAlert,
    FeedChange,
    FeedState,
    HeldLeases,
    NewArticle,
    OperatorWatch,
    PollRecord,
    Pruned,
    SiteBoilerplate,
    Store,
    Stored,
    StoredArticle,
    StoryDecision,
    WantedFeed,
    digest_key,
    feed_change,
    free_name,
    given_up,
    idempotency_key,
    match_key,
    update_key,
)
from monitor.store.records import (
    AlertRow,
    ArticleRow,
    EntryOutlet,
    FeedRow,
    Filters,
    MatchRow,
    Requeued,
    SearchPage,
    StoryEntry,
    StoryMember,
    StoryRow,
    TopicActivity,
)

CANDIDATES_PER_ARTICLE = 20  # as the SQL store: the stored articles sharing the most keys
MATCHES_PER_ENTRY = 4  # as the SQL store: newest matches read per story entry wanted

R = TypeVar("R")
_EARLIEST = datetime.min.replace(tzinfo=UTC)


def _newest_first(
    rows: Iterable[R], stamp: Callable[[R], datetime | None], key: Callable[[R], int], after: int | None, limit: int
) -> list[R]:
    """As the SQL store pages: by (stamp, id) descending, from after the row ``after`` on."""
    ordered = sorted(rows, key=lambda r: (stamp(r) or _EARLIEST, key(r)), reverse=True)
    if after is not None:
        pivot = next((r for r in ordered if key(r) == after), None)
        if pivot is None:
            return []  # as in SQL: no such row, nothing after it
        start = (stamp(pivot) or _EARLIEST, after)
        ordered = [r for r in ordered if (stamp(r) or _EARLIEST, key(r)) < start]
    return ordered[:limit]


def _within(moment: datetime | None, since: datetime | None, until: datetime | None) -> bool:
    if moment is None:
        return since is None and until is None
    return (since is None or moment >= since) and (until is None or moment < until)


@dataclass
class _Leased:
    id: int
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None

    def free(self, now: datetime) -> bool:
        return self.lease_expires_at is None or self.lease_expires_at < now


@dataclass
class _Feed(_Leased):
    name: str = ""
    url: str = ""
    origin: str = "config"
    active: bool = True
    dead: bool = False
    next_check_at: datetime | None = None
    interval_override: timedelta | None = None
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    error_count: int = 0
    failing_since: datetime | None = None
    rhythm: polling.Rhythm = field(default_factory=polling.Rhythm)
    last_status: str | None = None
    last_error: str | None = None
    last_warning: str | None = None
    last_checked_at: datetime | None = None
    interval: timedelta | None = None


@dataclass
class _Article:
    id: int
    new: NewArticle
    canonical_url: str
    text_hash: str | None
    story_id: int
    keys: list[str]
    fetched_at: datetime
    similarity: float = 1.0  # to the closest article of its story when it joined
    signal: str = "first article"


@dataclass
class _Story:
    id: int
    title: str
    language: str | None
    first_seen: datetime
    last_seen: datetime
    article_count: int = 1


@dataclass
class _Alert(_Leased):
    key: str = ""
    kind: str = "match"
    topic: str = ""
    story_id: int = 0
    match: TopicMatch | None = None  # a topic alert's or an update's: the story's first match of the topic
    article_id: int = 0  # the matched article
    channel: str = ""
    payload: str | None = None
    status: str = "pending"
    attempts: int = 0
    created_at: datetime | None = None
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    delivered_at: datetime | None = None


class MemoryStore:
    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self._feeds: dict[int, _Feed] = {}
        self._articles: dict[int, _Article] = {}
        self._stories: dict[int, _Story] = {}
        self._matches: dict[tuple[str, int], TopicMatch] = {}  # (topic, article id): one match each
        self._matched: dict[tuple[str, int], tuple[datetime, bool]] = {}  # when, and whether by a backfill
        self._alerts: dict[int, _Alert] = {}
        self._site_pages: dict[tuple[str, str], int] = {}  # (site, page text hash) -> links seen
        self._topics: dict[str, str] = {}
        self._match_ids: dict[tuple[str, int], int] = {}

    def close(self) -> None:
        pass

    # --- feeds
    def sync_feeds(self, feeds: Sequence[WantedFeed], now: datetime) -> None:
        wanted = {f.url: f for f in feeds}
        by_url = {f.url: f for f in self._feeds.values()}
        for feed in by_url.values():
            if (cfg := wanted.get(feed.url)) is not None:
                feed.origin, feed.active, feed.interval_override = "config", True, cfg.interval
            elif feed.origin == "config":
                feed.active = False
        taken = {f.name for f in self._feeds.values()}
        for cfg in feeds:
            existing = by_url.get(cfg.url)
            if existing is None:
                new = _Feed(next(self._ids), name=free_name(cfg.name, taken), url=cfg.url)
                new.next_check_at, new.interval_override = now, cfg.interval
                self._feeds[new.id] = new
            elif existing.name != cfg.name and cfg.name not in taken:
                taken.discard(existing.name)
                existing.name = cfg.name
                taken.add(cfg.name)

    def add_feed(self, url: str, name: str, now: datetime, *, discovered: bool = False) -> str | None:
        origin = DISCOVERED if discovered else "cli"
        for feed in self._feeds.values():
            if feed.url == url:
                if feed.active:
                    return None
                feed.active, feed.origin = True, origin
                return feed.name
        new = _Feed(next(self._ids), name=free_name(name, {f.name for f in self._feeds.values()}), url=url)
        new.origin, new.next_check_at = origin, now
        self._feeds[new.id] = new
        return new.name

    def active_feeds(self) -> list[tuple[str, str]]:
        return sorted((f.name, f.url) for f in self._feeds.values() if f.active)

    def claim_due_feeds(
        self, owner: str, now: datetime, *, lease: timedelta = LEASE, names: Iterable[str] | None = None
    ) -> list[FeedState]:
        chosen = set(names) if names is not None else None
        due = [
            f
            for f in self._feeds.values()
            if f.active
            and not f.dead
            and f.free(now)
            and (
                f.next_check_at is not None and f.next_check_at <= now
                if chosen is None
                else not chosen or f.name in chosen
            )
        ]
        if chosen is None:
            due = sorted(due, key=lambda f: f.next_check_at or now)[:500]
        for feed in due:
            feed.lease_owner, feed.lease_expires_at = owner, now + lease
        return [
            FeedState(
                id=f.id,
                name=f.name,
                url=f.url,
                etag=f.etag,
                last_modified=f.last_modified,
                body_hash=f.body_hash,
                error_count=f.error_count,
                failing_since=f.failing_since,
                interval_override=f.interval_override,
                rhythm=f.rhythm,
                trusted=f.origin != DISCOVERED,
            )
            for f in sorted(due, key=lambda f: f.name)
        ]

    def next_feed_due(self) -> datetime | None:
        due = [
            max(f.next_check_at, f.lease_expires_at) if f.lease_expires_at else f.next_check_at
            for f in self._feeds.values()
            if f.active and not f.dead and f.next_check_at is not None
        ]
        return min(due, default=None)

    def record_polls(self, records: Sequence[PollRecord], operator: OperatorWatch | None = None) -> None:
        for r in records:
            change = feed_change(r, operator.alert_after) if operator is not None else None
            if operator is not None and change is not None and (change.needs is None or self._queued(change.needs)):
                self._queue_operator(change, operator.channel, r.checked_at)
            feed = self._feeds[r.feed_id]
            feed.next_check_at, feed.dead = r.next_check_at, r.dead
            feed.last_status, feed.last_error, feed.last_warning = r.status, r.error, r.warning
            feed.last_checked_at, feed.interval = r.checked_at, r.interval
            feed.lease_owner = feed.lease_expires_at = None
            feed.error_count = feed.error_count + 1 if r.failed else 0
            feed.failing_since = (feed.failing_since or r.checked_at) if r.failed else None
            if r.outcome is polling.PollOutcome.OK:  # a 304 or a failure keeps the last parse's validators and rhythm
                feed.etag, feed.last_modified, feed.body_hash = r.etag, r.last_modified, r.body_hash
                feed.rhythm = r.rhythm or feed.rhythm

    def new_entries(self, feed_id: int, entries: Sequence[tuple[str, str]]) -> tuple[set[str], set[str]]:
        seen = {a.new.guid for a in self._articles.values() if a.new.feed_id == feed_id}
        stored = {a.canonical_url for a in self._articles.values()}
        known = set()
        for guid, url in entries:
            if url and guid not in seen:
                try:
                    if stories.canonical_url(url) in stored:
                        known.add(url)
                except ParseError:
                    continue
        return {guid for guid, _ in entries} - seen, known

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
        return [self._store_one(new, routes, assign_story, now, updates) for new in batch]

    def _store_one(
        self, new: NewArticle, routes: Routes, assign_story: StoryDecision, now: datetime, updates: Collection[str]
    ) -> Stored:
        page = (new.site, new.page_hash) if new.page_hash and new.site else None
        site_pages = self._site_pages.get(page, 0) if page else 0
        text_hash = None if site_pages else new.text_hash
        if self._is_duplicate(new, new.canonical_url, text_hash):
            return None  # a link counted once
        if page:
            self._site_pages[page] = site_pages + 1
        if site_pages >= SITE_TEXT_PAGES:
            return SiteBoilerplate(site_pages)
        keys = list(assign_story.keys(new.features))
        assignment = assign_story(new.features, self._candidates(keys, now - assign_story.window))
        story = self._stories.get(assignment.story_id) if assignment.story_id is not None else None
        joined = story is not None
        if story is None:
            story = _Story(next(self._ids), new.title, new.language, now, now, 0)
            self._stories[story.id] = story
        story.last_seen, story.article_count = now, story.article_count + 1
        before = [a for a in self._articles.values() if a.story_id == story.id] if joined and updates else []
        signal = assignment.signal if joined else "first article"
        similarity = assignment.similarity if joined else 1.0
        article = _Article(next(self._ids), new, new.canonical_url, text_hash, story.id, keys, now, similarity, signal)
        self._articles[article.id] = article
        alerts = self._add_matches(article, new.matches, routes, now)
        if before:
            alerts += self._queue_updates(before, article, updates, now)
        return StoredArticle(article.id, story.id, not joined, signal, len(new.matches), alerts)

    def _is_duplicate(self, new: NewArticle, canonical_url: str, text_hash: str | None) -> bool:
        return any(
            (a.new.feed_id == new.feed_id and a.new.guid == new.guid)
            or a.canonical_url == canonical_url
            or (text_hash is not None and a.text_hash == text_hash)
            for a in self._articles.values()
        )

    def _candidates(self, keys: Sequence[str], since: datetime) -> list[stories.Candidate]:
        wanted = set(keys)
        shared = [(len(wanted.intersection(a.keys)), a) for a in self._articles.values() if a.fetched_at >= since]
        best = sorted((pair for pair in shared if pair[0]), key=lambda pair: (-pair[0], -pair[1].id))
        return [stories.Candidate(a.id, a.story_id, a.new.features) for _, a in best[:CANDIDATES_PER_ARTICLE]]

    def _add_matches(
        self, article: _Article, matches: Sequence[TopicMatch], routes: Routes, now: datetime, backfill: bool = False
    ) -> tuple[str, ...]:
        queued: list[str] = []
        for found in matches:
            self._matches[(found.topic, article.id)] = found
            self._matched[(found.topic, article.id)] = (now, backfill)
            self._match_ids[(found.topic, article.id)] = next(self._ids)
            for channel in routes.of(found.topic):
                alert = _Alert(next(self._ids), topic=found.topic, story_id=article.story_id, match=found)
                alert.article_id, alert.channel = article.id, channel
                if self._queue(alert, match_key(found.topic, article.story_id, channel), now):
                    queued.append(channel)
        return tuple(queued)

    def _queue(self, alert: _Alert, key: str, now: datetime) -> int:
        """Add the row unless its key is queued already (one alert per key); 1 when added."""
        if self._queued(key):
            return 0
        alert.key, alert.created_at, alert.next_attempt_at = key, now, now
        self._alerts[alert.id] = alert
        return 1

    def _queued(self, key: str) -> bool:
        return any(a.key == key for a in self._alerts.values())

    def _queue_updates(
        self, before: list[_Article], article: _Article, updates: Collection[str], now: datetime
    ) -> tuple[str, ...]:
        alerted = [
            a
            for a in self._alerts.values()
            if a.kind == "match" and a.story_id == article.story_id and a.topic in updates
        ]
        feeds = {a.new.feed_id for a in before}
        languages = {a.new.language for a in before if a.new.language}
        queued: list[str] = []
        for change in story_changes(feeds, languages, article.new.feed_id, article.new.language):
            for first in alerted:
                update = _Alert(next(self._ids), kind="update", topic=first.topic, story_id=first.story_id)
                update.match, update.article_id, update.channel = first.match, first.article_id, first.channel
                update.payload = json.dumps({"change": change.to_json(), "article_id": article.id})
                if self._queue(update, update_key(first.topic, first.story_id, change, first.channel), now):
                    queued.append(first.channel)
        return tuple(queued)

    def _queue_operator(self, change: FeedChange, channel: str, now: datetime) -> None:
        notice = _Alert(next(self._ids), kind=OPERATOR, topic=OPERATOR, channel=channel)
        notice.payload = change.event.to_payload()
        self._queue(notice, change.key, now)

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
        due = [
            a
            for a in self._alerts.values()
            if a.status == "pending"
            and a.next_attempt_at is not None
            and a.next_attempt_at <= now
            and a.free(now)
            and (channels is None or a.channel in channels)
            and (other_than is None or a.channel not in other_than)
        ]
        due = sorted(due, key=lambda a: (a.next_attempt_at or now, a.id))[:limit]
        for alert in due:
            alert.lease_owner, alert.lease_expires_at = owner, now + lease
        return [a.id for a in due]

    def load_alerts(self, ids: Sequence[int]) -> list[DueAlert]:
        return [due for due in map(self._load_alert, sorted(ids)) if due is not None]

    def _load_alert(self, alert_id: int) -> DueAlert | None:
        alert = self._alerts.get(alert_id)
        if alert is None:
            return None
        row = (alert.channel, alert.attempts)
        if alert.kind in ("digest", OPERATOR):
            return DueAlert(*row, None, alert.id, alert.kind, alert.topic, alert.created_at, alert.payload)
        if alert.match is None or alert.story_id not in self._stories:
            return None
        story = self._stories[alert.story_id]
        members = sorted((a for a in self._articles.values() if a.story_id == story.id), key=lambda a: a.id)
        outlets = {
            a.id: Outlet(
                a.id, a.new.url, a.new.title, a.new.language, self._feeds[a.new.feed_id].name, a.new.published_at
            )
            for a in members
        }
        content = AlertContent(
            alert_id=alert.id,
            topic=alert.topic,
            story_id=story.id,
            story_title=story.title,
            first_seen=story.first_seen,
            article=outlets[alert.article_id],
            outlets=tuple(outlets.values()),
            score=alert.match.score,
            terms=alert.match.terms,
            snippet=alert.match.snippet,
            idempotency_key=idempotency_key(alert.topic, story.id, alert.channel),
            created_at=alert.created_at or story.first_seen,
        )
        return DueAlert(*row, content, alert.id, alert.kind, alert.topic, alert.created_at, alert.payload)

    def _feed_name(self, article: _Article) -> str:
        return self._feeds[article.new.feed_id].name

    def record_deliveries(self, deliveries: Sequence[Delivery], operator: str | None = None) -> None:
        for d in deliveries:
            if (alert := self._alerts.get(d.alert_id)) is None:
                continue
            alert.attempts, alert.last_error = alert.attempts + 1, d.error
            alert.lease_owner = alert.lease_expires_at = None
            if d.error is None:
                alert.status, alert.delivered_at = "delivered", d.at
            elif d.retry_at is not None:
                alert.next_attempt_at = d.retry_at
            else:
                alert.status = "failed"
                if operator is not None and alert.kind != OPERATOR:
                    now = datetime.now(UTC)  # the notice is new now, whatever clock the sender keeps
                    change = given_up(alert.id, alert.kind, alert.topic, alert.channel, alert.attempts, d.error, now)
                    self._queue_operator(change, operator, now)

    # --- digests
    def digest_entries(self, topics: Sequence[str], since: datetime, until: datetime) -> list[DigestEntry]:
        first: dict[tuple[str, int], tuple[datetime, int]] = {}  # (topic, story) -> when, article
        for (topic, article_id), (when, backfill) in self._matched.items():
            story_id = self._articles[article_id].story_id
            if (
                topic in topics
                and not backfill
                and ((topic, story_id) not in first or when < first[(topic, story_id)][0])
            ):
                first[(topic, story_id)] = (when, article_id)
        entries = []
        for (topic, story_id), (when, article_id) in sorted(first.items(), key=lambda item: item[1]):
            if since <= when < until:
                story = self._stories[story_id]
                members = sorted(
                    (a for a in self._articles.values() if a.story_id == story_id and a.fetched_at < until),
                    key=lambda a: (a.fetched_at, a.id),
                )
                outlets = tuple(
                    Outlet(a.id, a.new.url, a.new.title, a.new.language, self._feed_name(a), a.new.published_at)
                    for a in members
                )
                language = self._articles[min(a.id for a in members)].new.language if members else None
                snippet = self._matches[(topic, article_id)].snippet
                entries.append(DigestEntry(topic, story_id, story.title, language, when, snippet, outlets))
        return entries

    def digest_queued(self, name: str, period_start: datetime) -> bool:
        return self._queued(digest_key(name, period_start))

    def last_digest(self, name: str) -> str | None:
        digests = [a for a in self._alerts.values() if a.kind == "digest" and a.topic == name]
        return max(digests, key=lambda a: a.id).payload if digests else None

    def queue_digest(self, name: str, period_start: datetime, payload: str, channel: str, now: datetime) -> int | None:
        digest = _Alert(next(self._ids), kind="digest", topic=name, channel=channel, payload=payload)
        return digest.id if self._queue(digest, digest_key(name, period_start), now) else None

    # --- leases and health
    def _leased(self) -> Iterator[_Leased]:
        yield from self._feeds.values()
        yield from self._alerts.values()

    def renew_leases(self, owner: str, held: HeldLeases, until: datetime) -> None:
        for rows, ids in ((self._feeds, held.feeds), (self._alerts, held.alerts)):
            for i in ids:
                row = rows.get(i)
                if row is not None and row.lease_owner == owner:
                    row.lease_expires_at = until

    def lease_owners(self) -> set[str]:
        return {row.lease_owner for row in self._leased() if row.lease_owner is not None}

    def release_leases(self, owner: str, keep: HeldLeases | None = None) -> None:
        kept = keep or HeldLeases()
        for rows, ids in ((self._feeds, kept.feeds), (self._alerts, kept.alerts)):
            for row in rows.values():
                if row.lease_owner == owner and row.id not in ids:
                    row.lease_owner = row.lease_expires_at = None

    def schema_is_current(self) -> bool:
        return True  # it has none: what it keeps is the code's own

    def probe_write(self) -> None:
        pass

    def can_write_again(self) -> bool:
        return True

    def storage_error(self, exc: BaseException) -> StorageError | None:
        return exc if isinstance(exc, StorageError) else None

    # --- topics
    def changed_topics(self, queries: dict[str, str], now: datetime) -> list[str]:
        changed = [name for name, query in queries.items() if self._topics.get(name) != query]
        self._topics.update(queries)
        return changed

    def stored_documents(self, since: datetime) -> Iterator[tuple[int, int, Document]]:
        for a in sorted(self._articles.values(), key=lambda a: a.id):
            if a.fetched_at >= since:
                text = "" if a.new.text_source.startswith(REJECTED) else a.new.text
                document = Document(a.new.title, text, a.new.language, a.new.url, a.new.text_source)
                yield a.id, a.story_id, document

    def store_backfill(
        self, article_id: int, story_id: int, matches: Sequence[TopicMatch], routes: Routes, now: datetime
    ) -> tuple[str, ...]:
        if any((found.topic, article_id) in self._matches for found in matches):
            return ()  # matched already
        return self._add_matches(self._articles[article_id], matches, routes, now, backfill=True)

    # --- what people and programs ask
    def matches(self, filters: Filters, *, limit: int = 50, after: int | None = None) -> list[MatchRow]:
        rows = []
        for (topic, article_id), found in self._matches.items():
            article = self._articles[article_id]
            when, backfill = self._matched[(topic, article_id)]
            if (
                (filters.topic and topic != filters.topic)
                or (filters.story_id is not None and article.story_id != filters.story_id)
                or (filters.lang and article.new.language != filters.lang)
                or (filters.feed and self._feed_name(article) != filters.feed)
                or not _within(when, filters.since, filters.until)
            ):
                continue
            new = article.new
            rows.append(
                MatchRow(
                    self._match_ids[(topic, article_id)],
                    topic,
                    article_id,
                    new.url,
                    new.title,
                    new.language,
                    new.published_at,
                    article.story_id,
                    found.score,
                    found.terms,
                    found.snippet,
                    when,
                    backfill,
                )
            )
        return _newest_first(rows, lambda m: m.matched_at, lambda m: m.id, after, limit)

    def stories(self, filters: Filters, *, limit: int = 50, after: int | None = None) -> list[StoryRow]:
        chosen = []
        for story in self._stories.values():
            members = self._members(story.id)
            if (
                (filters.story_id is not None and story.id != filters.story_id)
                or (filters.topic and not any(t == filters.topic for t, a in self._matches if a in members))
                or (filters.lang and not any(a.new.language == filters.lang for a in members.values()))
                or (filters.feed and not any(self._feed_name(a) == filters.feed for a in members.values()))
                or (filters.since and story.last_seen < filters.since)
                or (filters.until and story.first_seen >= filters.until)
            ):
                continue
            chosen.append(story)
        found = _newest_first(chosen, lambda s: s.first_seen, lambda s: s.id, after, limit)
        return [self._story_row(story) for story in found]

    def _members(self, story_id: int) -> dict[int, _Article]:
        return {a.id: a for a in self._articles.values() if a.story_id == story_id}

    def _story_row(self, story: _Story) -> StoryRow:
        members = sorted(self._members(story.id).values(), key=lambda a: (a.fetched_at, a.id))
        topics = sorted(
            {topic for topic, article_id in self._matches if self._articles[article_id].story_id == story.id}
        )
        return StoryRow(
            story.id,
            story.title,
            story.language,
            story.first_seen,
            tuple(topics),
            tuple(
                StoryMember(a.id, a.new.url, a.new.title, a.new.language, self._feed_name(a), a.similarity, a.signal)
                for a in members
            ),
        )

    def story(self, story_id: int) -> StoryRow | None:
        story = self._stories.get(story_id)
        return None if story is None else self._story_row(story)

    def articles(
        self, filters: Filters, *, limit: int = 50, after: int | None = None, with_text: bool = True
    ) -> list[ArticleRow]:
        chosen = [
            a
            for a in self._articles.values()
            if not (filters.topic and (filters.topic, a.id) not in self._matches)
            and not (filters.story_id is not None and a.story_id != filters.story_id)
            and not (filters.lang and a.new.language != filters.lang)
            and not (filters.feed and self._feed_name(a) != filters.feed)
            and _within(a.fetched_at, filters.since, filters.until)
        ]
        found = _newest_first(chosen, lambda a: a.fetched_at, lambda a: a.id, after, limit)
        return [self._article_row(a, with_text) for a in found]

    def _article_row(self, a: _Article, with_text: bool) -> ArticleRow:
        new = a.new
        return ArticleRow(
            a.id,
            new.url,
            a.canonical_url,
            new.title,
            new.language,
            new.published_at,
            self._feed_name(a),
            a.story_id,
            new.text_source,
            new.text if with_text else None,
        )

    def article(self, article_id: int) -> ArticleRow | None:
        found = self._articles.get(article_id)
        return None if found is None else self._article_row(found, True)

    def feeds(self, *, failing: bool = False, limit: int = 1000, after: str | None = None) -> list[FeedRow]:
        chosen = sorted(
            (
                f
                for f in self._feeds.values()
                if f.active and (not failing or f.error_count > 0 or f.dead) and (after is None or f.name > after)
            ),
            key=lambda f: f.name,
        )
        return [
            FeedRow(
                f.name,
                f.url,
                "dead" if f.dead else f.last_status,
                f.last_error,
                f.last_warning,
                f.error_count,
                f.last_checked_at,
                None if f.dead else f.next_check_at,
                None if f.interval is None else int(f.interval.total_seconds()),
                f.failing_since,
            )
            for f in chosen[:limit]
        ]

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
        chosen = [
            a
            for a in self._alerts.values()
            if (topic is None or a.topic == topic)
            and (status is None or a.status == status)
            and _within(a.created_at, since, until)
        ]
        found = _newest_first(chosen, lambda a: a.created_at, lambda a: a.id, after, limit)
        return [self._alert_row(a) for a in found]

    def _alert_row(self, a: _Alert) -> AlertRow:
        story_id = a.story_id if a.kind in ("match", "update") else None
        return AlertRow(
            a.id,
            a.kind,
            a.topic,
            story_id,
            a.channel,
            a.status,
            a.attempts,
            a.last_error,
            a.created_at,
            a.delivered_at,
        )

    def alert(self, alert_id: int) -> AlertRow | None:
        found = self._alerts.get(alert_id)
        return None if found is None else self._alert_row(found)

    def topic_activity(self) -> dict[str, TopicActivity]:
        activity: dict[str, TopicActivity] = {}
        for topic in {t for t, _ in self._matches}:
            keys = [k for k in self._matches if k[0] == topic]
            stories_of = {self._articles[article_id].story_id for _, article_id in keys}
            last = max(self._matched[k][0] for k in keys)
            activity[topic] = TopicActivity(len(keys), len(stories_of), last)
        return activity

    def story_entries(self, *, topic: str | None = None, limit: int = 50) -> list[StoryEntry]:
        by_age = sorted(
            ((self._matched[k][0], self._match_ids[k], k) for k in self._matches if topic is None or k[0] == topic),
            reverse=True,
        )[: MATCHES_PER_ENTRY * limit]
        candidates = {self._articles[article_id].story_id for _, _, (_, article_id) in by_age}
        found = sorted((self._stories[i] for i in candidates), key=lambda s: (s.last_seen, s.id), reverse=True)[:limit]
        entries = []
        for story in found:
            members = sorted(self._members(story.id).values(), key=lambda a: (a.fetched_at, a.id))
            story_matches = sorted(
                (self._matched[k][0], self._match_ids[k], k)
                for k in self._matches
                if self._articles[k[1]].story_id == story.id
            )
            snippets = [self._matches[k].snippet for _, _, k in story_matches if topic is None or k[0] == topic]
            entries.append(
                StoryEntry(
                    story.id,
                    story.title,
                    story.language,
                    story.first_seen,
                    story.last_seen,
                    tuple(sorted({k[0] for _, _, k in story_matches})),
                    snippets[-1] if snippets else "",
                    tuple(
                        EntryOutlet(a.id, a.new.title, a.new.url, self._feed_name(a), a.new.language, a.fetched_at)
                        for a in members
                    ),
                )
            )
        return entries

    def search(
        self,
        query: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> SearchPage:
        raise NotImplementedError(
            "MemoryStore cannot search: full-text search needs the SQL store's index (SQLite FTS5 or PostgreSQL)"
        )

    def retry_failed_alert(self, alert_id: int, now: datetime) -> str | None:
        alert = self._alerts.get(alert_id)
        if alert is None:
            return None
        had = alert.status
        if had == "failed":
            self._requeue(alert, now)
        return had

    def _requeue(self, alert: _Alert, now: datetime) -> None:
        alert.status, alert.next_attempt_at = "pending", now
        alert.lease_owner = alert.lease_expires_at = None

    def requeue_failed(self, ids: Sequence[int] | None, now: datetime) -> Requeued:
        chosen = [a for a in self._alerts.values() if (a.status == "failed" if ids is None else a.id in ids)]
        queued, not_failed = [], []
        for alert in sorted(chosen, key=lambda a: a.id):
            if alert.status != "failed":
                not_failed.append((alert.id, alert.status))
                continue
            self._requeue(alert, now)
            queued.append(alert.id)
        missing = tuple(i for i in ids or () if i not in self._alerts)
        return Requeued(tuple(queued), tuple(not_failed), missing)

    # --- retention
    def prune(self, before: datetime) -> Pruned:
        articles = keys = 0
        for article in self._articles.values():
            if article.fetched_at < before and (article.keys or article.new.text):
                keys += len(article.keys)
                articles += 1
                article.keys = []
                analysed = article.new.analysed
                emptied = replace(analysed, document=replace(analysed.document, text=""))
                article.new = replace(article.new, analysed=emptied)
        return Pruned(articles=articles, story_keys=keys)

    # --- operations
    def backlog(self, now: datetime) -> Backlog:
        pending = [a.created_at for a in self._alerts.values() if a.status == "pending" and a.created_at]
        due = sum(
            1
            for f in self._feeds.values()
            if f.active and not f.dead and f.next_check_at is not None and f.next_check_at <= now and f.free(now)
        )
        return Backlog(max(now - min(pending), timedelta(0)) if pending else timedelta(0), due)


if TYPE_CHECKING:
    _conforms: Store = MemoryStore()  # mypy holds the fake to the protocol
