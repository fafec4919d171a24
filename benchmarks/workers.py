"""Benchmark: several `monitor run` processes sharing one PostgreSQL database.

    .venv/bin/python benchmarks/workers.py [--feeds 2000] [--counts 1,2,4] [--pages-every 4]
        [--database postgresql+psycopg://user@127.0.0.1:5432/postgres]

For each worker count, a fresh database and that many real `monitor run` processes (the
CLI, as an operator starts them) poll the same 2,000 local feeds (benchmarks/_server.py
on 50 loopback addresses). Every feed carries one new item; one feed in ``--pages-every``
links it to a page (a light 5-8 KB article), the others to a dead link (the feed's text
is stored instead). Reported per count, from the first claim to the last poll:

- feeds/s and articles/s; claim transactions/s and feeds claimed per claim (from each
  process's /metrics: monitor_db_write_seconds_count{operation="claim feeds"});
- whether a feed was fetched twice in the period (the site counts requests per path)
  and whether an article was stored twice (article rows against distinct items);
- the database's share of the CPU (PostgreSQL's processes against the monitors' process
  trees, from /proc) and its lock waits (pg_stat_activity sampled every 0.25 s: backends
  waiting on a heavyweight lock, on a lightweight lock, and ungranted rows in pg_locks);
- with 2 or more workers, the takeover after `kill -9`: every feed is made due again,
  one worker is killed while it holds leases, and the time until the others have
  polled all of its feeds is measured (its leases must expire first: 60 s).

Without ``--database`` the benchmark starts a throwaway PostgreSQL server from the
machine's binaries (tests/postgres.py). The machine is shared: the figures say what one
run on it saw, with the machine's other load in the CPU column.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from functools import partial
from pathlib import Path

import psycopg
import yaml
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _pages import light_page, load_seeds, story  # noqa: E402
from _server import BenchSite, Resource  # noqa: E402
from postgres import postgres_server  # noqa: E402

HOSTS = 50
EPOCH = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
TICKS = os.sysconf("SC_CLK_TCK")


# --- the site -------------------------------------------------------------------------------


def host_of(feed: int) -> str:
    return f"127.0.0.{1 + feed % HOSTS}"


def build_site(feeds: int, pages_every: int, round_number: int, port: int) -> dict[str, Resource]:
    """One item per feed; round 1 serves the same bytes under new validators (a poll that parses)."""
    seeds = load_seeds()
    table = {}
    for feed in range(feeds):
        base = f"http://{host_of(feed)}:{port}"
        page = story(seeds, feed, 0, EPOCH)
        link = f"{base}/a/{feed}.html" if feed % pages_every == 0 else f"{base}/gone/{feed}"
        if feed % pages_every == 0:
            table[f"/a/{feed}.html"] = Resource(light_page(page), "text/html; charset=utf-8")
        body = f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Umpan {feed}</title><link>{base}/</link><description>Umpan</description>
<item><title>{html.escape(page.title)}</title><link>{link}</link><guid isPermaLink="false">item-{feed}</guid>
<pubDate>{format_datetime(EPOCH)}</pubDate><description>{html.escape(" ".join(page.paragraphs)[:600])}</description>
</item></channel></rss>""".encode()
        table[f"/f/{feed}.xml"] = Resource(body, "application/rss+xml; charset=utf-8", etag=f'"{feed}-{round_number}"')
    return table


# --- processes and their CPU through /proc ---------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _parents() -> dict[int, int]:
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))):
            found[int(entry.name)] = int(fields[1])
    return found


def tree(root: int) -> list[int]:
    parents = _parents()
    found, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        found += frontier
    return found


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of each process, and of its children that ended and were waited for."""
    total = 0
    for pid in pids:
        if fields := _stat(pid):
            total += sum(int(v) for v in fields[11:15])
    return total / TICKS


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values) - idle) / TICKS, sum(values) / TICKS


def postmaster(port: int) -> int | None:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"postgres") and f"-p {port}".encode() in b" ".join(argv):
            return int(entry.name)
    return None


# --- the workers ------------------------------------------------------------------------------


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    metrics_port: int

    def metric(self, name: str) -> float:
        """The sum of every sample of ``name`` (with any labels given in it)."""
        try:
            text = urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10).read()
        except OSError:
            return 0.0
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.decode().splitlines() if line.startswith(name))


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(folder: Path, database: str, urls: list[str]) -> Path:
    topics = yaml.safe_load((ROOT / "config" / "monitor.yaml").read_text(encoding="utf-8"))["topics"]
    config = {
        "database": database,
        "feeds": [{"name": f"feed-{n:05d}", "url": url} for n, url in enumerate(urls)],
        "topics": topics,
        "fetch": {"allow_networks": ["127.0.0.0/8"], "timeout": "30s"},
        # One poll per feed in the period: the next is an hour away.
        "polling": {"tick": "1s", "workers": 1, "min_interval": "1h", "jitter": 0},
        "metrics": {"listen": "${BENCH_METRICS_LISTEN}"},
    }
    path = folder / "monitor.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


@contextmanager
def workers(count: int, config: Path, logs: Path) -> Iterator[list[Worker]]:
    started = []
    try:
        for n in range(count):
            port = free_port()
            log = (logs / f"worker-{n}.log").open("wb")
            process = subprocess.Popen(
                [sys.executable, "-m", "monitor", "--config", str(config), "run"],
                cwd=ROOT,
                env={**os.environ, "BENCH_METRICS_LISTEN": f"127.0.0.1:{port}"},
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,  # its fork server and parsers in its own group, killed with it
            )
            started.append(Worker(process, port))
        yield started
    finally:
        for worker in started:
            if worker.process.poll() is None:
                os.killpg(worker.process.pid, signal.SIGTERM)
        for worker in started:
            try:
                worker.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.process.pid, signal.SIGKILL)
                worker.process.wait(10)


# --- the database's side ------------------------------------------------------------------------


def plain(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def fresh_database(admin: str, name: str) -> str:
    with psycopg.connect(plain(admin), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')
    return make_url(admin).set(database=name).render_as_string(hide_password=False)


@dataclass
class Waits:
    samples: int = 0
    lock: int = 0  # backend-samples waiting on a heavyweight lock (rows, tables, advisory)
    lwlock: int = 0  # ... on a lightweight lock (buffers, WAL)
    io: int = 0
    active: int = 0  # backend-samples running a statement
    ungranted_max: int = 0

    def sample(self, connection: psycopg.Connection[tuple[object, ...]], database: str) -> None:
        rows = connection.execute(
            "SELECT state, wait_event_type FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,),
        ).fetchall()
        self.samples += 1
        self.active += sum(1 for state, _ in rows if state == "active")
        self.lock += sum(1 for _, kind in rows if kind == "Lock")
        self.lwlock += sum(1 for _, kind in rows if kind == "LWLock")
        self.io += sum(1 for _, kind in rows if kind == "IO")
        ungranted = connection.execute("SELECT count(*) FROM pg_locks WHERE NOT granted").fetchone()
        self.ungranted_max = max(self.ungranted_max, int(ungranted[0]) if ungranted else 0)

    def per_sample(self, value: int) -> float:
        return value / self.samples if self.samples else 0.0


@dataclass
class Progress:
    polled: int = 0
    claimed: int = 0
    articles: int = 0


def progress(connection: psycopg.Connection[tuple[object, ...]], since: datetime) -> Progress:
    row = connection.execute(
        "SELECT count(*) FILTER (WHERE last_checked_at >= %s),"
        " count(*) FILTER (WHERE last_checked_at >= %s OR lease_owner IS NOT NULL) FROM feed",
        (since, since),
    ).fetchone()
    articles = connection.execute("SELECT count(*) FROM article").fetchone()
    assert row is not None and articles is not None
    return Progress(int(row[0]), int(row[1]), int(articles[0]))


# --- one worker count -------------------------------------------------------------------------------


@dataclass
class Figures:
    count: int
    seconds: float = 0.0
    feeds: int = 0
    articles: int = 0
    claims: float = 0.0
    polls_counted: float = 0.0
    repeats: int = 0
    duplicate_articles: int = 0
    db_cpu: float = 0.0
    monitor_cpu: float = 0.0
    machine_busy: float = 0.0
    waits: Waits = field(default_factory=Waits)
    takeover: str = "-"


def until(
    condition: Callable[[], bool], timeout: float, every: float = 0.25, tick: Callable[[], None] = lambda: None
) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tick()
        if condition():
            return True
        time.sleep(every)
    return False


def run_count(
    count: int, args: argparse.Namespace, admin: str, site: BenchSite, urls: list[str], folder: Path
) -> Figures:
    name = f"bench_workers_{count}"
    database = fresh_database(admin, name)
    config = write_config(folder, database, urls)
    site.set_round(0)
    figures = Figures(count)
    expected = args.feeds
    pg = postmaster(make_url(admin).port or 5432)
    since = datetime.now(UTC)
    with psycopg.connect(plain(database), autocommit=True) as watch, workers(count, config, folder) as started:

        def sample() -> None:
            with contextlib.suppress(psycopg.Error):
                figures.waits.sample(watch, name)

        def current() -> Progress:
            try:
                return progress(watch, since)
            except psycopg.errors.UndefinedTable:
                return Progress()

        if not until(lambda: current().claimed > 0, 180, tick=lambda: None):
            raise SystemExit(f"{count} workers: nothing claimed within 180 s; see {folder}/worker-*.log")
        figures.waits = Waits()
        start, busy0 = time.monotonic(), machine_busy()
        trees = [tree(w.process.pid) for w in started]
        monitor0 = sum(cpu_seconds(t) for t in trees)
        db0 = cpu_seconds(tree(pg)) if pg else 0.0
        done = until(lambda: (p := current()).polled >= expected and p.articles >= expected, 900, tick=sample)
        figures.seconds = time.monotonic() - start
        trees = [tree(w.process.pid) for w in started]
        figures.monitor_cpu = sum(cpu_seconds(t) for t in trees) - monitor0
        figures.db_cpu = (cpu_seconds(tree(pg)) - db0) if pg else 0.0
        busy1 = machine_busy()
        figures.machine_busy = (busy1[0] - busy0[0]) / max(busy1[1] - busy0[1], 1e-9)
        final = current()
        figures.feeds, figures.articles = final.polled, final.articles
        if not done:
            print(f"  {count} workers: only {final.polled} feeds polled and {final.articles} articles after 900 s")
        time.sleep(1.5)  # the last claims' counters
        figures.claims = sum(w.metric('monitor_db_write_seconds_count{operation="claim feeds"}') for w in started)
        figures.polls_counted = sum(w.metric("monitor_feed_polls_total") for w in started)
        figures.repeats = sum(1 for path in site.repeats() if path.startswith("/f/"))
        row = watch.execute(
            "SELECT count(*) - count(DISTINCT (feed_id, guid)), count(*) - count(DISTINCT canonical_url) FROM article"
        ).fetchone()
        figures.duplicate_articles = max(int(row[0]), int(row[1])) if row else -1
        if count >= 2:
            figures.takeover = takeover(watch, started)
    return figures


def takeover(watch: psycopg.Connection[tuple[object, ...]], started: list[Worker]) -> str:
    """Make every feed due again, kill -9 a worker while it holds leases; seconds until its feeds are polled."""
    by_pid = {w.process.pid: w for w in started}
    watch.execute("UPDATE feed SET next_check_at = now() - interval '1 second', body_hash = NULL, etag = NULL")
    held: list[int] = []
    chosen: list[Worker] = []

    def holding() -> bool:  # the first worker seen holding leases is the victim
        rows = watch.execute(
            "SELECT id, lease_owner FROM feed WHERE lease_owner IS NOT NULL AND lease_expires_at > now()"
        ).fetchall()
        pids = [_pid(who) for _, who in rows]  # the owner is host:pid:start
        pid = next((p for p in by_pid if p in pids), None)
        if pid is None:
            return False
        chosen[:] = [by_pid[pid]]
        held[:] = [int(str(feed_id)) for (feed_id, _), owner in zip(rows, pids, strict=True) if owner == pid]
        return True

    if not until(holding, 60, every=0.02):
        return "no worker held a feed"
    victim = chosen[0]
    os.killpg(victim.process.pid, signal.SIGKILL)
    victim.process.wait(10)
    killed, killed_at = time.monotonic(), datetime.now(UTC)

    def taken_over() -> bool:
        row = watch.execute(
            "SELECT count(*) FROM feed WHERE id = ANY(%s) AND last_checked_at >= %s", (held, killed_at)
        ).fetchone()
        return bool(row and int(row[0]) >= len(held))

    if not until(taken_over, 300, every=0.5):
        return f"{len(held)} feeds of the killed worker not polled after 300 s"
    return f"{time.monotonic() - killed:.0f} s for its {len(held)} feeds"


def _pid(owner: object) -> int | None:
    parts = str(owner).split(":")
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


# --- report -----------------------------------------------------------------------------------------


def report(all_figures: list[Figures]) -> None:
    print()
    print(
        "workers  seconds  feeds/s  articles/s  claims/s  feeds/claim  fetched twice  stored twice  takeover (kill -9)"
    )
    for f in all_figures:
        per_claim = f.feeds / f.claims if f.claims else 0.0
        print(
            f"{f.count:>7}  {f.seconds:>7.1f}  {f.feeds / f.seconds:>7.0f}  {f.articles / f.seconds:>10.0f}"
            f"  {f.claims / f.seconds:>8.1f}  {per_claim:>11.0f}  {f.repeats:>13}  {f.duplicate_articles:>12}"
            f"  {f.takeover}"
        )
    print()
    print("workers  db CPU s  monitors CPU s  db share  machine busy  active  lock  lwlock  io  ungranted max")
    for f in all_figures:
        share = f.db_cpu / (f.db_cpu + f.monitor_cpu) if f.db_cpu + f.monitor_cpu else 0.0
        w = f.waits
        print(
            f"{f.count:>7}  {f.db_cpu:>8.1f}  {f.monitor_cpu:>14.1f}  {share:>8.0%}  {f.machine_busy:>12.0%}"
            f"  {w.per_sample(w.active):>6.2f}  {w.per_sample(w.lock):>4.2f}  {w.per_sample(w.lwlock):>6.2f}"
            f"  {w.per_sample(w.io):>4.2f}  {w.ungranted_max:>13}"
        )
    print("(active, lock, lwlock, io: the benchmark database's backends in that state, mean per 0.25 s sample)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=2000)
    parser.add_argument("--counts", default="1,2,4", help="worker counts to measure, comma-separated")
    parser.add_argument("--pages-every", type=int, default=4, help="one feed in N links its item to a page")
    parser.add_argument("--database", help="admin URL of a PostgreSQL server to create databases on")
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    with (
        postgres_server() if not args.database else _given(args.database) as admin,
        tempfile.TemporaryDirectory(prefix="bench-workers-") as tmp,
        BenchSite(partial(build_site, args.feeds, args.pages_every), HOSTS) as site,
    ):
        if admin is None:
            raise SystemExit("no PostgreSQL: install it (apt-get install postgresql) or pass --database")
        urls = [f"http://{host_of(f)}:{site.port}/f/{f}.xml" for f in range(args.feeds)]
        print(f"{args.feeds} feeds on {HOSTS} loopback hosts, one item each, 1 in {args.pages_every} with a page;")
        print(f"worker counts {counts}; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
        results = []
        for count in counts:
            folder = Path(tmp) / f"workers-{count}"
            folder.mkdir()
            print(f"  {count} workers ...", flush=True)
            results.append(run_count(count, args, admin, site, urls, folder))
        report(results)


@contextmanager
def _given(url: str) -> Iterator[str]:
    yield url


if __name__ == "__main__":
    main()
