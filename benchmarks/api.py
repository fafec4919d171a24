"""Latency and throughput of the HTTP API over 1,000,000 stored articles (SQLite).

Run: .venv/bin/python benchmarks/api.py [--size 1000000] [--requests 200] [--cache DIR]

The database is the stories benchmark's (benchmarks/stories.py builds it, or reuses its
cached file through a copy), with matches added in bulk: the topic "Common" matches
every 10th article, "Rare" every 1,000th. A real `monitor serve` answers on loopback;
one client times, one request at a time, p50/p95 of:

- ``/api/v1/matches?topic=Common`` first page (50 rows), and a deep page (its cursor
  taken after walking half of the topic's matches: 50,000 rows at 1M articles);
- ``/api/v1/matches?topic=Rare`` first page;
- ``/api/v1/stories`` first page, and ``/api/v1/stories/{id}`` for random stories;
- ``/feeds/topics/common.atom``;
- ``/api/v1/search?q=`` first page (50 results) for a rare term, a common term, a phrase
  and a ``NEAR`` query, each request a different query drawn from the stored articles
  (benchmarks/search.py's sampler);

then requests per second for the Common first page with 8 clients at once (one server
process). Targets (issue 16): list pages p95 <= 50 ms, search p95 <= 300 ms.

The full-text index comes from the search benchmark's cached database when it has one
(benchmarks/search.py), else from the migration's backfill (`monitor db upgrade`).
"""

from __future__ import annotations

import argparse
import random
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import urlencode

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from search import sample_queries  # noqa: E402
from stories import GENERATOR_VERSION, build_database  # noqa: E402

from monitor.store.db import create_engine, upgrade  # noqa: E402

DAYS = 60.0
TOPICS = {"Common": 10, "Rare": 1000}  # topic -> matches every n-th article


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def prepared_database(size: int, cache: Path) -> Path:
    """The stories benchmark's database (built, or copied from the search or stories
    benchmark's cache), upgraded to the newest schema (with its full-text index), matches added."""
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"api-{size}-v{GENERATOR_VERSION}-indexed.db"
    done = Path(f"{path}.matched")
    if done.exists():
        return path
    cached = [
        Path("/tmp/monitor-bench-search") / f"search-{size}-{DAYS:g}d-v{GENERATOR_VERSION}.db",  # indexed already
        Path("/tmp/monitor-bench-stories") / f"stories-{size}-{DAYS:g}d-v{GENERATOR_VERSION}.db",
    ]
    source = next((c for c in cached if Path(f"{c}.built").exists()), None)
    if source is not None:
        _progress(f"copying {source}")
        shutil.copyfile(source, path)
    else:
        _progress(f"building {size:,} articles (benchmarks/stories.py's builder)")
        build_database(path, size, DAYS)
    _progress("upgrading the schema (the full-text index, when the copy has none)")
    engine = create_engine(f"sqlite:///{path}")
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    _progress("adding matches")
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA synchronous=OFF")
    con.execute("BEGIN")
    con.execute("DELETE FROM match")
    for topic, every in TOPICS.items():
        con.execute(
            "INSERT INTO match (topic, article_id, story_id, score, terms, clause, snippet, matched_at, backfill) "
            "SELECT ?, id, story_id, 1.5, '[\"term\"]', 'term', substr(text, 1, 200), fetched_at, 0 "
            "FROM article WHERE id % ? = 0 ORDER BY id",
            (topic, every),
        )
    con.execute("COMMIT")
    con.execute("ANALYZE")
    con.close()
    done.write_text("ok")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(database: Path, directory: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    config = directory / "api-bench.yaml"
    topics = "\n".join(f"  - {{name: {name}, query: {name.lower()}}}" for name in TOPICS)
    config.write_text(
        f"database: sqlite:///{database}\napi: {{listen: '127.0.0.1:{port}'}}\ntopics:\n{topics}\n", encoding="utf-8"
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor", "--config", str(config), "serve"], cwd=ROOT, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{base}/healthz").status_code == 200:
                return process, base
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            raise SystemExit("the server did not start")
        time.sleep(0.2)


def timed(client: httpx.Client, paths: Sequence[str]) -> list[float]:
    """Milliseconds per request, one at a time."""
    times = []
    for path in paths:
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, f"{path}: {response.status_code} {response.text[:200]}"
    return times


def p50_p95(values: Sequence[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[int(0.95 * (len(ordered) - 1))]


def deep_cursor(client: httpx.Client, topic: str, rows: int) -> str:
    """The cursor after ``rows`` rows of the topic's matches, walked 1,000 at a time."""
    cursor = None
    for _ in range(rows // 1000):
        params = {"topic": topic, "limit": "1000", **({"cursor": cursor} if cursor else {})}
        cursor = client.get("/api/v1/matches", params=params).json()["next_cursor"]
    assert cursor
    return cursor


def throughput(base: str, path: str, clients: int, seconds: float) -> float:
    count = [0] * clients
    stop = time.monotonic() + seconds

    def work(i: int) -> None:
        with httpx.Client(base_url=base, timeout=30) as client:
            while time.monotonic() < stop:
                client.get(path).raise_for_status()
                count[i] += 1

    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(count) / seconds


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size", type=int, default=1_000_000, help="stored articles")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per case")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/monitor-bench-api"), help="where the database is kept")
    parser.add_argument("--seconds", type=float, default=10, help="length of the throughput run")
    args = parser.parse_args(argv)
    database = prepared_database(args.size, args.cache)
    process, base = start_server(database, args.cache)
    rng = random.Random(7)
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            deep = max(1000, args.size // TOPICS["Common"] // 2 // 1000 * 1000)  # half-way down its matches
            cursor = deep_cursor(client, "Common", deep)
            with sqlite3.connect(database) as con:
                stories = [row[0] for row in con.execute("SELECT id FROM story ORDER BY random() LIMIT 1000")]
            n = args.requests
            searches = sample_queries(database, min(n, 100))
            cases: dict[str, Callable[[], list[str]]] = {
                "matches?topic=Common, first page": lambda: ["/api/v1/matches?topic=Common"] * n,
                f"matches?topic=Common, page after {deep:,} rows": lambda: (
                    [f"/api/v1/matches?topic=Common&cursor={cursor}"] * n
                ),
                "matches?topic=Rare, first page": lambda: ["/api/v1/matches?topic=Rare"] * n,
                "matches, first page (no filter)": lambda: ["/api/v1/matches"] * n,
                "stories, first page": lambda: ["/api/v1/stories"] * n,
                "stories/{id}, random stories": lambda: [f"/api/v1/stories/{rng.choice(stories)}" for _ in range(n)],
                "feeds/topics/common.atom": lambda: ["/feeds/topics/common.atom"] * max(n // 4, 10),
                **{
                    f"search, {kind} (e.g. {queries[0]})": (
                        lambda queries=queries: [f"/api/v1/search?{urlencode({'q': q})}" for q in queries]
                    )
                    for kind, queries in searches.items()
                    if kind in ("rare term", "common term", "phrase", "NEAR")
                },
            }
            print(f"\n== HTTP API over {args.size:,} stored articles (SQLite, {database}) ==")
            for name, paths in cases.items():
                wanted = paths()
                timed(client, wanted[:5])  # warm the caches and the statements
                median, p95 = p50_p95(timed(client, wanted))
                print(f"{name:56s} p50 {median:7.1f} ms   p95 {p95:7.1f} ms   ({len(wanted)} requests)")
        rate = throughput(base, "/api/v1/matches?topic=Common", 8, args.seconds)
        print(f"throughput, matches?topic=Common first page, 8 clients, one process: {rate:.0f} requests/s")
    finally:
        process.terminate()
        process.wait(30)


if __name__ == "__main__":
    main()
