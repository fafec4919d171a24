"""Benchmark: how soon an alert arrives, and how fast the outbox drains.

    .venv/bin/python benchmarks/alerts.py [latency|drain|both] [--items 12] [--interval 3]
        [--alerts 10000] [--database sqlite|postgresql|postgresql+psycopg://user@127.0.0.1:5432/postgres]

(a) **Time to alert.** A local site (a thread in this process) publishes ``--items``
news articles at random moments, one every 1-5 s, each a page built like a news
portal's (benchmarks/_pages.py) about a topic; a real ``monitor run`` (a subprocess,
default ``polling.tick`` of 30 s) polls the feed every ``--interval`` seconds and sends
alerts to a webhook receiver in this process. For each item it reports publication →
receipt, split into: waiting for the poll (publication → the first feed request after
it), poll → commit (that request → the alert row's ``created_at``, stamped in the
transaction that stores the article and its alert) and commit → receipt (the receiver's
clock; one machine, one clock). Targets: commit → receipt p95 ≤ 200 ms, poll → commit
p95 ≤ 2 s.

(b) **Drain.** ``--alerts`` alerts are queued for a fast receiver and as many for a slow
one (1 s per request), both in a separate process; the dispatcher of one process
(``Dispatcher.run``, as in the daemon) sends them. Reports the fast channel's alerts per
second with the slow one beside it and alone. Target ≥ 500 alerts/s, the slow receiver
not slowing the fast one.

``--database``: ``sqlite`` (a file, the default), ``postgresql`` (a throwaway server
started from the machine's binaries, as the tests do: tests/postgres.py), or the URL of
a PostgreSQL database whose monitor tables may be emptied.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import json
import multiprocessing
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))

from _pages import Story, news_page  # noqa: E402
from postgres import postgres_server  # noqa: E402

from monitor.alerts.outbox import Dispatcher  # noqa: E402
from monitor.alerts.webhook import webhook_client  # noqa: E402
from monitor.config import AlertsConfig, WebhookConfig  # noqa: E402
from monitor.service import channel_registry, delivery_policy, run_loop  # noqa: E402
from monitor.store.db import create_engine, reading, upgrade, writing  # noqa: E402
from monitor.store.interface import match_key  # noqa: E402
from monitor.store.sql import SqlStore  # noqa: E402
from monitor.store.tables import Alert, Article, Feed, Match  # noqa: E402
from monitor.store.tables import Story as StoryRow  # noqa: E402

TOPIC = {"name": "Zebrafish", "query": "zebrafish"}


# --- (a) time to alert -------------------------------------------------------------------------


def _vocabulary(rng: random.Random, size: int = 3000) -> list[str]:
    letters = "aeioubcdfghklmnprstvz"
    return ["".join(rng.choice(letters) for _ in range(rng.randrange(3, 10))) for _ in range(size)]


@dataclass
class Item:
    number: int
    title: str
    page: bytes
    published: float = 0.0  # time.time() when it appeared in the feed


class Newsroom:
    """The local site: a feed whose items appear when ``publish`` is called, and their pages."""

    def __init__(self, items: int, seed: int = 7) -> None:
        rng = random.Random(seed)
        words = _vocabulary(rng)
        self.items: list[Item] = []
        for n in range(items):
            paragraphs = [" ".join(rng.choice(words) for _ in range(60)).capitalize() + "." for _ in range(8)]
            paragraphs[1] = f"Zebrafish report {n}: " + paragraphs[1]
            title = f"Zebrafish study {n}: {' '.join(rng.choice(words) for _ in range(6))}"
            others = [" ".join(rng.choice(words) for _ in range(30)) for _ in range(40)]
            page = news_page(Story(title, paragraphs, "en", others, datetime.now(UTC)))
            self.items.append(Item(n, title, page))
        self.published: list[Item] = []
        self.feed_requests: list[float] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def publish(self) -> Item:
        with self._lock:
            item = self.items[len(self.published)]
            item.published = time.time()
            self.published.append(item)
            return item

    def feed(self) -> bytes:
        with self._lock:
            items = list(self.published)
        rendered = "".join(
            f"<item><title>{html.escape(i.title)}</title><link>{self.base}/a/{i.number}.html</link>"
            f'<guid isPermaLink="false">zebra-{i.number}</guid>'
            f"<pubDate>{format_datetime(datetime.fromtimestamp(i.published, UTC))}</pubDate></item>"
            for i in reversed(items)
        )
        return (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Lab news</title>'
            f"<link>{self.base}/</link>{rendered}</channel></rss>"
        ).encode()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/feed.xml":
                    with site._lock:
                        site.feed_requests.append(time.time())
                    body, kind = site.feed(), "application/rss+xml"
                elif self.path.startswith("/a/"):
                    body, kind = site.items[int(self.path[3:].removesuffix(".html"))].page, "text/html; charset=utf-8"
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class Receiver:
    """A webhook receiver recording when each alert's article arrived (time.time())."""

    def __init__(self) -> None:
        self.received: dict[str, float] = {}  # article url -> when
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                now = time.time()
                with receiver._lock:
                    receiver.received.setdefault(json.loads(body)["article"]["url"], now)
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def count(self) -> int:
        with self._lock:
            return len(self.received)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def percentiles(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered):7.3f} s   p95 {p95:7.3f} s   max {ordered[-1]:7.3f} s"


def time_to_alert(items: int, interval: int, database: str | None, workdir: Path) -> None:
    site, receiver = Newsroom(items), Receiver()
    url = database or f"sqlite:///{workdir / 'latency.db'}"
    config = {
        "database": url,
        "feeds": [{"name": "lab", "url": f"{site.base}/feed.xml", "interval": f"{interval}s"}],
        "topics": [TOPIC],
        "fetch": {"allow_networks": ["127.0.0.0/8"]},
        "polling": {"workers": 1, "jitter": 0, "min_interval": f"{interval}s"},
        "alerts": {"webhooks": [{"name": "receiver", "url": receiver.url}]},
    }
    path = workdir / "latency.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    daemon = subprocess.Popen(
        [sys.executable, "-m", "monitor", "--config", str(path), "run"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    errors = ""
    try:
        _wait(lambda: len(site.feed_requests) >= 2, 120, "the daemon never polled the feed")
        rng = random.Random(11)
        for _ in range(items):
            time.sleep(rng.uniform(1.0, 5.0))
            site.publish()
        _wait(lambda: receiver.count() >= items, 60 + 2 * interval, "not every alert arrived")
    finally:
        daemon.send_signal(signal.SIGTERM)
        _, errors = daemon.communicate(timeout=60)
        site.close()
        receiver.close()
        if len(site.feed_requests) < 2 or receiver.count() < items:
            print(errors)
    engine = create_engine(url)
    with reading(engine) as session:
        rows = session.execute(
            sa.select(Article.url, Alert.created_at)
            .join(Match, Match.id == Alert.match_id)
            .join(Article, Article.id == Match.article_id)
        ).all()
    engine.dispose()
    committed = {article_url: created.timestamp() for article_url, created in rows}
    waits, polls, sends, totals = [], [], [], []
    for item in site.published:
        link = f"{site.base}/a/{item.number}.html"
        polled = next(t for t in site.feed_requests if t >= item.published)
        waits.append(polled - item.published)
        polls.append(committed[link] - polled)
        sends.append(receiver.received[link] - committed[link])
        totals.append(receiver.received[link] - item.published)
    print(f"time to alert: {items} items published at random moments, feed polled every {interval} s, {_db(url)}")
    print(f"  publication -> receipt   {percentiles(totals)}")
    print(f"  waiting for the poll     {percentiles(waits)}")
    print(f"  poll -> commit           {percentiles(polls)}   (target p95 <= 2 s)")
    print(f"  commit -> receipt        {percentiles(sends)}   (target p95 <= 0.2 s)")
    if "Traceback" in errors:
        print(errors)


def _wait(condition: Any, seconds: float, failure: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"benchmark failed: {failure}")
        time.sleep(0.02)


def _db(url: str) -> str:
    return "PostgreSQL" if url.startswith("postgresql") else "SQLite"


# --- (b) drain ---------------------------------------------------------------------------------


def _serve_receivers(ready: Any, slow_seconds: float) -> None:
    """In its own process: /fast answers at once, /slow after ``slow_seconds``; /count says how many each got."""

    async def main() -> None:
        counts = {"/fast": 0, "/slow": 0}

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while True:
                    head = await reader.readuntil(b"\r\n\r\n")
                    _, path, _ = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
                    length = next(
                        (
                            int(line.split(b":", 1)[1])
                            for line in head.split(b"\r\n")
                            if line.lower().startswith(b"content-length:")
                        ),
                        0,
                    )
                    await reader.readexactly(length)
                    if path == "/count":
                        body = json.dumps(counts).encode()
                        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
                    else:
                        if path == "/slow":
                            await asyncio.sleep(slow_seconds)
                        counts[path] = counts.get(path, 0) + 1
                        writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError):
                writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        ready.send(server.sockets[0].getsockname()[1])
        await server.serve_forever()

    asyncio.run(main())


@contextmanager
def receivers(slow_seconds: float = 1.0) -> Iterator[int]:
    mine, theirs = multiprocessing.Pipe()
    process = multiprocessing.get_context("spawn").Process(target=_serve_receivers, args=(theirs, slow_seconds))
    process.start()
    try:
        yield mine.recv()
    finally:
        process.kill()
        process.join()


def queue_alerts(url: str, count: int, channels: list[str]) -> None:
    """``count`` stories of one article each, matched, with one pending alert per channel."""
    engine = create_engine(url)
    upgrade(engine)
    now = datetime.now(UTC)
    with writing(engine) as connection:
        for table in (Alert, Match, Article, StoryRow, Feed):
            connection.execute(sa.delete(table))
        connection.execute(sa.insert(Feed), [{"id": 1, "name": "lab", "url": "http://127.0.0.1/feed.xml"}])
        connection.execute(
            sa.insert(StoryRow),
            [
                {"id": n, "title": f"Zebrafish study {n}", "first_seen": now, "article_count": 1}
                for n in range(1, count + 1)
            ],
        )
        connection.execute(
            sa.insert(Article),
            [
                {
                    "id": n,
                    "feed_id": 1,
                    "guid": f"g{n}",
                    "url": f"http://127.0.0.1/a/{n}.html",
                    "canonical_url": f"http://127.0.0.1/a/{n}.html",
                    "title": f"Zebrafish study {n}",
                    "text": "Zebrafish report.",
                    "language": "en",
                    "fetched_at": now,
                    "story_id": n,
                    "features": "{}",
                }
                for n in range(1, count + 1)
            ],
        )
        connection.execute(
            sa.insert(Match),
            [
                {
                    "id": n,
                    "topic": "Zebrafish",
                    "article_id": n,
                    "story_id": n,
                    "score": 0.9,
                    "terms": '["zebrafish"]',
                    "snippet": "<mark>Zebrafish</mark> report.",
                    "matched_at": now,
                }
                for n in range(1, count + 1)
            ],
        )
        for channel in channels:
            connection.execute(
                sa.insert(Alert),
                [
                    {
                        "key": match_key("Zebrafish", n, channel),
                        "topic": "Zebrafish",
                        "story_id": n,
                        "match_id": n,
                        "channel": channel,
                        "created_at": now,
                        "next_attempt_at": now,
                    }
                    for n in range(1, count + 1)
                ],
            )
    engine.dispose()


def drain(count: int, database: str | None, workdir: Path, *, with_slow: bool) -> tuple[float, float, int]:
    """Seconds until the fast receiver had all ``count`` alerts, the CPU seconds this process
    spent meanwhile, and how many the slow one got."""
    url = database or f"sqlite:///{workdir / 'drain.db'}"
    with receivers() as port:
        hooks = [WebhookConfig(name="fast", url=f"http://127.0.0.1:{port}/fast")]
        if with_slow:
            hooks.append(WebhookConfig(name="slow", url=f"http://127.0.0.1:{port}/slow"))
        queue_alerts(url, count, [f"webhook:{hook.name}" for hook in hooks])
        alerts = AlertsConfig(webhooks=hooks)

        async def run() -> tuple[float, float, int]:
            engine = create_engine(url)
            async with webhook_client({}) as client:  # as the daemon posts
                registry = channel_registry(alerts, client)
                dispatcher = Dispatcher(SqlStore(engine), registry, delivery_policy(alerts), f"bench:{os.getpid()}:1")
                started, cpu = time.perf_counter(), time.process_time()
                task = asyncio.create_task(dispatcher.run(timedelta(seconds=30), lambda line: None))
                async with httpx.AsyncClient() as probe:
                    while True:
                        await asyncio.sleep(0.05)
                        counts = (await probe.get(f"http://127.0.0.1:{port}/count")).json()
                        if counts["/fast"] >= count:
                            break
                seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
                dispatcher.stop()
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            engine.dispose()
            return seconds, cpu, counts["/slow"]

        return run_loop(run())  # the daemon's loop (uvloop where installed)


def drain_report(count: int, database: str | None, workdir: Path) -> None:
    url = database or "SQLite"
    beside, beside_cpu, slow_sent = drain(count, database, workdir, with_slow=True)
    alone, alone_cpu, _ = drain(count, database, workdir, with_slow=False)
    print(f"drain: {count:,} queued alerts to a fast local receiver, {_db(url)}, load average {os.getloadavg()[0]:.1f}")
    print(
        f"  with a slow receiver (1 s per request) beside it: {beside:6.1f} s, {count / beside:6.0f} alerts/s; "
        f"CPU {beside_cpu / count * 1000:.2f} ms per alert ({count / beside_cpu:.0f} alerts per CPU second)"
    )
    print(f"    (the slow receiver got {slow_sent} meanwhile)")
    print(
        f"  alone:                                          {alone:6.1f} s, {count / alone:6.0f} alerts/s; "
        f"CPU {alone_cpu / count * 1000:.2f} ms per alert ({count / alone_cpu:.0f} alerts per CPU second)"
    )
    print("  target >= 500 alerts/s, and the slow receiver not slowing the fast one")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("part", nargs="?", choices=["latency", "drain", "both"], default="both")
    parser.add_argument("--items", type=int, default=12)
    parser.add_argument("--interval", type=int, default=3, help="seconds between polls of the feed")
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument(
        "--database", default="sqlite", help="sqlite (a file), postgresql (a throwaway server) or a PostgreSQL URL"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory, _database(args.database) as database:
        if args.part in ("latency", "both"):
            time_to_alert(args.items, args.interval, database, Path(directory))
        if args.part in ("drain", "both"):
            drain_report(args.alerts, database, Path(directory))


@contextmanager
def _database(choice: str) -> Iterator[str | None]:
    """None for a SQLite file in the work directory; else a PostgreSQL URL."""
    if choice == "sqlite":
        yield None
    elif choice == "postgresql":
        with postgres_server() as admin:
            if admin is None:
                raise SystemExit("benchmark failed: PostgreSQL is not installed (pg_ctl not found)")
            yield admin
    else:
        yield choice


if __name__ == "__main__":
    main()
