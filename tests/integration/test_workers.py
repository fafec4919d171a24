"""The worker pool: CPU-bound documents off the event loop, bounded, recycled; what a worker holds."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import feedparser
import pytest
from seedsite import article_page

from monitor.errors import ParseError
from monitor.extract import extract_article
from monitor.feeds import ParsedFeed, parse_feed
from monitor.model import Entry
from monitor.topics import TopicSet, TopicSpec
from monitor.workers import WORKER_NICENESS, WorkerPool, analyse, install_topics

FEED = (
    b"<rss version='2.0'><channel><title>t</title><item><title>a</title><link>http://e/a</link></item></channel></rss>"
)


def slow_feed() -> bytes:
    """A feed that feedparser alone spends tens of seconds on (its e-mail regex)."""
    author = "a" * 20_000 + "@" + "b." * 20_000
    return FEED.replace(b"</item>", f"<author>{author}</author></item>".encode())


def test_pool_runs_parsing_off_the_event_loop() -> None:
    async def main() -> ParsedFeed:
        pool = WorkerPool(workers=1)
        try:
            return await pool.run(parse_feed, FEED, {}, "http://e/feed")
        finally:
            pool.close()

    assert asyncio.run(main()).entries[0].url == "http://e/a"


def test_pool_passes_parse_errors_through() -> None:
    async def main() -> None:
        pool = WorkerPool(workers=1)
        try:
            with pytest.raises(ParseError, match="not a feed: http://e/feed answered with an empty"):
                await pool.run(parse_feed, b"", {}, "http://e/feed")
        finally:
            pool.close()

    asyncio.run(main())


def test_stuck_document_is_abandoned_and_its_worker_replaced() -> None:
    page = article_page("003_6abb16c7ba739e56.txt", "fr")

    async def main() -> None:
        pool = WorkerPool(workers=2, timeout=3.0)
        try:
            pids: set[int] = set()
            for _ in range(100):  # until both workers have answered, however the first were spread
                pids.update(await asyncio.gather(pool.run(os.getpid), pool.run(os.getpid)))
                if len(pids) == 2:
                    break
                await asyncio.sleep(0.1)
            assert len(pids) == 2
            started = time.monotonic()
            slow = pool.run(feedparser.parse, slow_feed())
            good = pool.run(extract_article, page, "https://news.example/fr")
            outcome = await asyncio.gather(slow, good, return_exceptions=True)
            elapsed = time.monotonic() - started
            assert isinstance(outcome[0], ParseError)
            assert str(outcome[0]) == "parse took longer than 3 s; skipped"
            # The innocent document on the other worker was finished or retried, not lost.
            assert outcome[1] is not None and not isinstance(outcome[1], BaseException)
            assert elapsed < 10, f"{elapsed:.1f} s"
            assert pool.rebuilds == 1
            # The stuck worker is gone, not left spinning; the other one was left alone.
            assert sum(not _alive(pid) for pid in pids) == 1
            again = await pool.run(parse_feed, FEED, {}, "http://e/feed")
            assert again.entries
        finally:
            pool.close()

    asyncio.run(main())


def test_a_document_that_kills_its_worker_is_skipped_and_the_pool_goes_on() -> None:
    async def main() -> None:
        pool = WorkerPool(workers=2, timeout=10.0)
        try:
            with pytest.raises(ParseError, match=r"^_exit crashed its worker process; skipped$"):
                await pool.run(os._exit, 3)  # tried twice, each time on a worker that then dies
            assert pool.rebuilds == 2
            assert (await pool.run(parse_feed, FEED, {}, "http://e/feed")).entries
        finally:
            pool.close()

    asyncio.run(main())


def test_a_worker_that_cannot_start_gives_one_clear_error_instead_of_a_hang() -> None:
    async def main() -> None:
        pool = WorkerPool(workers=1, setup=partial(int, "not a number"))  # setup raises in the worker
        try:
            with pytest.raises(ParseError, match=r"^cannot start a worker process: it exited before it was ready"):
                await asyncio.wait_for(pool.run(os.getpid), 30)
        finally:
            pool.close()

    asyncio.run(main())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_started_pool_loads_its_workers_before_the_first_document() -> None:
    async def main() -> tuple[int, int, int]:
        pool = WorkerPool(workers=2)
        try:
            pool.start()
            loading = pool.started
            pids = set(await asyncio.gather(*(pool.run(os.getpid) for _ in range(4))))
            return loading, len(pids), pool.started
        finally:
            pool.close()

    loading, answered_from, started = asyncio.run(main())
    assert loading == 2  # before any document was handed over
    assert answered_from >= 1 and started == 2  # the documents went to those workers: no others started


def test_workers_run_below_the_event_loop() -> None:
    # A CPU-bound document must not keep the event loop, which feeds the workers, off a core.
    async def main() -> int:
        pool = WorkerPool(workers=1)
        try:
            return await pool.run(os.nice, 0)
        finally:
            pool.close()

    assert asyncio.run(main()) == min(19, os.nice(0) + WORKER_NICENESS)  # 19: the lowest priority there is


def test_workers_are_recycled_after_max_tasks() -> None:
    async def main() -> list[int]:
        pool = WorkerPool(workers=1, max_tasks_per_child=1)
        try:
            return [await pool.run(os.getpid) for _ in range(3)]
        finally:
            pool.close()

    assert len(set(asyncio.run(main()))) == 3


def test_recycling_under_a_backlog_never_strands_a_document() -> None:
    # Documents queue while the pool is replaced every two: each still runs, on its own generation.
    async def main() -> list[int]:
        pool = WorkerPool(workers=1, max_tasks_per_child=2, timeout=10.0)
        try:
            return list(await asyncio.gather(*(pool.run(os.getpid) for _ in range(10))))
        finally:
            pool.close()

    started = time.monotonic()
    pids = asyncio.run(main())
    assert len(pids) == 10 and len(set(pids)) == 5
    assert time.monotonic() - started < 10


def test_closing_a_pool_while_workers_start_leaves_the_fork_server_working() -> None:
    # Each pool is closed with a recycled worker's successor still starting, on a thread:
    # the pool must not close that worker's socket under the fork server (it died of it).
    async def main() -> list[int]:
        pool = WorkerPool(workers=1, max_tasks_per_child=2, timeout=10.0)
        try:
            return list(await asyncio.gather(*(pool.run(os.getpid) for _ in range(4))))
        finally:
            pool.close()

    for _ in range(60):
        assert len(asyncio.run(main())) == 4


def test_deeply_nested_html_is_bounded() -> None:
    nested = b"<html><body>" + b"<div><span>" * 50_000 + b"deep " * 100 + b"</span></div>" * 50_000

    async def main() -> object:
        pool = WorkerPool(workers=1, timeout=10.0)
        try:
            return await pool.run(extract_article, nested, "https://news.example/deep")
        finally:
            pool.close()

    started = time.monotonic()
    try:
        asyncio.run(main())
    except ParseError as error:  # too slow is acceptable, as long as it is bounded and clear
        assert "took longer than" in str(error)
    assert time.monotonic() - started < 15


# --- what a worker holds: its topics, installed once by the pool's setup --------------------------


def test_a_worker_analyses_with_the_topics_its_setup_installed() -> None:
    page = article_page("003_6abb16c7ba739e56.txt", "fr")
    entry = Entry(guid="g", url="https://news.example/fr", title="", summary="", published_at=None)
    topics = TopicSet.compile([TopicSpec("everything", "lang:fr")])

    async def main() -> list[str]:
        pool = WorkerPool(workers=1, setup=partial(install_topics, topics))
        try:
            analysed = await pool.run(analyse, entry, None, datetime.now(UTC), page, entry.url)
        finally:
            pool.close()
        assert analysed is not None and analysed.document.language == "fr"
        return [match.topic for match in analysed.matches]

    assert asyncio.run(main()) == ["everything"]


def test_a_worker_without_topics_says_so_instead_of_matching_nothing() -> None:
    entry = Entry(guid="g", url="https://news.example/a", title="Tram line approved", summary="", published_at=None)

    async def main() -> None:
        pool = WorkerPool(workers=1)  # no setup=install_topics
        try:
            with pytest.raises(ParseError, match="no topics in this worker process: create the WorkerPool with setup"):
                await pool.run(analyse, entry, "en", datetime.now(UTC))
        finally:
            pool.close()

    asyncio.run(main())


def test_the_modules_answers_need_are_imported_as_the_first_worker_starts() -> None:
    """Unpickling an answer imports its classes' modules: the pool imports them first, on a thread."""
    import sys

    sys.modules.pop("colorsys", None)  # a module nothing here has a use for

    async def main() -> None:
        pool = WorkerPool(workers=1, answers_from=("colorsys",))
        try:
            assert await pool.run(abs, -1) == 1
            for _ in range(100):
                if "colorsys" in sys.modules:
                    break
                await asyncio.sleep(0.05)
        finally:
            pool.close()

    asyncio.run(main())
    assert "colorsys" in sys.modules


def test_the_main_script_runs_once_in_the_fork_server_not_in_every_worker(tmp_path: Path) -> None:
    """multiprocessing runs the parent's main script in each new process; the fork server runs it for all."""
    script = tmp_path / "main.py"
    script.write_text(
        f"""
import asyncio, os
from monitor.workers import WorkerPool

with open({str(tmp_path / "runs")!r}, "a") as runs:  # one line per process that runs this script
    runs.write(__name__ + "\\n")

async def main():
    pool = WorkerPool(workers=2)
    try:
        pids = set()
        for _ in range(100):  # until both workers have answered: the first one ready takes all it can
            pids.update(await asyncio.gather(*(pool.run(os.getpid) for _ in range(4))))
            if len(pids) == 2:
                break
            await asyncio.sleep(0.05)
    finally:
        pool.close()
    assert len(pids) == 2, pids

if __name__ == "__main__":
    asyncio.run(main())
""",
        encoding="utf-8",
    )
    subprocess.run([sys.executable, str(script)], check=True, timeout=60)
    assert (tmp_path / "runs").read_text(encoding="utf-8").split() == ["__main__", "__mp_main__"]
