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
from functools import partial
from importlib import metadata
from typing import Any, TypeVar

import httpx
from sqlalchemy.engine import Engine

from monitor import analysis, polling, stories
from monitor.alerts import outbox
from monitor.config import Config
from monitor.extract import WorkerPool
from monitor.fetch import Fetcher, FetchLimits
from monitor.pipeline import CycleReport, Services, backfill, poll_due
from monitor.store import db, repository
from monitor.topics import TopicSet, TopicSpec

log = logging.getLogger(__name__)
T = TypeVar("T")


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    """Run the process's event loop: uvloop's when it is installed, else asyncio's own.

    The event loop thread fetches and stores every article; uvloop makes each request
    cost about a third less CPU there (benchmarks/polling.py), which the parsers in the
    worker processes get instead on a small machine.
    """
    try:
        import uvloop
    except ImportError:  # not built for this platform (Windows): asyncio's loop does the same, slower
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def compile_topics(config: Config) -> TopicSet:
    """The configured topics as one matcher; a bad query raises QueryError naming the topic."""
    return TopicSet.compile([TopicSpec(t.name, t.query, t.stem) for t in config.topics])


def open_database(config: Config) -> Engine:
    """An engine on the configured database with the schema brought up to date."""
    engine = db.create_engine(config.database)
    db.upgrade(engine)
    return engine


def worker_name() -> str:
    """Who holds a lease: unique per process, readable in `monitor feeds`."""
    return f"{socket.gethostname()}:{os.getpid()}"


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


@dataclass
class Runtime:
    """Everything one process needs to poll and deliver."""

    config: Config
    services: Services
    senders: dict[str, outbox.Send]
    owner: str

    async def poll(self, names: Sequence[str] | None = None) -> tuple[CycleReport, outbox.DeliveryStats]:
        """One cycle: poll the due feeds (or the named ones; all if empty), then deliver due alerts."""
        report = await poll_due(self.services, self.owner, names=names, concurrency=self.config.fetch.max_connections)
        delivered = await self.deliver()
        return report, delivered

    async def deliver(self) -> outbox.DeliveryStats:
        return await outbox.deliver_due(self.services.engine, self.senders, self.config.alerts, self.owner)


@asynccontextmanager
async def running(config: Config) -> AsyncIterator[Runtime]:
    """Open the database, the HTTP clients and the worker pool; close them all after."""
    engine = open_database(config)
    topics = compile_topics(config)
    gc.freeze()  # the topics live as long as the process: out of every later collection's way
    repository.sync_feeds(engine, config.feeds)
    fetcher = Fetcher(fetch_limits(config))
    pool = WorkerPool(workers=config.polling.workers, setup=partial(analysis.install_topics, topics))
    pool.start()
    alert_client = httpx.AsyncClient(headers={"User-Agent": user_agent(config)}, follow_redirects=False)
    senders = outbox.channels(config.alerts, alert_client)
    services = Services(
        engine=engine,
        fetcher=fetcher,
        pool=pool,
        channels=tuple(senders),
        story_rules=stories.StoryRules(window=config.stories.window, event_threshold=config.stories.event_threshold),
        poll_policy=polling.PollPolicy(
            min_interval=config.polling.min_interval,
            max_interval=config.polling.max_interval,
            jitter=config.polling.jitter,
            failures_before_backoff=config.polling.failures_before_backoff,
            backoff_step=config.polling.backoff_step,
            dead_after=config.polling.dead_after,
        ),
    )
    runtime = Runtime(config, services, senders, worker_name())
    try:
        await _backfill_changed_topics(runtime)
        yield runtime
    finally:
        repository.release_leases(engine, runtime.owner)
        await alert_client.aclose()
        await fetcher.aclose()
        pool.close()
        engine.dispose()


async def _backfill_changed_topics(runtime: Runtime) -> None:
    """A topic added or changed since the last start is matched against recent history, once."""
    config, services = runtime.config, runtime.services
    changed = repository.changed_topics(services.engine, {t.name: t.query for t in config.topics})
    if not changed or not config.backfill.window:
        return
    subset = TopicSet.compile([TopicSpec(t.name, t.query, t.stem) for t in config.topics if t.name in changed])
    found, queued = await backfill(
        services, subset, services.clock() - config.backfill.window, alert=config.backfill.alert
    )
    log.info("backfilled %s: %d matches, %d alerts queued", ", ".join(changed), found, queued)
