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
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from monitor.service import Runtime
from monitor.store.interface import FeedState

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_SECONDS = 5.0
RETENTION_FIRST_RUN = timedelta(hours=1)
# When a feed is due but none could be claimed (another worker is claiming it this instant),
# look again after this, not in a busy loop.
CLAIM_RETRY = timedelta(seconds=1)


async def run_forever(runtime: Runtime, report: Callable[[str], None], stop: asyncio.Event | None = None) -> None:
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
    runtime.services.storage.notify = report

    async def poll(feeds: list[FeedState]) -> None:
        try:
            cycle = await runtime.poll_claimed(feeds)
            if any(f.stored or f.error for f in cycle.feeds):  # a line per poll that found something
                report(
                    f"{datetime.now(UTC):%H:%M:%S} polled {len(cycle.feeds)} feeds "
                    f"({len(cycle.failed)} failed), {sum(f.stored for f in cycle.feeds)} new articles, "
                    f"{sum(f.alerts for f in cycle.feeds)} alerts queued"
                )
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
    scheduling = asyncio.create_task(_schedule(runtime, start, woken, stop))
    delivering = asyncio.create_task(runtime.dispatcher.run(runtime.config.polling.tick, report))
    digesting = asyncio.create_task(runtime.keep_queueing_digests())
    # The chores on a calendar: retention (retention.articles) daily, the first an hour after start.
    chores = AsyncIOScheduler(timezone=UTC)
    chores.add_job(
        runtime.prune,
        "interval",
        days=1,
        next_run_time=datetime.now(UTC) + RETENTION_FIRST_RUN,
        coalesce=True,
        max_instances=1,
    )
    chores.start()
    report(
        f"monitor running: {len(runtime.config.feeds)} feeds, {len(runtime.config.topics)} topics, "
        f"{len(runtime.channels)} alert channels; Ctrl-C or SIGTERM stops"
    )
    await stop.wait()
    chores.shutdown(wait=False)
    woken.set()
    await scheduling
    runtime.dispatcher.stop()
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
    runtime: Runtime,
    start: Callable[[list[FeedState]], None],
    woken: asyncio.Event,
    stop: asyncio.Event,
) -> None:
    """Until ``stop``: claim the feeds that are due and start polling them, then sleep until
    the next due time, a finished poll, or ``polling.tick``, whichever comes first."""
    recheck = runtime.config.polling.tick
    clock = runtime.services.clock
    while not stop.is_set():
        woken.clear()
        wait = recheck
        try:
            if runtime.storage_ready():  # fetch nothing that could not be stored
                due = await runtime.next_feed_due()
                if due is not None and due <= clock():
                    feeds = await runtime.claim_due_feeds()
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
