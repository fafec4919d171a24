"""The daemon's clock: sleep until the next feed falls due, poll it, deliver beside it.

Which feed is due, who holds it and when it runs next are rows in the feed table, so
a restart or a second worker loses nothing. The loop sleeps until the earliest due
time the database knows, waking early when a poll ends (its feeds get new times) and
at least every ``polling.tick`` (another worker may have added or polled feeds).
Feeds falling due while others are still being polled are polled at once, beside
them: a slow feed never holds up the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from monitor.store.interface import FeedState

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_SECONDS = 5.0
RETENTION_FIRST_RUN = timedelta(hours=1)
# When a feed is due but none could be claimed (another worker is claiming it this instant),
# look again after this, not in a busy loop.
CLAIM_RETRY = timedelta(seconds=1)
RETENTION_EVERY = timedelta(days=1)


@dataclass(frozen=True)
class Jobs:
    """What the daemon runs and how often, handed over by the composition root
    (``monitor.runtime.Runtime.jobs``): the scheduler reads no configuration."""

    poll: Callable[[list[FeedState]], Awaitable[str | None]]  # poll claimed feeds: a line to report, if any
    claim_due: Callable[[], Awaitable[list[FeedState]]]  # lease the feeds due now
    next_due: Callable[[], Awaitable[datetime | None]]  # when the next feed falls due
    storage_ready: Callable[[], bool]  # False while the database refuses writes: fetch nothing then
    deliver: Callable[[], Coroutine[Any, Any, None]]  # delivers alerts until ``stop_delivering``
    stop_delivering: Callable[[], None]
    queue_digests: Callable[[], Coroutine[Any, Any, None]]  # queues each digest when its period ends, forever
    prune: Callable[[], Awaitable[object]]  # the retention chore
    clock: Callable[[], datetime]
    tick: timedelta  # look again at least this often (polling.tick): another worker may have changed things
    started: str  # the line that says the daemon runs


async def run_forever(jobs: Jobs, report: Callable[[str], None], stop: asyncio.Event | None = None) -> None:
    """Poll feeds as they fall due until SIGTERM/SIGINT (or ``stop``); let the polls in progress
    finish for a few seconds.

    Polling and delivery are separate tasks: a receiver that hangs delays its own
    channel, never the next poll. A database that refuses writes pauses both, told in
    one line when it starts and one when it ends.
    """
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    current: set[asyncio.Task[None]] = set()

    async def poll(feeds: list[FeedState]) -> None:
        try:
            if (line := await jobs.poll(feeds)) is not None:
                report(line)
        except asyncio.CancelledError:  # stopping: unfinished feeds are polled again after restart
            report("stopping: the current cycle was interrupted; its unfinished feeds are polled after restart")
        except Exception:  # a failing poll must not kill the daemon; the feeds are due again later
            log.exception("poll failed")
        finally:
            woken.set()  # its feeds have new due times

    def start(feeds: list[FeedState]) -> None:
        task = asyncio.create_task(poll(feeds))
        current.add(task)
        task.add_done_callback(current.discard)

    woken = asyncio.Event()
    scheduling = asyncio.create_task(_schedule(jobs, start, woken, stop))
    delivering = asyncio.create_task(jobs.deliver())
    digesting = asyncio.create_task(jobs.queue_digests())
    # The chores on a calendar: retention (retention.articles) daily, the first an hour after start.
    chores = AsyncIOScheduler(timezone=UTC)
    chores.add_job(
        jobs.prune,
        "interval",
        seconds=RETENTION_EVERY.total_seconds(),
        next_run_time=datetime.now(UTC) + RETENTION_FIRST_RUN,
        coalesce=True,
        max_instances=1,
    )
    chores.start()
    report(jobs.started)
    await stop.wait()
    chores.shutdown(wait=False)
    woken.set()
    await scheduling
    jobs.stop_delivering()
    digesting.cancel()  # a digest is queued in one transaction: cancelled between, nothing is half done
    if current:
        report("stopping: letting the polls in progress finish…")
    # Alerts still in flight when the grace ends stay queued and are sent after restart.
    _, pending = await asyncio.wait({*current, delivering}, timeout=SHUTDOWN_GRACE_SECONDS)
    for task in pending:  # unfinished feeds are released at exit and polled again
        task.cancel()
    await asyncio.gather(*pending, digesting, return_exceptions=True)
    report("stopped")


async def _schedule(
    jobs: Jobs,
    start: Callable[[list[FeedState]], None],
    woken: asyncio.Event,
    stop: asyncio.Event,
) -> None:
    """Until ``stop``: claim the feeds that are due and start polling them, then sleep until
    the next due time, a finished poll, or ``polling.tick``, whichever comes first."""
    recheck, clock = jobs.tick, jobs.clock
    while not stop.is_set():
        woken.clear()
        wait = recheck
        try:
            if jobs.storage_ready():  # fetch nothing that could not be stored
                due = await jobs.next_due()
                if due is not None and due <= clock():
                    feeds = await jobs.claim_due()
                    if feeds:
                        start(feeds)
                        continue  # more may be due (a claim takes at most 500)
                    wait = CLAIM_RETRY
                elif due is not None:
                    wait = min(recheck, due - clock())
        except Exception:  # a bug here must not stop the daemon: look again after a while
            log.exception("scheduling failed")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(wait.total_seconds(), 0.0)):
                await woken.wait()
