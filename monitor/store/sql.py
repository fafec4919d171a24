"""The store in SQLite or PostgreSQL: ``Store`` over one SQLAlchemy engine.

The statements live in ``repository`` (writes) and ``queries`` (reads for people); this
class only holds the engine, so the stages above never see one.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from monitor import stories
from monitor.errors import StorageError
from monitor.model import Document, Routes, TopicMatch
from monitor.store import db, notices, repository, retention
from monitor.store.interface import (
    LEASE,
    Backlog,
    Delivery,
    DigestEntry,
    DueAlert,
    FeedState,
    HeldLeases,
    OperatorWatch,
    PollRecord,
    Pruned,
    Requeued,
    Stored,
    ToStore,
    WantedFeed,
)


class SqlStore:
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
        repository.sync_feeds(self.engine, feeds, now)

    def add_feed(self, url: str, name: str, now: datetime, *, discovered: bool = False) -> str | None:
        return repository.add_feed(self.engine, url, name, now, discovered=discovered)

    def active_feeds(self) -> list[tuple[str, str]]:
        return repository.active_feeds(self.engine)

    def claim_due_feeds(
        self, owner: str, now: datetime, *, lease: timedelta = LEASE, names: Iterable[str] | None = None
    ) -> list[FeedState]:
        return repository.claim_due_feeds(self.engine, owner, now, lease=lease, names=names)

    def record_polls(self, records: Sequence[PollRecord], operator: OperatorWatch | None = None) -> None:
        repository.record_polls(self.engine, records, operator)

    def next_feed_due(self) -> datetime | None:
        return repository.next_feed_due(self.engine)

    def new_entries(self, feed_id: int, entries: Sequence[tuple[str, str]]) -> tuple[set[str], set[str]]:
        return repository.new_entries(self.engine, feed_id, entries)

    # --- articles, stories, matches, outbox rows
    def store_articles(
        self,
        batch: Sequence[ToStore],
        routes: Routes,
        rules: stories.StoryRules,
        now: datetime,
        *,
        updates: Collection[str] = (),
    ) -> list[Stored]:
        return repository.store_articles(self.engine, batch, routes, rules, now, updates=updates)

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
        return repository.claim_due_alerts(
            self.engine, owner, now, limit=limit, lease=lease, channels=channels, other_than=other_than
        )

    def load_alerts(self, ids: Sequence[int]) -> list[DueAlert]:
        return repository.load_alerts(self.engine, ids)

    def record_deliveries(self, deliveries: Sequence[Delivery], operator: str | None = None) -> None:
        repository.record_deliveries(self.engine, deliveries, operator)

    # --- digests
    def digest_entries(self, topics: Sequence[str], since: datetime, until: datetime) -> list[DigestEntry]:
        return repository.digest_entries(self.engine, topics, since, until)

    def digest_queued(self, name: str, period_start: datetime) -> bool:
        return notices.digest_queued(self.engine, name, period_start)

    def last_digest(self, name: str) -> str | None:
        return notices.last_digest(self.engine, name)

    def queue_digest(self, name: str, period_start: datetime, payload: str, channel: str, now: datetime) -> int | None:
        return notices.queue_digest(self.engine, name, period_start, payload, channel, now)

    def requeue_failed(self, ids: Sequence[int] | None, now: datetime) -> Requeued:
        return repository.requeue_failed(self.engine, ids, now)

    # --- leases and health
    def renew_leases(self, owner: str, held: HeldLeases, until: datetime) -> None:
        repository.renew_leases(self.engine, owner, held, until)

    def lease_owners(self) -> set[str]:
        return repository.lease_owners(self.engine)

    def release_leases(self, owner: str, keep: HeldLeases | None = None) -> None:
        repository.release_leases(self.engine, owner, keep)

    def probe_write(self) -> None:
        repository.probe_write(self.engine)

    def can_write_again(self) -> bool:
        return db.can_write_again(self.engine)

    def storage_error(self, exc: BaseException) -> StorageError | None:
        return db.as_storage_error(self.engine, exc)

    # --- topics
    def changed_topics(self, queries: dict[str, str], now: datetime) -> list[str]:
        return repository.changed_topics(self.engine, queries, now)

    def stored_documents(self, since: datetime) -> Iterator[tuple[int, int, Document]]:
        return repository.stored_documents(self.engine, since)

    def store_backfill(
        self, article_id: int, story_id: int, matches: Sequence[TopicMatch], routes: Routes, now: datetime
    ) -> tuple[str, ...]:
        return repository.store_backfill(self.engine, article_id, story_id, matches, routes, now)

    # --- retention
    def prune(self, before: datetime) -> Pruned:
        return retention.prune(self.engine, before)

    # --- operations
    def backlog(self, now: datetime) -> Backlog:
        return repository.backlog(self.engine, now)
