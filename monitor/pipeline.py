"""The orchestrator: what happens to one feed, from fetch to outbox, in one screen.

Every stage it calls is either pure (feeds, analysis: extract, text, topics, stories;
polling) or a thin adapter (fetch, store, alerts). The pure CPU-bound work runs in the
worker pool, so this process only fetches, stores and keeps time. A feed that
misbehaves ends as a recorded error on that feed; it never stops the others.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from monitor import logs, metrics, polling, stories
from monitor.errors import FetchError, ParseError, StorageError
from monitor.fetch import Fetcher, FetchResult, is_transient
from monitor.model import SAME_SITE_TEXT, Entry, Routes
from monitor.polling import PollOutcome
from monitor.store.db import StorageHealth
from monitor.store.interface import (
    LEASE,
    FeedState,
    HeldLeases,
    NewArticle,
    OperatorWatch,
    PollRecord,
    SiteBoilerplate,
    Store,
    Stored,
    StoredArticle,
    StoryDecision,
)
from monitor.store.utc import utcnow
from monitor.topics import TopicSet
from monitor.workers import WorkerPool, analyse

if TYPE_CHECKING:  # the analysis runs in the workers: this process never loads it
    from monitor.article import Analysed
    from monitor.feeds import ParsedFeed

log = logging.getLogger(__name__)

ARTICLES_AT_ONCE_PER_FEED = 4
RECORDS_PER_WRITE = 50
ARTICLES_PER_WRITE = 50  # a bound on how long one write holds the database's write lock
# How long a write waits for more articles: the workers finish one every few milliseconds,
# and a transaction of several costs less per article than one each (its begin and commit,
# and the index pages they share, written once).
GATHER_SECONDS = 0.1
GATHER_CHECK_SECONDS = 0.005  # how often a gathering batch asks whether more are still coming

P = ParamSpec("P")
T = TypeVar("T")


class DatabaseThread:
    """The one thread the poll cycle's database work runs on, off the event loop.

    On the loop, a write stalls every fetch in flight for as long as it takes (on
    PostgreSQL, a network round trip per statement). One thread rather than a pool: the
    writes keep their order and never queue for the write lock behind each other.
    The thread starts with the first call and ends when this object is collected.
    """

    def __init__(self) -> None:
        self._executor: ThreadPoolExecutor | None = None

    async def run(self, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="monitor-database")
        return await asyncio.get_running_loop().run_in_executor(self._executor, partial(work, *args, **kwargs))


@dataclass
class Services:
    """The adapters and compiled rules one process polls with."""

    store: Store
    fetcher: Fetcher
    pool: WorkerPool  # its workers hold the compiled topics (monitor.workers)
    routes: Routes  # which channels each topic's alerts go to
    assign_story: StoryDecision  # the story stage: the store runs it on the candidates it finds
    poll_policy: polling.PollPolicy
    clock: Callable[[], datetime] = utcnow
    rng: random.Random = field(default_factory=random.Random)
    lease: timedelta = LEASE
    held: HeldLeases = field(default_factory=HeldLeases)  # what the heartbeat renews
    storage: StorageHealth = field(default_factory=StorageHealth)
    alerts_queued: Callable[[], None] = lambda: None  # wakes the dispatcher
    updates: frozenset[str] = frozenset()  # topics whose alerted stories send updates
    operator: OperatorWatch | None = None  # told of feeds failing and recovered
    database: DatabaseThread = field(default_factory=DatabaseThread)
    writer: ArticleWriter = field(init=False)

    def __post_init__(self) -> None:
        self.writer = ArticleWriter(
            metrics.timed_write(
                "articles",
                lambda batch: self.store.store_articles(
                    batch, self.routes, self.assign_story, self.clock(), updates=self.updates
                ),
            ),
            self.database,
            more_coming=lambda: self.pool.busy,
        )


class ArticleWriter:
    """Group commit: while more articles are coming, a batch waits a little for them.

    Each batch is one transaction (``write``) on the database thread; the event loop
    goes on fetching meanwhile, and the analyses that finish queue up for the next
    batch. A batch that is not full waits up to ``GATHER_SECONDS`` while ``more_coming()``
    (the workers are analysing), else it is written at once: a lone article, and the
    last of a cycle, wait for nothing. The workers hand articles over one at a time:
    without the wait nearly every batch held one article (254 transactions for 300
    articles in the polling benchmark).
    """

    def __init__(
        self,
        write: Callable[[list[NewArticle]], list[Stored]],
        database: DatabaseThread,
        more_coming: Callable[[], bool] = lambda: False,
    ) -> None:
        self._write, self._database, self._more_coming = write, database, more_coming
        self._waiting: list[tuple[NewArticle, asyncio.Future[Stored]]] = []
        self._draining: asyncio.Task[None] | None = None

    async def store(self, item: NewArticle) -> StoredArticle | SiteBoilerplate | None:
        """Store ``item`` with the others waiting; None when it is a duplicate."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Stored] = loop.create_future()
        self._waiting.append((item, future))
        if self._draining is None:  # a task starts at the loop's next turn: what arrives before joins it
            self._draining = loop.create_task(self._drain())
        outcome = await future
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def _gather(self) -> None:
        """Wait up to ``GATHER_SECONDS`` for the batch to fill, while the workers have more in hand.

        Not a plain sleep: the last articles of a cycle would wait the whole time for
        nothing, with both cores idle.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + GATHER_SECONDS
        while len(self._waiting) < ARTICLES_PER_WRITE and self._more_coming() and loop.time() < deadline:
            await asyncio.sleep(GATHER_CHECK_SECONDS)

    async def _drain(self) -> None:
        batch: list[tuple[NewArticle, asyncio.Future[Stored]]] = []
        try:
            while self._waiting:
                await self._gather()
                batch, self._waiting = self._waiting[:ARTICLES_PER_WRITE], self._waiting[ARTICLES_PER_WRITE:]
                try:
                    outcomes = await self._database.run(self._write, [item for item, _ in batch])
                except Exception as exc:  # store_articles reports per article; this is a last resort
                    outcomes = [exc] * len(batch)
                for (_, future), outcome in zip(batch, outcomes, strict=True):
                    if not future.done():
                        future.set_result(outcome)
                batch = []
        finally:
            self._draining = None
            for _, future in batch + self._waiting:  # cancelled (the loop is closing): nobody waits silently
                future.cancel()
            self._waiting = []


@dataclass
class FeedReport:
    """What polling one feed did, for the status line and the logs."""

    name: str
    outcome: PollOutcome = PollOutcome.OK
    error: str | None = None
    entries: int = 0
    new: int = 0
    stored: int = 0
    duplicates: int = 0
    page_failures: int = 0
    matches: int = 0
    alerts: int = 0
    seconds: float = 0.0
    transient: bool = False  # the failure usually passes (DNS, connect, timeout, 5xx): retried soon
    warnings: tuple[str, ...] = ()  # read anyway, but worth the operator's eye
    http_status: int | None = None  # the answer's, for an HTTP_ERROR

    @property
    def status(self) -> str:
        """As stored on the feed and shown: "ok", "not modified", "HTTP 404", "error"."""
        return self.outcome.status(self.http_status)

    def failed(self, error: str, *, transient: bool = False) -> None:
        self.outcome, self.error, self.transient = PollOutcome.ERROR, error, transient


async def refresh_feed(services: Services, feed: FeedState) -> tuple[FeedReport, PollRecord]:
    """Poll one feed: fetch, parse, store its new entries; and when to poll it next."""
    report = FeedReport(feed.name)
    started = time.monotonic()
    response: FetchResult | None = None
    rhythm = feed.rhythm
    try:
        with metrics.fetch_timer("feed"):
            response = await services.fetcher.get(
                feed.url, etag=feed.etag, last_modified=feed.last_modified, trusted=feed.trusted
            )
        report.warnings, report.transient = response.warnings, response.server_failed
        for warning in response.warnings:
            log.warning("feed %s: %s", feed.name, warning)
        if response.status == 304:
            report.outcome = PollOutcome.NOT_MODIFIED
        elif response.status >= 400:
            report.outcome, report.http_status = PollOutcome.HTTP_ERROR, response.status
            report.error = f"{feed.url} answered HTTP {response.status}; the feed will be retried later"
        elif _body_hash(response.body) == feed.body_hash:
            report.outcome = PollOutcome.NOT_MODIFIED  # a 200 with the same bytes costs no parsing
        else:
            from monitor.feeds import parse_feed  # a cycle of 304s never needs it

            parsed = await services.pool.run(parse_feed, response.body, response.headers, response.url)
            fresh = await _process_entries(services, feed, parsed, report)
            rhythm = rhythm.observed(
                (e.published_at for e in parsed.entries if e.published_at),
                sum(1 for e in fresh if not e.published_at),
                parsed.hints,
                services.clock(),
            )
    except (FetchError, ParseError) as exc:
        report.failed(str(exc), transient=is_transient(exc))
    except StorageError as exc:  # the database's state, not this feed's fault: not recorded on it
        services.storage.failed(exc)
        report.failed(str(exc))
    except Exception as exc:  # a bug must not stop the other feeds; it is recorded on this one
        log.exception("unexpected failure polling %s", feed.url)
        report.failed(f"{feed.url}: internal error {type(exc).__name__}: {exc}")
    report.seconds = time.monotonic() - started
    return report, _reschedule(services, feed, report, response, rhythm)


async def _process_entries(services: Services, feed: FeedState, parsed: ParsedFeed, report: FeedReport) -> list[Entry]:
    """Store the entries this feed has not delivered before; returns them."""
    report.entries = len(parsed.entries)
    # ``known``: another feed brought these already, so no page fetch (the store would refuse them anyway).
    unseen, known = await services.database.run(
        services.store.new_entries, feed.id, [(e.guid, e.url) for e in parsed.entries]
    )
    fresh = [e for e in parsed.entries if e.guid in unseen]
    report.new = len(fresh)
    report.duplicates += (same := sum(1 for e in fresh if e.url in known))
    metrics.same_item(same)
    gate = asyncio.Semaphore(ARTICLES_AT_ONCE_PER_FEED)

    async def one(entry: Entry) -> None:
        async with gate:
            try:
                await _process_entry(services, feed, entry, parsed.language, report)
            except Exception as exc:  # one bad entry must not cost the others their turn
                if (storage := services.store.storage_error(exc)) is not None:
                    services.storage.failed(storage)  # the next entries fetch nothing they cannot store
                    report.failed(str(storage))
                    return
                log.exception("unexpected failure on entry %s of %s", entry.guid, feed.url)
                # The feed's body hash is then not stored, so the entry is tried again next poll.
                where = entry.url or entry.guid
                report.failed(f"{feed.url}: entry {where}: internal error {type(exc).__name__}: {exc}")

    await asyncio.gather(*(one(entry) for entry in fresh if entry.url not in known))
    return fresh


async def _process_entry(
    services: Services, feed: FeedState, entry: Entry, feed_language: str | None, report: FeedReport
) -> None:
    """One new entry: its page fetched here, analysed in a worker, stored with its alerts."""
    if services.storage.error is not None:  # fetch nothing that cannot be stored
        raise services.storage.error
    article = await _analyse(services, entry, feed_language, report)
    if article is None:
        return
    stored = await services.writer.store(NewArticle(feed.id, entry.guid, article))
    if isinstance(stored, SiteBoilerplate):
        # The site served this page text for other links too: not this article's, the feed's text instead.
        article = await services.pool.run(analyse, entry, feed_language, services.clock(), None, "", SAME_SITE_TEXT)
        if article is None:
            return
        stored = await services.writer.store(NewArticle(feed.id, entry.guid, article))
    if stored is None:
        report.duplicates += 1
        metrics.same_item()
        return
    assert not isinstance(stored, SiteBoilerplate)  # the feed's text has no page hash to count
    metrics.article_stored(
        new_story=stored.new_story,
        copy=stored.signal.startswith(stories.COPY_SIGNAL),
        topics=[found.topic for found in article.matches],
        alerts=stored.queued_on,
    )
    report.stored += 1
    report.matches += stored.matches
    report.alerts += stored.alerts
    if stored.alerts:
        services.alerts_queued()


async def _analyse(services: Services, entry: Entry, feed_language: str | None, report: FeedReport) -> Analysed | None:
    """The article from its page; from the feed's own summary when the page fails."""
    if entry.url:
        try:
            with metrics.fetch_timer("page"):
                page = await services.fetcher.get(entry.url)
            if page.status >= 400:
                raise FetchError(f"{entry.url} answered HTTP {page.status}")
            return await services.pool.run(analyse, entry, feed_language, services.clock(), page.body, page.url)
        except (FetchError, ParseError) as exc:
            report.page_failures += 1
            log.info("page of %s failed, using the feed's summary: %s", entry.url, exc)
    return await services.pool.run(analyse, entry, feed_language, services.clock())


def _reschedule(
    services: Services, feed: FeedState, report: FeedReport, response: FetchResult | None, rhythm: polling.Rhythm
) -> PollRecord:
    now = services.clock()
    failures = feed.error_count + 1 if report.error else 0
    status_code = response.status if response else None
    interval = polling.next_interval(
        services.poll_policy,
        entry_dates=rhythm.entry_dates,
        hints=rhythm.hints,
        response_headers=response.headers if response else None,
        status=status_code,
        consecutive_failures=failures,
        override=feed.interval_override,
        now=now,
        rng=services.rng,
        retry_soon=report.transient or feed.body_hash is None,  # body_hash: set by the first parse
    )
    failing_since = (feed.failing_since or now) if report.error else None
    parsed = report.outcome is PollOutcome.OK
    return PollRecord(
        feed_id=feed.id,
        checked_at=now,
        outcome=report.outcome,
        http_status=report.http_status,
        error=report.error,
        next_check_at=now + interval,
        interval=interval,
        etag=response.etag if response else None,
        last_modified=response.last_modified if response else None,
        body_hash=_body_hash(response.body) if response and parsed else None,
        rhythm=rhythm if parsed else None,
        dead=polling.is_dead(services.poll_policy, status=status_code, failing_since=failing_since, now=now),
        warning="; ".join(report.warnings) or None,
        feed=feed.name,
        url=feed.url,
        failing_since=feed.failing_since,
    )


def _body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


@dataclass
class CycleReport:
    feeds: list[FeedReport] = field(default_factory=list)

    @property
    def failed(self) -> list[FeedReport]:
        return [f for f in self.feeds if f.error]


async def poll_due(
    services: Services, owner: str, *, names: Sequence[str] | None = None, concurrency: int = 20
) -> CycleReport:
    """Claim the feeds that are due (or the named ones, or all when ``names`` is empty) and poll them."""
    return await poll_claimed(services, await claim_due(services, owner, names=names), concurrency=concurrency)


async def claim_due(services: Services, owner: str, *, names: Sequence[str] | None = None) -> list[FeedState]:
    """Lease the feeds that are due (or the named ones) to ``owner``; the heartbeat renews them from now on."""
    claim = metrics.timed_write("claim feeds", services.store.claim_due_feeds)
    feeds = await services.database.run(claim, owner, services.clock(), names=names, lease=services.lease)
    services.held.feeds.update(feed.id for feed in feeds)
    return feeds


async def poll_claimed(services: Services, feeds: Sequence[FeedState], *, concurrency: int = 20) -> CycleReport:
    """Poll feeds claimed by ``claim_due``.

    While a feed is polled its lease is renewed (``services.held``, the heartbeat), so a
    long poll is never claimed twice. When the database stops taking writes, the feeds
    not started yet are left alone (their leases expire) and nothing more is fetched.
    """
    record_polls = metrics.timed_write("polls", services.store.record_polls)
    gate = asyncio.Semaphore(concurrency)
    finished: list[PollRecord] = []  # written in batches: one transaction per feed would be most of a 304's cost

    async def write(records: list[PollRecord]) -> None:
        try:
            if records and not services.storage.failing:
                await services.database.run(record_polls, records, services.operator)
        except StorageError as exc:
            services.storage.failed(exc)  # the polls are not recorded: their feeds are polled again later
        finally:
            services.held.feeds.difference_update(record.feed_id for record in records)

    async def one(feed: FeedState) -> FeedReport | None:
        async with gate:
            if services.storage.failing:
                services.held.feeds.discard(feed.id)
                return None
            report, record = await refresh_feed(services, feed)
        _log_poll(report)
        metrics.feed_polled(report.outcome.label)
        finished.append(record)
        if len(finished) >= RECORDS_PER_WRITE:
            records, finished[:] = finished[:], []
            await write(records)
        return report

    try:
        reports = await asyncio.gather(*(one(feed) for feed in feeds))
        return CycleReport([report for report in reports if report is not None])
    finally:
        await write(finished)


def _log_poll(report: FeedReport) -> None:
    logs.event(
        "feed_polled",
        f"feed {report.name}: {report.error or report.status} ({report.stored} stored, {report.matches} matches)",
        feed=report.name,
        status=report.status,
        duration=round(report.seconds, 3),
        entries=report.entries,
        new=report.new,
        stored=report.stored,
        duplicates=report.duplicates,
        page_failures=report.page_failures,
        matches=report.matches,
        alerts=report.alerts,
        error=report.error,
    )


async def backfill(services: Services, topics: TopicSet, since: datetime, *, alert: bool) -> tuple[int, int]:
    """Match new or changed topics against stored articles; returns (matches, alerts queued)."""
    found = queued = 0
    routes = services.routes if alert else Routes()
    stored = services.store.stored_documents(since)
    # Reads and writes on the database thread, the matching here between them: the daemon's
    # other work runs on meanwhile.
    while (next_one := await services.database.run(next, stored, None)) is not None:
        article_id, story_id, document = next_one
        matches = topics.match(document)
        if matches:
            found += len(matches)
            queued_on = await services.database.run(
                services.store.store_backfill, article_id, story_id, matches, routes, services.clock()
            )
            metrics.alerts_queued(queued_on)
            queued += len(queued_on)
    return found, queued
