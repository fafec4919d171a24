"""What one running process does with what ``monitor.service`` built: poll cycles,
alert delivery, digests, retention, the lease heartbeat, and the backfill of topics
changed since the last start."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from monitor import logs
from monitor.alerts import outbox
from monitor.alerts.channels import ChannelRegistry
from monitor.config import Config
from monitor.errors import StorageError
from monitor.pipeline import CycleReport, Services, backfill, claim_due, poll_claimed, poll_due
from monitor.store.interface import FeedState, Pruned, Store
from monitor.topics import TopicSet, TopicSpec

if TYPE_CHECKING:
    from monitor.scheduler import Jobs  # the daemon's (APScheduler): `monitor poll` does without

log = logging.getLogger(__name__)


def retention_cutoff(config: Config, now: datetime) -> datetime | None:
    """Before when article text and story keys go (``retention.articles``); None: kept forever.

    Never inside the story window (an event still in it must find its story, or it would
    alert a second time) nor the backfill window (a changed topic reads the text).
    """
    keep = config.retention.articles
    if keep is None:
        return None
    return now - max(keep, config.stories.window, config.backfill.window)


def log_pruned(pruned: Pruned, cutoff: datetime) -> None:
    logs.event(
        "retention",
        f"retention: emptied {pruned.articles} articles and deleted {pruned.story_keys} story keys "
        f"from before {cutoff:%Y-%m-%d %H:%M} UTC; matches, alerts and stories kept",
        articles=pruned.articles,
        story_keys=pruned.story_keys,
        before=cutoff.isoformat(),
    )


@dataclass
class Runtime:
    """Everything one process needs to poll and deliver."""

    config: Config
    store: Store  # the same store as services.store: what the API of `monitor run --serve` reads
    services: Services
    channels: ChannelRegistry
    owner: str
    dispatcher: outbox.Dispatcher

    async def poll(self, names: Sequence[str] | None = None) -> tuple[CycleReport, outbox.DeliveryStats]:
        """One cycle: poll the due feeds (or the named ones; all if empty), queue the digests
        whose period ended, then deliver due alerts."""
        report = await self.poll_feeds(names)
        if self.config.alerts.digests:  # their module and the digest's rendering load only then
            from monitor import digests

            try:
                digests.queue_due(self.store, self.config.alerts.digests, self.services.clock(), {})
            except StorageError as exc:
                self.services.storage.failed(exc)
        delivered = await self.deliver()
        return report, delivered

    async def keep_queueing_digests(self) -> None:
        """The daemon's digest task: each period's digest is queued when the period ends."""
        if self.config.alerts.digests:
            from monitor import digests

            services = self.services
            await digests.keep_queueing(
                self.store, self.config.alerts.digests, services.clock, self.dispatcher.wake, services.storage
            )

    async def poll_feeds(self, names: Sequence[str] | None = None) -> CycleReport:
        """Poll the due feeds (or the named ones); a database that refuses writes is recorded
        in ``services.storage``, not raised."""
        try:
            return await poll_due(self.services, self.owner, names=names, concurrency=self.config.fetch.max_connections)
        except StorageError as exc:
            self.services.storage.failed(exc)
            return CycleReport()

    async def claim_due_feeds(self) -> list[FeedState]:
        """Lease the feeds due now (the daemon polls each batch as it falls due); [] when writing fails."""
        try:
            return await claim_due(self.services, self.owner)
        except StorageError as exc:
            self.services.storage.failed(exc)
            return []

    async def poll_claimed(self, feeds: Sequence[FeedState]) -> CycleReport:
        try:
            return await poll_claimed(self.services, feeds, concurrency=self.config.fetch.max_connections)
        except StorageError as exc:
            self.services.storage.failed(exc)
            return CycleReport()

    async def next_feed_due(self) -> datetime | None:
        """When the next feed falls due (None: no feed, or the database cannot say)."""
        try:
            return await self.services.database.run(self.store.next_feed_due)
        except StorageError as exc:
            self.services.storage.failed(exc)
            return None

    async def deliver(self) -> outbox.DeliveryStats:
        if self.services.storage.failing:
            return outbox.DeliveryStats()
        try:
            return await self.dispatcher.deliver_due()
        except StorageError as exc:
            self.services.storage.failed(exc)
            return outbox.DeliveryStats()

    async def prune(self) -> Pruned | None:
        """The daily retention job (a no-op without ``retention.articles``)."""
        cutoff = retention_cutoff(self.config, self.services.clock())
        if cutoff is None or self.services.storage.failing:
            return None
        try:
            pruned = await self.services.database.run(self.services.store.prune, cutoff)
        except StorageError as exc:
            self.services.storage.failed(exc)
            return None
        log_pruned(pruned, cutoff)
        return pruned

    def jobs(self, report: Callable[[str], None]) -> Jobs:
        """What the daemon's scheduler runs (monitor.scheduler), with the intervals of the config."""
        from monitor.scheduler import Jobs

        self.services.storage.notify = report  # the database refusing writes, and recovering: one line each

        async def poll(feeds: list[FeedState]) -> str | None:
            cycle = await self.poll_claimed(feeds)
            if not any(f.stored or f.error for f in cycle.feeds):
                return None  # a line per poll that found something
            return (
                f"{datetime.now(UTC):%H:%M:%S} polled {len(cycle.feeds)} feeds "
                f"({len(cycle.failed)} failed), {sum(f.stored for f in cycle.feeds)} new articles, "
                f"{sum(f.alerts for f in cycle.feeds)} alerts queued"
            )

        async def deliver() -> None:
            await self.dispatcher.run(self.config.polling.tick, report)

        return Jobs(
            poll=poll,
            claim_due=self.claim_due_feeds,
            next_due=self.next_feed_due,
            storage_ready=self.storage_ready,
            deliver=deliver,
            stop_delivering=self.dispatcher.stop,
            queue_digests=self.keep_queueing_digests,
            prune=self.prune,
            clock=self.services.clock,
            tick=self.config.polling.tick,
            started=(
                f"monitor running: {len(self.config.feeds)} feeds, {len(self.config.topics)} topics, "
                f"{len(self.channels)} alert channels; Ctrl-C or SIGTERM stops"
            ),
        )

    def storage_ready(self) -> bool:
        """Whether the database takes writes; after a failure, tried again with a real write."""
        storage = self.services.storage
        if not storage.failing:
            return True
        store = self.services.store
        if not store.can_write_again():
            return False
        try:
            store.probe_write()
            # The polls abandoned when writing failed: polled again now, not when their leases expire.
            store.release_leases(self.owner, keep=self.services.held)
        except StorageError as exc:
            storage.failed(exc)
            return False
        storage.recovered()
        return True


async def renew_leases(services: Services, owner: str) -> None:
    """The heartbeat: every quarter lease, extend the leases of the feeds and alerts in progress."""
    while True:
        await asyncio.sleep(services.lease.total_seconds() / 4)
        try:
            until = services.clock() + services.lease
            # Its own thread, not the database thread: behind a queue of article writes a renewal
            # came too late, the leases ran out and other workers polled the same feeds again.
            await asyncio.to_thread(services.store.renew_leases, owner, services.held, until)
        except StorageError as exc:
            services.storage.failed(exc)
        except Exception:  # a bug must not stop the heartbeat for good: the next beat tries again
            log.exception("renewing the leases of %s failed", owner)


async def backfill_changed_topics(runtime: Runtime) -> None:
    """A topic added or changed since the last start is matched against recent history, once."""
    config, services = runtime.config, runtime.services
    changed = services.store.changed_topics({t.name: t.query for t in config.topics}, services.clock())
    if not changed or not config.backfill.window:
        return
    subset = TopicSet.compile([TopicSpec(t.name, t.query, t.stem) for t in config.topics if t.name in changed])
    found, queued = await backfill(
        services, subset, services.clock() - config.backfill.window, alert=config.backfill.alert
    )
    log.info("backfilled %s: %d matches, %d alerts queued", ", ".join(changed), found, queued)
