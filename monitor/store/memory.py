"""The store in dictionaries: ``Store`` for tests of what lies above the store.

It keeps the promises the SQL store keeps (one row per item, one outbox row per
(topic, story, channel), leases, the story decision over shared index keys) and nothing
of its cost; ``tests/unit/test_store_contract.py`` runs the same checks on both, so the
two cannot drift apart. It is not durable and not shared between processes.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from monitor import polling, stories
from monitor.errors import ParseError, StorageError
from monitor.model import REJECTED, AlertContent, Document, Outlet, TopicMatch
from monitor.store.interface import (
    DISCOVERED,
    LEASE,
    SITE_TEXT_PAGES,
    Backlog,
    DueAlert,
    FeedState,
    HeldLeases,
    NewArticle,
    PollRecord,
    SiteBoilerplate,
    Store,
    Stored,
    StoredArticle,
    ToStore,
    WantedFeed,
    free_name,
    idempotency_key,
)

CANDIDATES_PER_ARTICLE = 20  # as the SQL store: the stored articles sharing the most keys


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


@dataclass
class _Article:
    id: int
    new: NewArticle
    canonical_url: str
    text_hash: str | None
    story_id: int
    keys: list[str]
    fetched_at: datetime


@dataclass
class _Story:
    id: int
    title: str
    first_seen: datetime
    last_seen: datetime
    article_count: int = 1


@dataclass
class _Alert(_Leased):
    topic: str = ""
    story_id: int = 0
    match: TopicMatch | None = None
    article_id: int = 0
    channel: str = ""
    status: str = "pending"
    attempts: int = 0
    created_at: datetime | None = None
    next_attempt_at: datetime | None = None
    last_error: str | None = None


class MemoryStore:
    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self.feeds: dict[int, _Feed] = {}
        self.articles: dict[int, _Article] = {}
        self.stories: dict[int, _Story] = {}
        self.matches: dict[tuple[str, int], TopicMatch] = {}  # (topic, article id): one match each
        self.alerts: dict[int, _Alert] = {}
        self.site_pages: dict[tuple[str, str], int] = {}  # (site, page text hash) -> links seen
        self.topics: dict[str, str] = {}

    def close(self) -> None:
        pass

    # --- feeds
    def sync_feeds(self, feeds: Sequence[WantedFeed], now: datetime) -> None:
        wanted = {f.url: f for f in feeds}
        by_url = {f.url: f for f in self.feeds.values()}
        for feed in by_url.values():
            if (cfg := wanted.get(feed.url)) is not None:
                feed.origin, feed.active, feed.interval_override = "config", True, cfg.interval
            elif feed.origin == "config":
                feed.active = False
        taken = {f.name for f in self.feeds.values()}
        for cfg in feeds:
            existing = by_url.get(cfg.url)
            if existing is None:
                new = _Feed(next(self._ids), name=free_name(cfg.name, taken), url=cfg.url)
                new.next_check_at, new.interval_override = now, cfg.interval
                self.feeds[new.id] = new
            elif existing.name != cfg.name and cfg.name not in taken:
                taken.discard(existing.name)
                existing.name = cfg.name
                taken.add(cfg.name)

    def add_feed(self, url: str, name: str, now: datetime, *, discovered: bool = False) -> str | None:
        origin = DISCOVERED if discovered else "cli"
        for feed in self.feeds.values():
            if feed.url == url:
                if feed.active:
                    return None
                feed.active, feed.origin = True, origin
                return feed.name
        new = _Feed(next(self._ids), name=free_name(name, {f.name for f in self.feeds.values()}), url=url)
        new.origin, new.next_check_at = origin, now
        self.feeds[new.id] = new
        return new.name

    def active_feeds(self) -> list[tuple[str, str]]:
        return sorted((f.name, f.url) for f in self.feeds.values() if f.active)

    def claim_due_feeds(
        self, owner: str, now: datetime, *, lease: timedelta = LEASE, names: Iterable[str] | None = None
    ) -> list[FeedState]:
        chosen = set(names) if names is not None else None
        due = [
            f
            for f in self.feeds.values()
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

    def record_polls(self, records: Sequence[PollRecord]) -> None:
        for r in records:
            feed = self.feeds[r.feed_id]
            feed.next_check_at, feed.dead = r.next_check_at, r.dead
            feed.lease_owner = feed.lease_expires_at = None
            feed.error_count = feed.error_count + 1 if r.failed else 0
            feed.failing_since = (feed.failing_since or r.checked_at) if r.failed else None
            if r.status == "ok":  # a 304 or a failure keeps the validators and the rhythm of the last parse
                feed.etag, feed.last_modified, feed.body_hash = r.etag, r.last_modified, r.body_hash
                feed.rhythm = r.rhythm or feed.rhythm

    def new_entries(self, feed_id: int, entries: Sequence[tuple[str, str]]) -> tuple[set[str], set[str]]:
        seen = {a.new.guid for a in self.articles.values() if a.new.feed_id == feed_id}
        stored = {a.canonical_url for a in self.articles.values()}
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
        self, batch: Sequence[ToStore], channels: Sequence[str], rules: stories.StoryRules, now: datetime
    ) -> list[Stored]:
        return [self._store_one(item, channels, rules, now) for item in batch]

    def _store_one(self, item: ToStore, channels: Sequence[str], rules: stories.StoryRules, now: datetime) -> Stored:
        new = item.article
        page = (new.site, new.page_hash) if new.page_hash and new.site else None
        site_pages = self.site_pages.get(page, 0) if page else 0
        text_hash = None if site_pages else new.text_hash
        if self._is_duplicate(new, new.canonical_url, text_hash):
            return None  # a link counted once
        if page:
            self.site_pages[page] = site_pages + 1
        if site_pages >= SITE_TEXT_PAGES:
            return SiteBoilerplate(site_pages)
        keys = sorted(set(stories.index_keys(new.features)))
        assignment = stories.assign(new.features, self._candidates(keys, now - rules.window), rules)
        story = self.stories.get(assignment.story_id) if assignment.story_id is not None else None
        joined = story is not None
        if story is None:
            story = _Story(next(self._ids), new.title, now, now, 0)
            self.stories[story.id] = story
        story.last_seen, story.article_count = now, story.article_count + 1
        article = _Article(next(self._ids), new, new.canonical_url, text_hash, story.id, keys, now)
        self.articles[article.id] = article
        alerts = self._add_matches(article, item.matches, channels, now)
        signal = assignment.signal if joined else "first article"
        return StoredArticle(article.id, story.id, not joined, signal, len(item.matches), alerts)

    def _is_duplicate(self, new: NewArticle, canonical_url: str, text_hash: str | None) -> bool:
        return any(
            (a.new.feed_id == new.feed_id and a.new.guid == new.guid)
            or a.canonical_url == canonical_url
            or (text_hash is not None and a.text_hash == text_hash)
            for a in self.articles.values()
        )

    def _candidates(self, keys: Sequence[str], since: datetime) -> list[stories.Candidate]:
        wanted = set(keys)
        shared = [(len(wanted.intersection(a.keys)), a) for a in self.articles.values() if a.fetched_at >= since]
        best = sorted((pair for pair in shared if pair[0]), key=lambda pair: (-pair[0], -pair[1].id))
        return [stories.Candidate(a.id, a.story_id, a.new.features) for _, a in best[:CANDIDATES_PER_ARTICLE]]

    def _add_matches(
        self, article: _Article, matches: Sequence[TopicMatch], channels: Sequence[str], now: datetime
    ) -> tuple[str, ...]:
        queued: list[str] = []
        keys = {(a.topic, a.story_id, a.channel) for a in self.alerts.values()}
        for found in matches:
            self.matches[(found.topic, article.id)] = found
            for channel in channels:
                if (found.topic, article.story_id, channel) in keys:
                    continue  # alerted already: one alert per (topic, story, channel)
                alert = _Alert(next(self._ids), topic=found.topic, story_id=article.story_id, match=found)
                alert.article_id, alert.channel, alert.created_at, alert.next_attempt_at = article.id, channel, now, now
                self.alerts[alert.id] = alert
                keys.add((found.topic, article.story_id, channel))
                queued.append(channel)
        return tuple(queued)

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
            for a in self.alerts.values()
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

    def load_alert(self, alert_id: int) -> DueAlert | None:
        alert = self.alerts.get(alert_id)
        if alert is None or alert.match is None or alert.story_id not in self.stories:
            return None
        story = self.stories[alert.story_id]
        members = sorted((a for a in self.articles.values() if a.story_id == story.id), key=lambda a: a.id)
        outlets = {
            a.id: Outlet(
                a.id, a.new.url, a.new.title, a.new.language, self.feeds[a.new.feed_id].name, a.new.published_at
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
        return DueAlert(alert.channel, alert.attempts, content)

    def _feed_name(self, article: _Article) -> str:
        return self.feeds[article.new.feed_id].name

    def mark_delivered(self, alert_id: int, now: datetime) -> None:
        if (alert := self.alerts.get(alert_id)) is not None:
            alert.status, alert.last_error, alert.attempts = "delivered", None, alert.attempts + 1
            alert.lease_owner = alert.lease_expires_at = None

    def mark_attempt_failed(self, alert_id: int, error: str, retry_at: datetime | None) -> None:
        if (alert := self.alerts.get(alert_id)) is not None:
            alert.attempts, alert.last_error = alert.attempts + 1, error
            alert.lease_owner = alert.lease_expires_at = None
            if retry_at is None:
                alert.status = "failed"
            else:
                alert.next_attempt_at = retry_at

    # --- leases and health
    def _leased(self) -> Iterator[_Leased]:
        yield from self.feeds.values()
        yield from self.alerts.values()

    def renew_leases(self, owner: str, held: HeldLeases, until: datetime) -> None:
        for rows, ids in ((self.feeds, held.feeds), (self.alerts, held.alerts)):
            for i in ids:
                row = rows.get(i)
                if row is not None and row.lease_owner == owner:
                    row.lease_expires_at = until

    def lease_owners(self) -> set[str]:
        return {row.lease_owner for row in self._leased() if row.lease_owner is not None}

    def release_leases(self, owner: str, keep: HeldLeases | None = None) -> None:
        kept = keep or HeldLeases()
        for rows, ids in ((self.feeds, kept.feeds), (self.alerts, kept.alerts)):
            for row in rows.values():
                if row.lease_owner == owner and row.id not in ids:
                    row.lease_owner = row.lease_expires_at = None

    def probe_write(self) -> None:
        pass

    def can_write_again(self) -> bool:
        return True

    def storage_error(self, exc: BaseException) -> StorageError | None:
        return exc if isinstance(exc, StorageError) else None

    # --- topics
    def changed_topics(self, queries: dict[str, str], now: datetime) -> list[str]:
        changed = [name for name, query in queries.items() if self.topics.get(name) != query]
        self.topics.update(queries)
        return changed

    def stored_documents(self, since: datetime) -> Iterator[tuple[int, int, Document]]:
        for a in sorted(self.articles.values(), key=lambda a: a.id):
            if a.fetched_at >= since:
                text = "" if a.new.text_source.startswith(REJECTED) else a.new.text
                document = Document(a.new.title, text, a.new.language, a.new.url, a.new.text_source)
                yield a.id, a.story_id, document

    def store_backfill(
        self, article_id: int, story_id: int, matches: Sequence[TopicMatch], channels: Sequence[str], now: datetime
    ) -> tuple[str, ...]:
        if any((found.topic, article_id) in self.matches for found in matches):
            return ()  # matched already
        return self._add_matches(self.articles[article_id], matches, channels, now)

    # --- operations
    def backlog(self, now: datetime) -> Backlog:
        pending = [a.created_at for a in self.alerts.values() if a.status == "pending" and a.created_at]
        due = sum(
            1
            for f in self.feeds.values()
            if f.active and not f.dead and f.next_check_at is not None and f.next_check_at <= now and f.free(now)
        )
        return Backlog(max(now - min(pending), timedelta(0)) if pending else timedelta(0), due)


if TYPE_CHECKING:
    _conforms: Store = MemoryStore()  # mypy holds the fake to the protocol
