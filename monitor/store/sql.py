"""The store in SQLite or PostgreSQL: ``Store`` over one SQLAlchemy engine.

The statements live in ``polls`` (polling's, in SQLAlchemy Core), ``repository`` (the
other writes) and ``queries`` (reads for people); this class only holds the engine, so
the stages above never see one. The modules built on the ORM's models are imported by
the methods that use them: a poll cycle where every feed answers 304 needs none of them.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine

from monitor.errors import StorageError
from monitor.model import Document, Routes, TopicMatch
from monitor.store import db, polls
from monitor.store.interface import (
    LEASE,
    Backlog,
    Delivery,
    DigestEntry,
    DueAlert,
    FeedState,
    HeldLeases,
    NewArticle,
    OperatorWatch,
    PollRecord,
    Pruned,
    Store,
    Stored,
    StoryDecision,
    WantedFeed,
)

if TYPE_CHECKING:
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


class SqlStore:
    """``Store`` in SQLite or PostgreSQL (``monitor.store.interface.Store``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str) -> SqlStore:
        """The database at ``url`` with its schema brought up to date."""
        engine = db.create_engine(url)
        db.upgrade(engine)
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    # --- feeds
    def sync_feeds(self, feeds: Sequence[WantedFeed], now: datetime) -> None:
        polls.sync_feeds(self.engine, feeds, now)

    def add_feed(self, url: str, name: str, now: datetime, *, discovered: bool = False) -> str | None:
        from monitor.store import repository

        return repository.add_feed(self.engine, url, name, now, discovered=discovered)

    def active_feeds(self) -> list[tuple[str, str]]:
        return polls.active_feeds(self.engine)

    def claim_due_feeds(
        self, owner: str, now: datetime, *, lease: timedelta = LEASE, names: Iterable[str] | None = None
    ) -> list[FeedState]:
        return polls.claim_due_feeds(self.engine, owner, now, lease=lease, names=names)

    def record_polls(self, records: Sequence[PollRecord], operator: OperatorWatch | None = None) -> None:
        polls.record_polls(self.engine, records, operator)

    def next_feed_due(self) -> datetime | None:
        return polls.next_feed_due(self.engine)

    def new_entries(self, feed_id: int, entries: Sequence[tuple[str, str]]) -> tuple[set[str], set[str]]:
        from monitor.store import repository

        return repository.new_entries(self.engine, feed_id, entries)

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
        from monitor.store import repository

        return repository.store_articles(self.engine, batch, routes, assign_story, now, updates=updates)

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
        return polls.claim_due_alerts(
            self.engine, owner, now, limit=limit, lease=lease, channels=channels, other_than=other_than
        )

    def load_alerts(self, ids: Sequence[int]) -> list[DueAlert]:
        if not ids:  # the dispatcher's every wake-up: nothing claimed is nothing to load
            return []
        from monitor.store import repository

        return repository.load_alerts(self.engine, ids)

    def record_deliveries(self, deliveries: Sequence[Delivery], operator: str | None = None) -> None:
        from monitor.store import repository

        repository.record_deliveries(self.engine, deliveries, operator)

    # --- digests
    def digest_entries(self, topics: Sequence[str], since: datetime, until: datetime) -> list[DigestEntry]:
        from monitor.store import repository

        return repository.digest_entries(self.engine, topics, since, until)

    def digest_queued(self, name: str, period_start: datetime) -> bool:
        from monitor.store import notices

        return notices.digest_queued(self.engine, name, period_start)

    def last_digest(self, name: str) -> str | None:
        from monitor.store import notices

        return notices.last_digest(self.engine, name)

    def queue_digest(self, name: str, period_start: datetime, payload: str, channel: str, now: datetime) -> int | None:
        from monitor.store import notices

        return notices.queue_digest(self.engine, name, period_start, payload, channel, now)

    # --- leases and health
    def renew_leases(self, owner: str, held: HeldLeases, until: datetime) -> None:
        polls.renew_leases(self.engine, owner, held, until)

    def lease_owners(self) -> set[str]:
        return polls.lease_owners(self.engine)

    def release_leases(self, owner: str, keep: HeldLeases | None = None) -> None:
        polls.release_leases(self.engine, owner, keep)

    def schema_is_current(self) -> bool:
        return db.schema_is_current(self.engine)

    def probe_write(self) -> None:
        polls.probe_write(self.engine)

    def can_write_again(self) -> bool:
        return db.can_write_again(self.engine)

    def storage_error(self, exc: BaseException) -> StorageError | None:
        return db.as_storage_error(self.engine, exc)

    # --- topics
    def changed_topics(self, queries: dict[str, str], now: datetime) -> list[str]:
        return polls.changed_topics(self.engine, queries, now)

    def stored_documents(self, since: datetime) -> Iterator[tuple[int, int, Document]]:
        from monitor.store import repository

        return repository.stored_documents(self.engine, since)

    def store_backfill(
        self, article_id: int, story_id: int, matches: Sequence[TopicMatch], routes: Routes, now: datetime
    ) -> tuple[str, ...]:
        from monitor.store import repository

        return repository.store_backfill(self.engine, article_id, story_id, matches, routes, now)

    # --- what people and programs ask
    def matches(self, filters: Filters, *, limit: int = 50, after: int | None = None) -> list[MatchRow]:
        from monitor.store import queries

        return queries.matches(self.engine, filters, limit=limit, after=after)

    def stories(self, filters: Filters, *, limit: int = 50, after: int | None = None) -> list[StoryRow]:
        from monitor.store import queries

        return queries.stories(self.engine, filters, limit=limit, after=after)

    def story(self, story_id: int) -> StoryRow | None:
        from monitor.store import queries
        from monitor.store.records import Filters

        return next(iter(queries.stories(self.engine, Filters(story_id=story_id), limit=1)), None)

    def articles(
        self, filters: Filters, *, limit: int = 50, after: int | None = None, with_text: bool = True
    ) -> list[ArticleRow]:
        from monitor.store import queries

        return queries.articles(self.engine, filters, limit=limit, after=after, with_text=with_text)

    def article(self, article_id: int) -> ArticleRow | None:
        from monitor.store import queries
        from monitor.store.records import Filters

        return next(iter(queries.articles(self.engine, Filters(), article_id=article_id, limit=1)), None)

    def feeds(self, *, failing: bool = False, limit: int = 1000, after: str | None = None) -> list[FeedRow]:
        from monitor.store import queries

        return queries.feeds(self.engine, failing=failing, limit=limit, after=after)

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
        from monitor.store import queries

        return queries.alerts(
            self.engine, topic=topic, status=status, since=since, until=until, limit=limit, after=after
        )

    def alert(self, alert_id: int) -> AlertRow | None:
        from monitor.store import queries

        return next(iter(queries.alerts(self.engine, alert_id=alert_id, limit=1)), None)

    def topic_activity(self) -> dict[str, TopicActivity]:
        from monitor.store import queries

        return queries.topic_activity(self.engine)

    def story_entries(self, *, topic: str | None = None, limit: int = 50) -> list[StoryEntry]:
        from monitor.store import queries

        return queries.story_entries(self.engine, topic=topic, limit=limit)

    def search(
        self,
        query: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> SearchPage:
        from monitor.store.search import search_articles  # the query parser: only when searching

        return search_articles(self.engine, query, since=since, until=until, limit=limit, cursor=cursor)

    def retry_failed_alert(self, alert_id: int, now: datetime) -> str | None:
        from monitor.store import repository

        return repository.retry_failed_alert(self.engine, alert_id, now)

    def requeue_failed(self, ids: Sequence[int] | None, now: datetime) -> Requeued:
        from monitor.store import repository

        return repository.requeue_failed(self.engine, ids, now)

    # --- retention
    def prune(self, before: datetime) -> Pruned:
        from monitor.store import retention

        return retention.prune(self.engine, before)

    # --- operations
    def backlog(self, now: datetime) -> Backlog:
        return polls.backlog(self.engine, now)


if TYPE_CHECKING:
    _conforms: Store = SqlStore(db.create_engine("sqlite://"))  # mypy holds the SQL store to the protocol
