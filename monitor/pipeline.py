"""The orchestrator: what happens to one feed, from fetch to outbox, in one screen.

Every stage it calls is either pure (feeds, extract, text, topics, stories, polling)
or a thin adapter (fetch, store, alerts). A feed that misbehaves ends as a recorded
error on that feed; it never stops the others.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.engine import Engine

from monitor import polling, stories
from monitor.errors import FetchError, ParseError
from monitor.extract import WorkerPool, extract_article
from monitor.feeds import ParsedFeed, parse_feed
from monitor.fetch import Fetcher, FetchResult
from monitor.model import Document, Entry
from monitor.store import repository
from monitor.store.repository import FeedState, PollRecord
from monitor.store.tables import utcnow
from monitor.text import detect_language
from monitor.topics import TopicSet

log = logging.getLogger(__name__)

ARTICLES_AT_ONCE_PER_FEED = 4


@dataclass
class Services:
    """The adapters and compiled rules one process polls with."""

    engine: Engine
    fetcher: Fetcher
    pool: WorkerPool
    topics: TopicSet
    channels: Sequence[str]
    story_rules: stories.StoryRules
    poll_policy: polling.PollPolicy
    clock: Callable[[], datetime] = utcnow
    rng: random.Random = field(default_factory=random.Random)


@dataclass
class FeedReport:
    """What polling one feed did, for the status line and the logs."""

    name: str
    status: str = "ok"
    error: str | None = None
    entries: int = 0
    new: int = 0
    stored: int = 0
    duplicates: int = 0
    page_failures: int = 0
    matches: int = 0
    alerts: int = 0
    seconds: float = 0.0


async def refresh_feed(services: Services, feed: FeedState) -> FeedReport:
    """Poll one feed: fetch, parse, process its new entries, store, reschedule."""
    report = FeedReport(feed.name)
    started = time.monotonic()
    response: FetchResult | None = None
    parsed: ParsedFeed | None = None
    try:
        response = await services.fetcher.get(
            feed.url, etag=feed.etag, last_modified=feed.last_modified, trusted=True
        )
        if response.status == 304:
            report.status = "not modified"
        elif response.status >= 400:
            report.status = f"HTTP {response.status}"
            report.error = (
                f"{feed.url} answered HTTP {response.status}; the feed will be retried later"
            )
        elif _body_hash(response.body) == feed.body_hash:
            report.status = "not modified"  # a 200 with the same bytes costs no parsing
        else:
            parsed = await services.pool.run(
                parse_feed, response.body, response.headers, response.url
            )
            await _process_entries(services, feed, parsed, report)
    except (FetchError, ParseError) as exc:
        report.status, report.error = "error", str(exc)
    except Exception as exc:  # a bug must not stop the other feeds; it is recorded on this one
        log.exception("unexpected failure polling %s", feed.url)
        report.status, report.error = (
            "error",
            f"{feed.url}: internal error {type(exc).__name__}: {exc}",
        )
    _reschedule(services, feed, report, response, parsed)
    report.seconds = time.monotonic() - started
    return report


async def _process_entries(
    services: Services, feed: FeedState, parsed: ParsedFeed, report: FeedReport
) -> None:
    report.entries = len(parsed.entries)
    unseen = repository.unseen_entries(services.engine, feed.id, [e.guid for e in parsed.entries])
    fresh = [e for e in parsed.entries if e.guid in unseen]
    report.new = len(fresh)
    gate = asyncio.Semaphore(ARTICLES_AT_ONCE_PER_FEED)

    async def one(entry: Entry) -> None:
        async with gate:
            try:
                await _process_entry(services, feed, entry, parsed.language, report)
            except Exception as exc:  # one bad entry must not cost the others their turn
                log.exception("unexpected failure on entry %s of %s", entry.guid, feed.url)
                # The feed's body hash is then not stored, so the entry is tried again next poll.
                report.status = "error"
                where = entry.url or entry.guid
                report.error = f"{feed.url}: entry {where}: internal error {type(exc).__name__}: {exc}"

    await asyncio.gather(*(one(entry) for entry in fresh))


async def _process_entry(
    services: Services, feed: FeedState, entry: Entry, feed_language: str | None, report: FeedReport
) -> None:
    """One new entry: its page's text (or the feed's), topics, story, stored with its alerts."""
    if entry.url and repository.is_known_url(services.engine, entry.url):
        report.duplicates += 1  # another feed brought it already: no page fetch
        return
    document, published_at = await _load_article(services, entry, feed_language, report)
    if not document.text and not document.title:
        return
    matches = services.topics.match(document)
    stored = repository.store_article(
        services.engine,
        repository.NewArticle(
            feed_id=feed.id,
            guid=entry.guid,
            url=entry.url,
            title=document.title,
            text=document.text,
            language=document.language,
            published_at=published_at,
            features=stories.story_features(document, published_at),
        ),
        matches,
        services.channels,
        services.story_rules,
        services.clock(),
    )
    if stored is None:
        report.duplicates += 1
        return
    report.stored += 1
    report.matches += stored.matches
    report.alerts += stored.alerts


async def _load_article(
    services: Services, entry: Entry, feed_language: str | None, report: FeedReport
) -> tuple[Document, datetime | None]:
    """The article page's extracted text; the feed's own summary when the page fails."""
    title, text, declared, published = (
        entry.title,
        entry.summary,
        entry.language or feed_language,
        entry.published_at,
    )
    if entry.url:
        try:
            page = await services.fetcher.get(entry.url)
            if page.status >= 400:
                raise FetchError(f"{entry.url} answered HTTP {page.status}")
            extracted = await services.pool.run(extract_article, page.body, page.url)
            if extracted is not None and extracted.text:
                text = extracted.text
                title = title or (extracted.title or "")
                declared = extracted.language or declared
                published = published or extracted.published_at
        except (FetchError, ParseError) as exc:
            report.page_failures += 1
            log.info("page of %s failed, using the feed's summary: %s", entry.url, exc)
    language = detect_language(f"{title}\n{text}", declared)
    return Document(title=title, text=text, language=language, url=entry.url), published


def _reschedule(
    services: Services,
    feed: FeedState,
    report: FeedReport,
    response: FetchResult | None,
    parsed: ParsedFeed | None,
) -> None:
    now = services.clock()
    failures = feed.error_count + 1 if report.error else 0
    status_code = response.status if response else None
    if parsed is not None:
        entry_dates = [e.published_at for e in parsed.entries if e.published_at]
    else:  # 304, an unchanged body or a failure: the feed's rhythm is in what it published before
        entry_dates = repository.recent_entry_dates(services.engine, feed.id, now - polling.WEEK)
    interval = polling.next_interval(
        services.poll_policy,
        entry_dates=entry_dates,
        hints=parsed.hints if parsed else polling.PollHints(),
        response_headers=response.headers if response else None,
        status=status_code,
        consecutive_failures=failures,
        override=feed.interval_override,
        now=now,
        rng=services.rng,
    )
    failing_since = (feed.failing_since or now) if report.error else None
    dead = polling.is_dead(
        services.poll_policy, status=status_code, failing_since=failing_since, now=now
    )
    record = PollRecord(
        status=report.status,
        error=report.error,
        next_check_at=now + interval,
        interval=interval,
        etag=response.etag if response else None,
        last_modified=response.last_modified if response else None,
        body_hash=_body_hash(response.body) if response and report.status == "ok" else None,
        dead=dead,
    )
    repository.record_poll(services.engine, feed.id, record, now)


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
    feeds = repository.claim_due_feeds(services.engine, owner, services.clock(), names=names)
    gate = asyncio.Semaphore(concurrency)

    async def one(feed: FeedState) -> FeedReport:
        async with gate:
            return await refresh_feed(services, feed)

    return CycleReport(list(await asyncio.gather(*(one(feed) for feed in feeds))))


async def backfill(
    services: Services, topics: TopicSet, since: datetime, *, alert: bool
) -> tuple[int, int]:
    """Match new or changed topics against stored articles; returns (matches, alerts queued)."""
    found = queued = 0
    for article_id, story_id, document in repository.stored_documents(services.engine, since):
        matches = topics.match(document)
        if matches:
            found += len(matches)
            queued += repository.store_backfill(
                services.engine, article_id, story_id, matches, services.channels, alert=alert
            )
        await asyncio.sleep(0)  # let the daemon's other work run
    return found, queued
