"""Wiring: turn a validated Config into the running adapters of one process."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from monitor import logs, metrics, polling, stories, workers
from monitor.alerts import outbox, webhook
from monitor.alerts.channels import ChannelRegistry, apprise_channel, email_channel, webhook_channel
from monitor.alerts.email import SmtpSettings
from monitor.config import AlertsConfig, AppriseChannel, Config, WebhookChannel, is_loopback, parse_listen
from monitor.errors import ConfigError, DatabaseError, MonitorError, StorageError
from monitor.fetch import Fetcher, FetchLimits
from monitor.pipeline import CycleReport, Services, backfill, claim_due, poll_claimed, poll_due
from monitor.store.interface import LEASE, FeedState, OperatorWatch, Pruned, Store
from monitor.store.sql import SqlStore
from monitor.store.utc import utcnow
from monitor.stories.stage import AssignStory
from monitor.topics import TopicSet, TopicSpec
from monitor.workers import WorkerPool

if TYPE_CHECKING:
    from monitor.scheduler import Jobs  # the daemon's (APScheduler): `monitor poll` does without

log = logging.getLogger(__name__)
T = TypeVar("T")

# `monitor run` waits this long for a PostgreSQL server that is still starting (compose
# starts both at once), trying every few seconds.
DATABASE_WAIT = timedelta(minutes=2)
DATABASE_RETRY_SECONDS = 3.0


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


def open_store(config: Config, *, wait: timedelta = timedelta(0)) -> SqlStore:
    """The configured database, its schema brought up to date.

    ``wait``: how long a PostgreSQL server that does not answer yet is tried again (a
    container started beside its database), one log line per try, before giving up
    with its error: a bounded wait, not a crash loop.
    """
    give_up = time.monotonic() + wait.total_seconds()
    while True:
        try:
            return SqlStore.open(config.database)
        except DatabaseError as exc:
            left = give_up - time.monotonic()
            if left <= 0 or not config.database.startswith("postgresql"):
                raise
            log.warning("waiting for the database, %.0f s more: %s", left, exc)
            time.sleep(min(DATABASE_RETRY_SECONDS, left))


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


def delivery_policy(alerts: AlertsConfig) -> outbox.DeliveryPolicy:
    """How the dispatcher retries an alert and whom it tells of one given up."""
    return outbox.DeliveryPolicy(
        retry_for=alerts.retry_for,
        first_retry=alerts.first_retry,
        max_backoff=alerts.max_backoff,
        operator=alerts.operator,
    )


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
    return webhook.webhook_client({"User-Agent": user_agent(config)})


@asynccontextmanager
async def alert_channels(config: Config) -> AsyncIterator[ChannelRegistry]:
    """The channel registry with its HTTP client, closed after: for a command that only sends."""
    async with webhook.webhook_client({"User-Agent": user_agent(config)}) as client:
        yield channel_registry(config.alerts, client)


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


async def deliver_channel(config: Config, store: Store, channel: str) -> outbox.DeliveryStats:
    """Deliver what is due on one channel now, without starting anything else (`monitor digest send`)."""
    async with alert_channels(config) as registry:
        dispatcher = outbox.Dispatcher(store, registry, delivery_policy(config.alerts), worker_name())
        return await dispatcher.deliver_channel(channel, dispatcher.clock())


@asynccontextmanager
async def running(
    config: Config, *, lease: timedelta = LEASE, wait_for_database: timedelta = timedelta(0)
) -> AsyncIterator[Runtime]:
    """Open the database, the HTTP clients and the worker pool; close them all after.

    ``lease``: how long a claimed feed or alert stays this process's without a renewal;
    a heartbeat renews the leases of the work in progress every quarter of it.
    ``wait_for_database``: see ``open_store``.
    """
    store = open_store(config, wait=wait_for_database)
    topics = compile_topics(config)
    gc.freeze()  # the topics live as long as the process: out of every later collection's way
    owner = worker_name()
    store.sync_feeds(config.feeds, utcnow())
    reclaim_dead_workers_leases(store, owner)  # a crashed predecessor's feeds are polled now, not in a lease
    fetcher = Fetcher(fetch_limits(config))
    # Started by the first document that needs parsing: a cycle of 304s forks nothing.
    pool = WorkerPool(
        workers=config.polling.workers,
        setup=partial(workers.install_topics, topics),
        answers_from=workers.ANSWER_MODULES,
    )
    alert_client = webhook_client(config)
    channels = channel_registry(config.alerts, alert_client)
    services = Services(
        store=store,
        fetcher=fetcher,
        pool=pool,
        routes=config.routes(),
        assign_story=AssignStory(
            stories.StoryRules(window=config.stories.window, event_threshold=config.stories.event_threshold)
        ),
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
        store,
        channels,
        delivery_policy(config.alerts),
        owner,
        held=services.held,
        storage=services.storage,
        lease=lease,
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


@contextmanager
def serving_metrics(config: Config, store: Store) -> Iterator[str | None]:
    """Serve /metrics on ``metrics.listen`` (when set) while inside; yields its URL.

    Beyond loopback only with ``api.tokens``, whose holders it then asks for one, as the
    API does. Every scrape also reads the shared backlog (the oldest undelivered alert,
    the feeds due) from the database, wherever the metrics are served.
    """
    metrics.watch_backlog(partial(_backlog, store))
    server = None
    if listen := config.metrics.listen:
        host, port = parse_listen(listen)
        tokens = [t.token for t in config.api.tokens]
        if not is_loopback(host) and not tokens:
            raise ConfigError(
                f"metrics.listen {listen} is reachable from other machines but api.tokens is empty: "
                "add api.tokens (docs/configuration.md) or listen on 127.0.0.1"
            )
        try:
            server = metrics.MetricsServer(host, port, tokens).start()
        except OSError as exc:
            raise MonitorError(
                f"metrics.listen {listen}: cannot listen there ({exc.strerror or exc}); "
                "choose a free port or remove the key"
            ) from None
    try:
        yield f"http://{listen}/metrics" if listen else None
    finally:
        if server is not None:
            server.close()
        metrics.watch_backlog(None)


def _backlog(store: Store) -> tuple[float, int]:
    found = store.backlog(utcnow())
    return found.oldest_pending_alert.total_seconds(), found.feeds_due
