"""A slow database write must not stop the event loop: the fetches in flight go on meanwhile."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

from hostile import HostileServer
from seedsite import publish, seeds

from monitor.config import load_config
from monitor.service import running
from monitor.store import repository

SLOW_WRITE_SECONDS = 1.0  # a slow disk, or a database far away
LAG_BOUND_SECONDS = 0.5  # generous: the loop wakes a 5 ms sleeper within a few ms when nothing holds it


def test_a_slow_write_leaves_the_event_loop_serving_other_work(
    tmp_path: Path, site: HostileServer, make_config: Any, monkeypatch: Any
) -> None:
    real = repository.store_articles
    writing, loop_ran_meanwhile = threading.Event(), threading.Event()
    held_the_loop: list[bool] = []

    def slow_first_write(*args: Any, **kwargs: Any) -> Any:
        if not writing.is_set():
            writing.set()
            # The loop's watcher task answers at once; a write on the loop itself would wait here in vain.
            held_the_loop.append(not loop_ran_meanwhile.wait(timeout=10))
            time.sleep(SLOW_WRITE_SECONDS)
        return real(*args, **kwargs)

    monkeypatch.setattr(repository, "store_articles", slow_first_write)
    config = load_config(make_config(f"sqlite:///{tmp_path / 'm.db'}", [{"name": "seeds", "url": publish(site)}]))
    lags: list[float] = []

    async def watch() -> None:
        while not writing.is_set():
            await asyncio.sleep(0.001)
        loop_ran_meanwhile.set()

    async def probe() -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(0.005)
            lags.append(time.perf_counter() - started - 0.005)

    async def poll() -> Any:
        async with running(config) as runtime:
            tasks = [asyncio.create_task(watch()), asyncio.create_task(probe())]
            report, _ = await runtime.poll([])
            for task in tasks:
                task.cancel()
            return report

    report = asyncio.run(poll())
    assert held_the_loop == [False], "the event loop ran nothing while an article was being written"
    assert len(lags) > SLOW_WRITE_SECONDS / 0.005 / 4, f"the probe woke only {len(lags)} times"
    assert max(lags) < LAG_BOUND_SECONDS, (
        f"the event loop stalled {max(lags):.2f} s while a write took {SLOW_WRITE_SECONDS} s"
    )
    # The slow batch still stored every article, each once.
    feed = report.feeds[0]
    assert feed.error is None and feed.stored == len(seeds())
