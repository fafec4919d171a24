"""The daemon's ticker: APScheduler wakes the process; the schedule itself is in the database.

APScheduler 3.x is used only as an in-process timer (coalesce, one instance at a
time). Which feed is due, who holds it and when it runs next are rows in the feed
table, so a restart or a second worker loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from monitor.service import Runtime

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_SECONDS = 5.0


async def run_forever(runtime: Runtime, report: Callable[[str], None], stop: asyncio.Event | None = None) -> None:
    """Tick until SIGTERM/SIGINT (or ``stop``); let the running tick finish for a few seconds.

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

    async def tick() -> None:
        task = asyncio.current_task()
        assert task is not None
        current.add(task)
        try:
            if not runtime.storage_ready():  # fetch nothing that could not be stored
                return
            cycle = await runtime.poll_feeds()
            if cycle.feeds:
                report(
                    f"{datetime.now(UTC):%H:%M:%S} polled {len(cycle.feeds)} feeds "
                    f"({len(cycle.failed)} failed), {sum(f.stored for f in cycle.feeds)} new articles, "
                    f"{sum(f.alerts for f in cycle.feeds)} alerts queued"
                )
        except asyncio.CancelledError:  # stopping: unfinished feeds are polled again after restart
            report("stopping: the current cycle was interrupted; its unfinished feeds are polled after restart")
        except Exception:  # a failing tick must not kill the daemon; the next one tries again
            log.exception("tick failed")
        finally:
            current.discard(task)

    tick_every = runtime.config.polling.tick
    # A cycle longer than a tick is normal; APScheduler would warn about every skipped tick.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    scheduler = AsyncIOScheduler(timezone=UTC)
    scheduler.add_job(
        tick,
        "interval",
        seconds=tick_every.total_seconds(),
        next_run_time=datetime.now(UTC),
        coalesce=True,
        max_instances=1,
        misfire_grace_time=None,
    )
    scheduler.start()
    delivering = asyncio.create_task(runtime.dispatcher.run(tick_every, report))
    digesting = asyncio.create_task(runtime.keep_queueing_digests())
    report(
        f"monitor running: {len(runtime.config.feeds)} feeds, {len(runtime.config.topics)} topics, "
        f"{len(runtime.channels)} alert channels; Ctrl-C or SIGTERM stops"
    )
    await stop.wait()
    scheduler.shutdown(wait=False)
    runtime.dispatcher.stop()
    digesting.cancel()  # a digest is queued in one transaction: cancelled between, nothing is half done
    if current:
        report("stopping: letting the current cycle finish…")
    # Alerts still in flight when the grace ends stay queued and are sent after restart.
    _, pending = await asyncio.wait({*current, delivering}, timeout=SHUTDOWN_GRACE_SECONDS)
    for task in pending:  # unfinished feeds are released at exit and polled again
        task.cancel()
    await asyncio.gather(*pending, digesting, return_exceptions=True)
    report("stopped")
