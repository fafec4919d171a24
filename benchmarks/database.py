"""Benchmark: the database off the event loop, a writer thread against SQLAlchemy's async engine.

    .venv/bin/pip install -q -e '.[bench]'   # aiosqlite and asyncpg, for the async engine
    .venv/bin/python benchmarks/database.py [--articles 1500] [--batch 10] [--rounds 2]
        [--database sqlite,postgresql]

The same article batches (news articles of 3-6 KB built from the seeds, each with its
story features, a fifth of them matching a topic so that outbox rows are written too) are
stored into an empty database, one batch after the other, as the daemon's group commit
writes them, by each way of keeping the database work off the event loop:

- ``thread``: what the daemon does. ``pipeline.DatabaseThread`` runs
  ``SqlStore.store_articles`` on its one thread over the synchronous engine (pysqlite,
  psycopg); the loop only waits for the result.
- ``async``: ``create_async_engine`` (aiosqlite; asyncpg and psycopg's async connection
  on PostgreSQL) and the same statements, through ``AsyncConnection.run_sync``: SQLAlchemy's
  greenlet bridge, as its async ORM and Core run, so every Python step of the write runs on
  the event loop and each statement is awaited.

Per run: articles/s, the CPU of this whole process per article (the loop, the writer
thread, aiosqlite's thread; not the PostgreSQL server's), and the event-loop lag seen by a
probe task that asks to wake every 5 ms (p99 and max: how long the loop was blocked).
The variants alternate from round to round, each in a fresh database. PostgreSQL is a
throwaway server started from the machine's binaries, as the tests do (tests/postgres.py),
on loopback with fsync off. The machine is shared: print ``uptime`` beside the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))

import stories as synthetic  # noqa: E402  (benchmarks/stories.py)
from _pages import load_seeds, story  # noqa: E402
from postgres import create_database, postgres_server  # noqa: E402

from monitor.article import Analysed, text_identity  # noqa: E402
from monitor.model import Document, Routes, TopicMatch  # noqa: E402
from monitor.pipeline import DatabaseThread  # noqa: E402
from monitor.service import run_loop  # noqa: E402
from monitor.store import db, repository, search  # noqa: E402
from monitor.store.interface import NewArticle, Stored, StoredArticle  # noqa: E402
from monitor.store.sql import SqlStore  # noqa: E402
from monitor.stories.stage import AssignStory  # noqa: E402

START = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
FEEDS = 20
ROUTES = Routes(default=("webhook:bench",))
ASSIGN_STORY = AssignStory()
PROBE_PERIOD = 0.005

Batches = list[list[NewArticle]]
Write = Callable[[list[NewArticle], datetime], Awaitable[list[Stored]]]


@dataclass(frozen=True)
class Feed:
    url: str
    name: str
    interval: timedelta | None = None


@dataclass
class Run:
    variant: str
    seconds: float = 0.0
    cpu: float = 0.0
    stored: int = 0
    new_stories: int = 0
    lags: list[float] = field(default_factory=list)

    def line(self) -> str:
        ordered = sorted(self.lags) or [0.0]
        p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
        return (
            f"{self.variant:<16} {self.stored / self.seconds:6.0f} articles/s  "
            f"CPU {self.cpu / self.stored * 1000:5.2f} ms/article  "
            f"loop lag p99 {p99 * 1000:5.1f} ms  max {ordered[-1] * 1000:6.1f} ms  "
            f"({self.stored} stored, {self.new_stories} new stories)"
        )


# --- the articles ---------------------------------------------------------------------------


def make_batches(count: int, per_batch: int, feed_ids: Sequence[int]) -> Batches:
    """``count`` articles, ``per_batch`` to a write, published a second apart.

    Their story features are benchmarks/stories.py's synthetic reports of events (names,
    numbers, dates, terms as outlets write them), a third of them another report of one of
    the last 40 events, so articles both start and join stories; their text is that
    report's above 3-6 KB of seed prose (benchmarks/_pages.py), for the full-text index."""
    rng = random.Random(5)
    vocabulary = synthetic.Vocabulary.build()
    seeds = load_seeds()
    events: list[synthetic.Event] = []
    items = []
    for n in range(count):
        published = START + timedelta(seconds=n)
        if not events or rng.random() >= 1 / 3:
            events = [*events[-39:], synthetic.new_event(vocabulary, rng, published)]
        report = synthetic.report_of(rng.choice(events), vocabulary, rng, published)
        page = story(seeds, n % FEEDS, n, published)
        text = "\n".join([report.text, *page.paragraphs])
        url = f"https://site{n % FEEDS}.example/news/{n}"
        text_hash = text_identity(text)
        matches = [TopicMatch("ByteDance AI", 0.8, ("bytedance",), snippet="…")] if n % 5 == 0 else []
        document = Document(report.title, text, report.language, url)
        analysed = Analysed(document, published, matches, report.features, text_hash, page_hash=text_hash)
        items.append(NewArticle(feed_ids[n % len(feed_ids)], url, analysed))
    return [items[i : i + per_batch] for i in range(0, count, per_batch)]


# --- the two ways -------------------------------------------------------------------------


@asynccontextmanager
async def thread_writer(url: str) -> AsyncIterator[Write]:
    """The daemon's way: SqlStore.store_articles on the one database thread."""
    store = SqlStore(db.create_engine(url))
    database = DatabaseThread()

    async def write(batch: list[NewArticle], now: datetime) -> list[Stored]:
        return await database.run(store.store_articles, batch, ROUTES, ASSIGN_STORY, now)

    try:
        yield write
    finally:
        store.close()


@asynccontextmanager
async def async_writer(url: str) -> AsyncIterator[Write]:
    """SQLAlchemy's async engine, the same statements through ``run_sync``'s greenlet bridge."""
    from sqlalchemy.ext.asyncio import create_async_engine

    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_async_engine(parsed.set(drivername="sqlite+aiosqlite"), connect_args={"timeout": 30})
        sa.event.listen(engine.sync_engine, "connect", db._sqlite_on_connect)  # as db.create_engine does
        sa.event.listen(engine.sync_engine, "begin", db._sqlite_on_begin)
    else:
        engine = create_async_engine(parsed, pool_pre_ping=True)
    writer = engine.execution_options(monitor_write=True)

    async def write(batch: list[NewArticle], now: datetime) -> list[Stored]:
        # As repository.store_articles: the pure work before the transaction begins.
        prepared = [
            (
                item,
                ASSIGN_STORY.keys(item.article.features),
                item.article.features.to_json(),
                search.indexed_text(
                    item.article.title, item.article.text, item.article.language, item.article.text_source
                ),
            )
            for item in batch
        ]

        def store(connection: sa.Connection) -> list[Stored]:
            return [
                repository._store_one(connection, item, keys, features, words, ROUTES, ASSIGN_STORY, now)
                for item, keys, features, words in prepared
            ]

        async with writer.begin() as connection:
            return await connection.run_sync(store)

    try:
        yield write
    finally:
        await engine.dispose()


# --- measuring ----------------------------------------------------------------------------


async def store_all(writer: AbstractAsyncContextManager[Write], batches: Batches, run: Run) -> None:
    """Store every batch, one after the other, while a probe measures the loop's lag."""
    async with writer as write:
        await _store_all(write, batches, run)


async def _store_all(write: Write, batches: Batches, run: Run) -> None:
    stop = asyncio.Event()

    async def probe() -> None:
        while not stop.is_set():
            started = time.perf_counter()
            await asyncio.sleep(PROBE_PERIOD)
            run.lags.append(max(0.0, time.perf_counter() - started - PROBE_PERIOD))

    probing = asyncio.create_task(probe())
    started, cpu = time.perf_counter(), time.process_time()
    for n, batch in enumerate(batches):
        outcomes = await write(batch, START + timedelta(seconds=n * len(batch) + len(batch)))
        for outcome in outcomes:
            if isinstance(outcome, Exception):
                raise outcome
            assert isinstance(outcome, StoredArticle), f"not stored: {outcome!r}"
            run.stored += 1
            run.new_stories += outcome.new_story
    run.seconds, run.cpu = time.perf_counter() - started, time.process_time() - cpu
    stop.set()
    await probing


def fresh_database(kind: str, admin_url: str | None, workdir: Path, name: str) -> str:
    """An empty database with the monitor's schema and its feeds."""
    if kind == "sqlite":
        url = f"sqlite:///{workdir / name}.db"
    else:
        assert admin_url is not None
        url = create_database(admin_url, name)
    store = SqlStore.open(url)
    store.sync_feeds([Feed(f"https://site{n}.example/feed", f"site{n}") for n in range(FEEDS)], START)
    store.close()
    return url


def feed_ids(url: str) -> list[int]:
    engine = db.create_engine(url)
    with engine.connect() as connection:
        ids = [int(i) for i in connection.execute(sa.text("SELECT id FROM feed ORDER BY id")).scalars()]
    engine.dispose()
    return ids


def variants(kind: str) -> list[tuple[str, str]]:
    """(name, driver) of each way measured on ``kind``."""
    if kind == "sqlite":
        return [("thread pysqlite", "thread"), ("async aiosqlite", "async")]
    return [
        ("thread psycopg", "thread"),
        ("async asyncpg", "postgresql+asyncpg"),
        ("async psycopg", "postgresql+psycopg_async"),
    ]


def measure(kind: str, admin_url: str | None, args: argparse.Namespace, workdir: Path) -> dict[str, list[Run]]:
    runs: dict[str, list[Run]] = {}
    ways = variants(kind)
    batches: Batches | None = None
    for round_ in range(args.rounds):
        for index in range(len(ways)):
            name, driver = ways[(index + round_) % len(ways)]  # each round starts with the next way
            url = fresh_database(kind, admin_url, workdir, f"bench_{round_}_{index}")
            if batches is None:  # feed ids are the same in every fresh database
                batches = make_batches(args.articles, args.batch, feed_ids(url))
            run = Run(name)
            if driver == "thread":
                writer = thread_writer(url)
            else:
                async_url = url if kind == "sqlite" else sa.make_url(url).set(drivername=driver).render_as_string(False)
                writer = async_writer(async_url)
            run_loop(store_all(writer, batches, run))
            print(f"  {kind:<10} round {round_ + 1}: {run.line()}", flush=True)
            runs.setdefault(name, []).append(run)
    return runs


def summary(kind: str, runs: dict[str, list[Run]]) -> None:
    print(f"{kind}: median of {len(next(iter(runs.values())))} runs")
    for name, each in runs.items():
        rate = statistics.median(r.stored / r.seconds for r in each)
        cpu = statistics.median(r.cpu / r.stored * 1000 for r in each)
        worst = max(max(r.lags, default=0.0) for r in each) * 1000
        print(
            f"  {name:<16} {rate:6.0f} articles/s  CPU {cpu:5.2f} ms/article  loop lag max {worst:6.1f} ms (worst run)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=1500)
    parser.add_argument("--batch", type=int, default=10, help="articles per transaction (group commit)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--database", default="sqlite,postgresql", help="sqlite, postgresql or both")
    args = parser.parse_args()
    kinds = [kind.strip() for kind in args.database.split(",")]
    with tempfile.TemporaryDirectory(prefix="monitor-bench-db-") as tmp:
        for kind in kinds:
            if kind == "sqlite":
                summary(kind, measure(kind, None, args, Path(tmp)))
                continue
            with postgres_server() as admin_url:
                if admin_url is None:
                    print("postgresql: not installed (no pg_ctl); skipped")
                    continue
                summary(kind, measure(kind, admin_url, args, Path(tmp)))


if __name__ == "__main__":
    main()
