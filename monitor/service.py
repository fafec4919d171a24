"""The composition root: a validated Config turned into the adapters of one process.

``running`` opens the store, the fetcher, the worker pool, the policies and the channel
registry, and hands them to a ``monitor.runtime.Runtime``, which runs the cycles.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Coroutine, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import timedelta
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

import httpx

from monitor import metrics, polling, stories, workers
from monitor.alerts import outbox, webhook
from monitor.alerts.channels import ChannelRegistry, apprise_channel, email_channel, webhook_channel
from monitor.alerts.email import SmtpSettings
from monitor.config import AlertsConfig, AppriseChannel, Config, WebhookChannel, is_loopback, parse_listen
from monitor.errors import ConfigError, DatabaseError, MonitorError, StorageError
from monitor.fetch import Fetcher, FetchLimits
from monitor.pipeline import Services
from monitor.runtime import Runtime, backfill_changed_topics, renew_leases
from monitor.store.interface import LEASE, OperatorWatch, Store
from monitor.store.sql import SqlStore
from monitor.store.utc import utcnow
from monitor.stories.stage import AssignStory
from monitor.topics import TopicSet, TopicSpec
from monitor.workers import WorkerPool

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


async def deliver_channel(config: Config, store: Store, channel: str) -> outbox.DeliveryStats:
    """Deliver what is due on one channel now, without starting anything else (`monitor digest send`)."""
    async with alert_channels(config) as registry:
        dispatcher = outbox.Dispatcher(store, registry, delivery_policy(config.alerts), worker_name())
        return await dispatcher.deliver_channel(channel, dispatcher.clock())


@asynccontextmanager
async def running(
    config: Config,
    *,
    lease: timedelta = LEASE,
    wait_for_database: timedelta = timedelta(0),
    eager: bool = False,
) -> AsyncIterator[Runtime]:
    """Open the database, the HTTP clients and the worker pool; close them all after.

    ``lease``: how long a claimed feed or alert stays this process's without a renewal;
    a heartbeat renews the leases of the work in progress every quarter of it.
    ``wait_for_database``: see ``open_store``. ``eager``: load now what the first new
    article needs, for a process that will surely have one (the daemon): the worker pool
    starts, and the store's write path is imported on a thread; else the first document
    that needs parsing starts the pool, and a one-shot cycle of 304s forks nothing.
    """
    store = open_store(config, wait=wait_for_database)
    topics = compile_topics(config)
    gc.freeze()  # the topics live as long as the process: out of every later collection's way
    owner = worker_name()
    store.sync_feeds(config.feeds, utcnow())
    reclaim_dead_workers_leases(store, owner)  # a crashed predecessor's feeds are polled now, not in a lease
    fetcher = Fetcher(fetch_limits(config))
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
    if eager:
        pool.start()  # the fork server loads the parsers in its own process meanwhile
        # Before any fetch is in flight: an import holds the GIL (and the import lock) for
        # up to 100 ms at a time, which stalled the first fetches when it ran beside them.
        await asyncio.to_thread(_load_eagerly)
    runtime = Runtime(config, store, services, channels, owner, dispatcher)
    heartbeat = asyncio.create_task(renew_leases(services, owner))
    try:
        await backfill_changed_topics(runtime)
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


def _load_eagerly() -> None:
    """The modules the first new article needs in this process: those of what the workers
    send back (numpy, for the story features) and those storing it (the ORM, the full-text
    index), 0.1-0.2 s each, else imported while the first articles wait."""
    for module in workers.ANSWER_MODULES:
        importlib.import_module(module)
    from monitor.store import repository, search  # noqa: F401


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
