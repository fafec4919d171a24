"""Digests on their schedules: when a period ends, gather its new stories and queue one message.

The outbox key of a digest names its period, so however many processes look, and
however often, a period is queued once. A process that was down when a period ended
queues the newest ended period when it is back, once, and that digest starts where
the previous one ended: the stories of the periods it missed are in it, not lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from monitor import metrics
from monitor.alerts.digest import Digest, DigestStory, DigestTopic, from_payload, newest_first
from monitor.alerts.schedule import Period
from monitor.config import DigestConfig
from monitor.errors import StorageError
from monitor.store.db import StorageHealth
from monitor.store.interface import Store

log = logging.getLogger(__name__)

# A period's digest is gathered this long after it ends, so that an article stored at the
# boundary (its match dated just before, committed just after) is in it.
GRACE = timedelta(minutes=1)
# However long a process was down, a digest reaches back at most this far (or one period).
MAX_CATCH_UP = timedelta(days=7)
LOOK_EVERY = timedelta(minutes=1)  # at the latest; the loop wakes at the next period's end


def gather(store: Store, config: DigestConfig, period: Period, until: datetime) -> Digest:
    """The digest of ``period`` up to ``until``: the stories since the previous digest ended."""
    schedule = config.parsed
    last = store.last_digest(config.name)
    since = period.start
    if last is not None:
        since = max(from_payload(last).until, period.start - max(MAX_CATCH_UP, period.end - period.start))
    since = min(since, until)
    by_topic: dict[str, list[DigestStory]] = {}
    for entry in store.digest_entries(config.topics, since, until):
        story = DigestStory(entry.story_id, entry.title, entry.language, entry.matched_at, entry.outlets, entry.snippet)
        by_topic.setdefault(entry.topic, []).append(story)
    topics = tuple(DigestTopic(t, newest_first(by_topic[t])) for t in config.topics if t in by_topic)
    return Digest(config.name, str(schedule), schedule.zone, period.start, period.end, since, until, topics)


def queue_due(store: Store, digests: Sequence[DigestConfig], now: datetime, done: dict[str, Period]) -> int:
    """Queue the newest ended period of each digest unless it was; returns how many were queued.

    ``done`` remembers the periods this process has settled (queued, found queued, or
    empty), so each is looked at once per process.
    """
    queued = 0
    for config in digests:
        period = config.parsed.last_complete(now - GRACE)
        if done.get(config.name) == period:
            continue
        if not store.digest_queued(config.name, period.start):
            digest = gather(store, config, period, period.end)
            if digest.story_count and queue(store, digest, config.channel, now) is not None:
                queued += 1
                log.info("digest %s queued: %d stories", config.name, digest.story_count)
        done[config.name] = period
    return queued


def current(store: Store, config: DigestConfig, now: datetime) -> tuple[Digest, bool]:
    """The digest of the period in progress, up to now; and whether this period's was sent already."""
    period = config.parsed.period_of(now)
    return gather(store, config, period, now), store.digest_queued(config.name, period.start)


def queue(store: Store, digest: Digest, channel: str, now: datetime) -> int | None:
    """Queue a digest under its period's key; None when that period's was queued already.

    Queued before its period ends (`monitor digest send`), it is the period's one digest,
    and the next period's starts where it ended: nothing is listed twice or lost.
    """
    queued = store.queue_digest(digest.name, digest.period_start, digest.to_payload(), channel, now)
    if queued is not None:
        metrics.alerts_queued([channel])
    return queued


def next_look(digests: Sequence[DigestConfig], now: datetime) -> timedelta:
    """How long until the next period of any digest ends (and its grace passes), at most LOOK_EVERY."""
    waits = [config.parsed.period_of(now - GRACE).end + GRACE - now for config in digests]
    return max(timedelta(seconds=1), min([LOOK_EVERY, *waits]))


async def keep_queueing(
    store: Store,
    digests: Sequence[DigestConfig],
    clock: Callable[[], datetime],
    queued: Callable[[], None],
    storage: StorageHealth,
) -> None:
    """The daemon's digest task: queue each period when it ends; wake the dispatcher when one was."""
    done: dict[str, Period] = {}
    while True:
        if not storage.failing:
            try:
                if await asyncio.to_thread(queue_due, store, digests, clock(), done):
                    queued()
            except StorageError as exc:
                storage.failed(exc)
            except Exception:  # a bug must not end the digests for good: the next look tries again
                log.exception("queueing digests failed")
        await asyncio.sleep(next_look(digests, clock()).total_seconds())
