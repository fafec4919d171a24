"""Wiring: turn a validated Config into the running adapters of one process."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import socket
from collections.abc import AsyncIterator, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

import httpx

from monitor import digests, logs, polling, stories, workers
from monitor.alerts import outbox
from monitor.alerts.channels import ChannelRegistry, apprise_channel, email_channel, webhook_channel
from monitor.alerts.email import SmtpSettings
from monitor.config import AlertsConfig, AppriseChannel, Config, WebhookChannel
from monitor.errors import StorageError
from monitor.fetch import Fetcher, FetchLimits
from monitor.pipeline import CycleReport, Services, backfill, claim_due, poll_claimed, poll_due
from monitor.store import repository
from monitor.store.interface import LEASE, FeedState, OperatorWatch, Pruned, Store
from monitor.store.sql import SqlStore
from monitor.store.tables import utcnow
from monitor.topics import TopicSet, TopicSpec
from monitor.workers import WorkerPool

log = logging.getLogger(__name__)
T = TypeVar("T")


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    """Run the process's event loop: uvloop's when it is installed, else asyncio's own.

    The event loop thread fetches and stores every article; uvloop makes each request
    cost about a third less CPU there (benchmarks/polling.py), which the parsers in the
    worker processes get instead on a small machine.
    """
    # The collector is off since `monitor` started (cli.main); the imports are done and live
    # as long as the process: out of every collection's way, then collect what comes after.
    gc.freeze()
    gc.enable()
    try:
        import uvloop
    except ImportError:  # not built for this platform (Windows): asyncio's loop does the same, slower
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def compile_topics(config: Config) -> TopicSet:
    """The configured topics as one matcher; a bad query raises QueryError naming the topic."""
    return TopicSet.compile([TopicSpec(t.name, t.query, t.stem) for t in config.topics])


def open_store(config: Config) -> SqlStore:
    """The configured database, its schema brought up to date."""
    return SqlStore.open(config.database)


def worker_name() -> str:
    """Who holds a lease: ``host:pid:start``, unique per process (the feed and alert `lease_owner`).

    The start (the process's start time in clock ticks since boot, from /proc) tells a
    dead worker from a new process that got its pid.
    """
    return f"{socket.gethostname()}:{os.getpid()}:{_started(os.getpid()) or '-'}"


def _started(pid: int) -> str | None:
    """When process ``pid`` started (field 22 of /proc/<pid>/stat); None when it does not exist."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    except OSError:  # no permission to look: treat it as alive
        return "?"
    return stat.rsplit(")", 1)[1].split()[19]  # after "(comm)", which may hold spaces


def is_gone(owner: str, host: str | None = None) -> bool:
    """Whether the worker named ``owner`` (see worker_name) has certainly ended.

    Only a worker of this host can be checked; any other is assumed alive (its leases
    expire instead). A pid alive again with another start time is another process.
    """
    name, _, rest = owner.partition(":")
    pid_text, _, start = rest.partition(":")
    if owner == worker_name() or name != (host or socket.gethostname()) or not pid_text.isdigit():
        return False
    # The same pid as this process is a predecessor too: a container restarted runs as pid 1 again.
    if not Path("/proc/self/stat").exists():  # no /proc (macOS): the pid alone says it
        try:
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            return True
        except OSError:
            return False
        return False
    now = _started(int(pid_text))
    return now is None or (start not in ("", "-", now) and now != "?")


def reclaim_dead_workers_leases(store: Store, me: str) -> list[str]:
    """Release the leases of this host's workers that are gone (a crash, a kill -9); returns who they were."""
    gone = sorted(owner for owner in store.lease_owners() if owner != me and is_gone(owner))
    for owner in gone:
        store.release_leases(owner)
        log.info("released the leases of %s, which is no longer running", owner)
    return gone


def user_agent(config: Config) -> str:
    try:
        version = metadata.version("monitor")
    except metadata.PackageNotFoundError:
        version = "dev"
    return f"monitor/{version} (+{config.fetch.contact_url})"


def fetch_limits(config: Config) -> FetchLimits:
    f = config.fetch
    return FetchLimits(
        max_bytes=f.max_bytes,
        deadline=f.timeout.total_seconds(),
        max_redirects=f.max_redirects,
        allow_networks=tuple(f.allow_networks),
        user_agent=user_agent(config),
        max_connections=f.max_connections,
        max_per_host=f.max_per_host,
    )


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


def operator_watch(config: Config) -> OperatorWatch | None:
    """Where feeds failing for ``polling.alert_after`` and recovering are told, if anywhere."""
    if config.alerts.operator is None:
        return None
    return OperatorWatch(config.alerts.operator, config.polling.alert_after)


def channel_registry(alerts: AlertsConfig, client: httpx.AsyncClient | None) -> ChannelRegistry:
    """Every configured channel (named and shorthand) with its sender: the one place that builds them.

    ``client``: what the webhooks post with (see ``webhook_client``).
    """
    built = []
    for channel in alerts.every_channel():
        if isinstance(channel, WebhookChannel):
            assert client is not None, "webhooks need the client from webhook_client()"
            built.append(webhook_channel(channel.name, client, channel.url, channel.secret, instant=channel.instant))
        elif isinstance(channel, AppriseChannel):
            built.append(apprise_channel(channel.name, channel.url, instant=channel.instant))
        else:
            settings = SmtpSettings(
                host=channel.host,
                port=channel.port,
                sender=channel.sender,
                recipients=tuple(channel.recipients),
                username=channel.username,
                password=channel.password,
                starttls=channel.starttls,
                tls=channel.tls,
                verify_certificate=channel.verify_certificate,
            )
            built.append(email_channel(channel.name, settings, instant=channel.instant))
    return ChannelRegistry(built)


def webhook_client(config: Config) -> httpx.AsyncClient | None:
    """The HTTP client webhooks post with; None without webhooks, as a client reads the
    certificate bundles when it is made (about 40 ms of CPU, at every `monitor poll`)."""
    if not any(isinstance(channel, WebhookChannel) for channel in config.alerts.every_channel()):
        return None
    return httpx.AsyncClient(headers={"User-Agent": user_agent(config)}, follow_redirects=False)


@asynccontextmanager
async def alert_channels(config: Config) -> AsyncIterator[ChannelRegistry]:
    """The channel registry with its HTTP client, closed after: for a command that only sends."""
    async with httpx.AsyncClient(headers={"User-Agent": user_agent(config)}, follow_redirects=False) as client:
        yield channel_registry(config.alerts, client)


@dataclass
class Runtime:
    """Everything one process needs to poll and deliver."""

    config: Config
    store: SqlStore  # the same store as services.store, as what it is: the API reads the database
    services: Services
    channels: ChannelRegistry
    owner: str
    dispatcher: outbox.Dispatcher

    async def poll(self, names: Sequence[str] | None = None) -> tuple[CycleReport, outbox.DeliveryStats]:
        """One cycle: poll the due feeds (or the named ones; all if empty), queue the digests
        whose period ended, then deliver due alerts."""
        report = await self.poll_feeds(names)
        try:
            digests.queue_due(self.store, self.config.alerts.digests, self.services.clock(), {})
        except StorageError as exc:
            self.services.storage.failed(exc)
        delivered = await self.deliver()
        return report, delivered

    async def keep_queueing_digests(self) -> None:
        """The daemon's digest task: each period's digest is queued when the period ends."""
        if self.config.alerts.digests:
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
            return await self.services.database.run(repository.next_feed_due, self.store.engine)
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


async def deliver_channel(config: Config, store: Store, channel: str) -> outbox.DeliveryStats:
    """Deliver what is due on one channel now, without starting anything else (`monitor digest send`)."""
    async with alert_channels(config) as registry:
        dispatcher = outbox.Dispatcher(store, registry, config.alerts, worker_name())
        return await dispatcher.deliver_channel(channel, dispatcher.clock())


@asynccontextmanager
async def running(config: Config, *, lease: timedelta = LEASE) -> AsyncIterator[Runtime]:
    """Open the database, the HTTP clients and the worker pool; close them all after.

    ``lease``: how long a claimed feed or alert stays this process's without a renewal;
    a heartbeat renews the leases of the work in progress every quarter of it.
    """
    store = open_store(config)
    topics = compile_topics(config)
    gc.freeze()  # the topics live as long as the process: out of every later collection's way
    owner = worker_name()
    store.sync_feeds(config.feeds, utcnow())
    reclaim_dead_workers_leases(store, owner)  # a crashed predecessor's feeds are polled now, not in a lease
    fetcher = Fetcher(fetch_limits(config))
    # Started by the first document that needs parsing: a cycle of 304s forks nothing.
    pool = WorkerPool(workers=config.polling.workers, setup=partial(workers.install_topics, topics))
    alert_client = webhook_client(config)
    channels = channel_registry(config.alerts, alert_client)
    services = Services(
        store=store,
        fetcher=fetcher,
        pool=pool,
        routes=config.routes(),
        story_rules=stories.StoryRules(window=config.stories.window, event_threshold=config.stories.event_threshold),
        poll_policy=polling.PollPolicy(
            min_interval=config.polling.min_interval,
            max_interval=config.polling.max_interval,
            jitter=config.polling.jitter,
            failures_before_backoff=config.polling.failures_before_backoff,
            backoff_step=config.polling.backoff_step,
            dead_after=config.polling.dead_after,
        ),
        lease=lease,
        updates=frozenset(t.name for t in config.topics if t.updates),
        operator=operator_watch(config),
    )
    dispatcher = outbox.Dispatcher(
        store, channels, config.alerts, owner, held=services.held, storage=services.storage, lease=lease
    )
    services.alerts_queued = dispatcher.wake
    runtime = Runtime(config, store, services, channels, owner, dispatcher)
    heartbeat = asyncio.create_task(_renew_leases(services, owner))
    try:
        await _backfill_changed_topics(runtime)
        yield runtime
    finally:
        heartbeat.cancel()
        try:
            store.release_leases(owner)
        except StorageError as exc:  # they expire within a lease
            log.info("could not release the leases of %s: %s", owner, exc)
        if alert_client is not None:
            await alert_client.aclose()
        await fetcher.aclose()
        pool.close()
        store.close()


async def _renew_leases(services: Services, owner: str) -> None:
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


async def _backfill_changed_topics(runtime: Runtime) -> None:
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
