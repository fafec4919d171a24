"""Benchmark: one `monitor poll` cycle over 2,000 local feeds, against a naive loop.

    .venv/bin/python benchmarks/polling.py [--feeds 2000] [--hosts 100] [--runs 3] [--profile]
        [--stalls] [--database postgresql+psycopg://user@127.0.0.1:5432/postgres]

A local site (benchmarks/_server.py: asyncio, its own process, 100 loopback addresses so
the per-host cap acts as it would on the internet) serves the feeds. Each feed has a few
old items whose links answer 404 (so the warm-up stores the feed's own text cheaply).
After a warm-up poll that gives every feed its ETag and Last-Modified, 1 feed in 20
publishes 3 new items linking to article pages (by default built like a news portal's,
65-95 KB of HTML around 3-6 KB of seed text; `--pages light`: bare 5-8 KB pages); the
other feeds answer 304. Then one cycle is measured in a fresh process
(`monitor.service.running(config, eager=True)` + `runtime.poll(names)`: the
worker pool starts with the process, as in the daemon), split in two timed parts:
the unchanged feeds, then the changed ones with their articles; `--runs` times (default
3), each from the database as the warm-up left it, and the median run is reported (of an
even number, the slower middle one), since one run's articles per second vary by about
5 % on a 2-core machine; each run's CPU per article and ratio to trafilatura are printed
too, since the target holds for every run. Memory is the peak of
the summed proportional set sizes (PSS) of the monitor process, its fork server and its
workers, read from /proc every 250 ms by the benchmark's own process (the sum of each
process's peak resident set is printed too, but the workers are forked from a server that
has loaded the parsers, so it counts those shared pages once per process); CPU time is the
monitor process's plus its workers' (from /proc/<pid>/stat). The same cycle is then run
by a naive sequential loop (one httpx.Client: conditional GET, feedparser, page GET,
trafilatura.extract), and trafilatura.extract alone is timed on the same pages.

The event loop's stalls are measured in both parts by a probe task that sleeps 5 ms in a
loop and records how late it wakes (p50, p99 and the longest): a stall there delays
every fetch in flight. With `--stalls`, each stall longer than 50 ms is printed with
what the event loop's thread was running meanwhile (its stack, sampled every 10 ms by a
thread while the probe is overdue). By default the database is a SQLite file; `--database` takes the
URL of a PostgreSQL server the benchmark may create databases on (it creates
`bench_warm`, then copies it as `bench_run` for every measured cycle).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import html
import io
import multiprocessing
import multiprocessing.connection
import os
import pstats
import shutil
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import yaml
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _pages import PAGE_STYLES, Seed, load_seeds, story  # noqa: E402
from _server import BenchSite, Resource  # noqa: E402

CHANGED_EVERY = 20  # 1 feed in 20 (5 %) publishes in the measured cycle
NEW_ITEMS = 3
OLD_ITEMS = 2  # the warm-up stores them all; more only makes it longer
CLAIM_BATCH = 500  # polls.claim_due_feeds leases at most 500 feeds per call
TARGET_FEEDS_PER_S = 500
TARGET_RSS_MB = 400
EPOCH = datetime(2024, 10, 20, 6, 0, tzinfo=UTC)


# --- the site ------------------------------------------------------------------------------


def is_changed(feed: int) -> bool:
    return feed % CHANGED_EVERY == 0


def feed_path(feed: int) -> str:
    return f"/f/{feed}.xml"


def page_path(feed: int, item: int) -> str:
    return f"/a/{feed}/{item}.html"


def article_page(seeds: list[Seed], feed: int, item: int, style: str = "news") -> tuple[str, bytes]:
    """The page of a new item: (headline, HTML) in one of benchmarks/_pages.py's styles."""
    page = story(seeds, feed, item, EPOCH + timedelta(days=2, minutes=item))
    return page.title, PAGE_STYLES[style](page)


def feed_xml(seeds: list[Seed], base: str, feed: int, new_items: bool) -> bytes:
    items = []
    if new_items:
        for n in range(NEW_ITEMS):
            published = EPOCH + timedelta(days=2, minutes=n)
            title = story(seeds, feed, n, published).title
            items.append((title, f"{base}{page_path(feed, n)}", f"new-{feed}-{n}", published, title))
    for n in range(OLD_ITEMS):
        title = f"Kabar singkat {feed}-{n}"
        summary = f"Ringkasan berita lama nomor {n} dari umpan {feed}; tidak ada halaman lagi."
        items.append(
            (
                title,
                f"{base}/gone/{feed}/{n}",
                f"old-{feed}-{n}",
                EPOCH - timedelta(hours=n),
                summary,
            )
        )
    rendered = "\n".join(
        f"<item><title>{html.escape(t)}</title><link>{link}</link>"
        f'<guid isPermaLink="false">{guid}</guid><pubDate>{format_datetime(when)}</pubDate>'
        f"<description>{html.escape(summary)}</description></item>"
        for t, link, guid, when, summary in items
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Umpan {feed}</title><link>{base}/</link>
<description>Berita umpan {feed}</description><language>id</language>
{rendered}
</channel></rss>""".encode()


def host_of(feed: int, hosts: int) -> str:
    return f"127.0.0.{1 + feed % hosts}"


def build_site(feeds: int, hosts: int, style: str, round_number: int, port: int) -> dict[str, Resource]:
    """Round 0: every feed with its old items. Round 1: 1 feed in 20 also has new items."""
    seeds = load_seeds()
    table = {}
    for feed in range(feeds):
        base = f"http://{host_of(feed, hosts)}:{port}"
        publishes = round_number >= 1 and is_changed(feed)
        version = 1 if publishes else 0
        table[feed_path(feed)] = Resource(
            feed_xml(seeds, base, feed, publishes),
            "application/rss+xml; charset=utf-8",
            etag=f'"{feed}-v{version}"',
            last_modified=format_datetime(EPOCH + timedelta(days=2 * version), usegmt=True),
        )
        if publishes:
            for n in range(NEW_ITEMS):
                table[page_path(feed, n)] = Resource(article_page(seeds, feed, n, style)[1], "text/html; charset=utf-8")
    return table


# --- measuring a process tree through /proc --------------------------------------------------


def _children(pid: int) -> list[int]:
    found = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                found += [int(p) for p in handle.read().split()]
        except OSError:
            continue  # a thread that ended meanwhile: the others' children still count
    return found + [grandchild for child in found for grandchild in _children(child)]


def _proc_bytes(pid: int, file: str, key: str) -> int:
    """A size that /proc/<pid>/<file> gives in kB on its ``key:`` line; 0 once the process is gone."""
    try:
        with open(f"/proc/{pid}/{file}") as handle:
            for line in handle:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0


def _peak_rss_bytes(pid: int) -> int:
    """The process's own peak resident set (VmHWM), which the kernel keeps exactly."""
    return _proc_bytes(pid, "status", "VmHWM")


def _pss_bytes(pid: int) -> int:
    """Proportional set size: a page shared by n processes counts 1/n in each, so the sum
    over a tree is its real footprint (workers forked from one server share most pages)."""
    return _proc_bytes(pid, "smaps_rollup", "Pss")


def _cpu_seconds(pid: int | str) -> float | None:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


class TreeSampler(threading.Thread):
    """Peak memory of a process plus its descendants, and the descendants' CPU time.

    It runs in the benchmark's own process, not in the measured one, and samples every
    250 ms: reading PSS makes the kernel walk every page table (2 ms of CPU for the
    tree), and the cores it takes are the ones the measured cycle runs on. Peak RSS
    needs no sampling: the kernel keeps each process's own (VmHWM).
    """

    def __init__(self, root: int, every: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.root, self.every = root, every
        self.peak_pss_bytes = 0
        self._peak_rss: dict[int, int] = {}
        self._done = threading.Event()
        self._first_cpu: dict[int, float] = {}
        self._last_cpu: dict[int, float] = {}

    def sample(self) -> None:
        pids = _children(self.root)
        tree = [self.root, *pids]
        self.peak_pss_bytes = max(self.peak_pss_bytes, sum(map(_pss_bytes, tree)))
        for pid in tree:
            self._peak_rss[pid] = max(self._peak_rss.get(pid, 0), _peak_rss_bytes(pid))
        for pid in pids:
            cpu = _cpu_seconds(pid)
            if cpu is not None:
                self._first_cpu.setdefault(pid, cpu)
                self._last_cpu[pid] = cpu

    def run(self) -> None:
        while not self._done.wait(self.every):
            self.sample()

    def stop(self) -> None:
        self._done.set()
        self.join()
        self.sample()

    @property
    def peak_rss_bytes(self) -> int:
        """The sum of each process's own peak: at least the tree's peak, shared pages counted in each."""
        return sum(self._peak_rss.values())

    @property
    def largest_rss_bytes(self) -> int:
        """The largest single process's peak: what getrusage, and so `time -v`, reports for a tree."""
        return max(self._peak_rss.values(), default=0)

    @property
    def children_cpu(self) -> float:
        return sum(self._last_cpu[p] - self._first_cpu[p] for p in self._last_cpu)

    @property
    def workers_seen(self) -> int:
        return len(self._last_cpu)


# --- the monitor ----------------------------------------------------------------------------


def write_config(
    directory: Path, database: str, feed_urls: list[str], connections: int | None, workers: int | None
) -> Path:
    topics = yaml.safe_load((ROOT / "config" / "monitor.yaml").read_text(encoding="utf-8"))["topics"]
    fetch: dict[str, Any] = {"allow_networks": ["127.0.0.0/8"]}
    if connections:
        fetch["max_connections"] = connections
    config = {
        "database": database,
        "feeds": [{"name": f"feed-{n:05d}", "url": url} for n, url in enumerate(feed_urls)],
        "topics": topics,
        "fetch": fetch,
        "polling": {"workers": workers} if workers else {},
    }
    path = directory / "monitor.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


@dataclass
class PartFigures:
    feeds: int = 0
    seconds: float = 0.0
    cpu_main: float = 0.0
    cpu_workers: float = 0.0  # the fork server's and the workers' during the part (from /proc)
    cpu_threads: Counter[str] = field(default_factory=Counter)  # the main process's, per thread (from /proc)
    statuses: Counter[str] = field(default_factory=Counter)
    stored: int = 0
    page_failures: int = 0
    errors: list[str] = field(default_factory=list)
    lags: list[float] = field(default_factory=list)  # seconds the loop woke the probe late
    stalls: list[tuple[float, str]] = field(default_factory=list)  # (seconds, what ran) with --stalls

    def lag_ms(self) -> str:
        if not self.lags:
            return "no probe samples"
        ordered = sorted(self.lags)

        def at(share: float) -> float:
            return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000

        return (
            f"event-loop lag p50 {at(0.5):.1f} ms, p99 {at(0.99):.1f} ms, max {ordered[-1] * 1000:.1f} ms "
            f"({len(ordered)} wake-ups)"
        )


STALL_SECONDS = 0.05  # --stalls prints the event loop's stalls longer than this
STALL_SAMPLE_EVERY = 0.01
STALL_FRAMES = 4  # innermost frames of the loop thread's stack shown per stall, and the innermost monitor one


def _where(stack: traceback.StackSummary) -> str:
    """The innermost frames of a stack, and the innermost one in the monitor's own code."""
    shown = list(reversed(stack))[:STALL_FRAMES]
    ours = next((f for f in reversed(stack) if f"{os.sep}monitor{os.sep}" in f.filename), None)
    if ours is not None and ours not in shown:
        shown += [ours]
    return " <- ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in shown)


class LagProbe:
    """A task that sleeps ``period`` in a loop and records how late the event loop wakes it:
    how long the loop was blocked (by a database write, a parse...) while it waited.

    With ``stalls``, a thread samples the loop thread's stack while the probe is overdue
    by more than ``STALL_SECONDS``, and each such stall is recorded with the stack seen
    most often during it.
    """

    def __init__(self, into: list[float], period: float = 0.005, stalls: list[tuple[float, str]] | None = None) -> None:
        self.into, self.period, self.stalls = into, period, stalls
        self._task: asyncio.Task[None] | None = None
        self._due = float("inf")  # when the probe should wake next (perf_counter)
        self._seen: Counter[str] = Counter()  # stacks sampled during the current stall
        self._watching = threading.Event()

    async def _run(self) -> None:
        while True:
            started = time.perf_counter()
            self._due = started + self.period
            await asyncio.sleep(self.period)
            lag = max(0.0, time.perf_counter() - started - self.period)
            self._due = float("inf")
            self.into.append(lag)
            if self.stalls is not None and lag > STALL_SECONDS:
                seen = self._seen.most_common(1)
                self.stalls.append((lag, seen[0][0] if seen else "(not sampled: the GIL was held throughout)"))
            self._seen = Counter()

    def _watch(self, loop_thread: int) -> None:
        while not self._watching.wait(STALL_SAMPLE_EVERY):
            if time.perf_counter() - self._due > STALL_SECONDS and (frame := sys._current_frames().get(loop_thread)):
                self._seen[_where(traceback.extract_stack(frame))] += 1

    async def __aenter__(self) -> LagProbe:
        self._task = asyncio.create_task(self._run())
        if self.stalls is not None:
            watcher = threading.Thread(target=self._watch, args=(threading.get_ident(),), daemon=True)
            watcher.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._task is not None
        self._watching.set()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def _poll(runtime: Any, names: list[str], part: PartFigures, stalls: bool = False) -> None:
    started, cpu, workers_cpu, threads_cpu = (
        time.perf_counter(),
        time.process_time(),
        _descendants_cpu(),
        _threads_cpu(),
    )
    for start in range(0, len(names), CLAIM_BATCH):
        async with LagProbe(part.lags, stalls=part.stalls if stalls else None):
            report, _ = await runtime.poll(tuple(names[start : start + CLAIM_BATCH]))
        for feed in report.feeds:
            part.feeds += 1
            part.statuses[feed.status] += 1
            part.stored += feed.stored
            part.page_failures += feed.page_failures
            if feed.error:
                part.errors.append(f"{feed.name}: {feed.error}")
    part.seconds += time.perf_counter() - started
    part.cpu_main += time.process_time() - cpu
    part.cpu_workers += sum(seconds - workers_cpu.get(pid, 0.0) for pid, seconds in _descendants_cpu().items())
    for (tid, name), seconds in _threads_cpu().items():
        part.cpu_threads[name] += seconds - threads_cpu.get((tid, name), 0.0)


def _descendants_cpu() -> dict[int, float]:
    """CPU seconds of each process below this one (the fork server and the workers)."""
    return {pid: cpu for pid in _children(os.getpid()) if (cpu := _cpu_seconds(pid)) is not None}


def _threads_cpu() -> dict[tuple[int, str], float]:
    """CPU seconds of each of this process's threads, by (thread id, kind): the event loop's
    (the main thread), the database thread, and the others (imports, process starts)."""
    found = {}
    for thread in threading.enumerate():
        if thread.native_id is None:
            continue
        name = thread.name
        kind = "event loop" if thread is threading.main_thread() else "database" if "database" in name else "other"
        if (cpu := _cpu_seconds(f"{os.getpid()}/task/{thread.native_id}")) is not None:
            found[thread.native_id, kind] = cpu
    return found


def warm_up(config_path: Path) -> PartFigures:
    """Poll every feed once (all new), so each has its validators; in this process."""
    from monitor.config import load_config
    from monitor.service import run_loop, running

    config = load_config(config_path)

    async def go() -> PartFigures:
        part = PartFigures()
        async with running(config) as runtime:
            await _poll(runtime, [f.name for f in config.feeds], part)
        return part

    return run_loop(go())


def _measure(
    config_path: str,
    unchanged: list[str],
    changed: list[str],
    profile: bool,
    stalls: bool,
    out: multiprocessing.connection.Connection,
) -> None:
    """The measured cycle, in a fresh process so its memory is the cycle's own; on the
    event loop `monitor poll` runs (monitor.service.run_loop)."""
    from monitor.config import load_config
    from monitor.service import run_loop, running

    config = load_config(config_path)
    profilers = (cProfile.Profile(), cProfile.Profile()) if profile else None
    sort, lines = os.environ.get("BENCH_SORT", "cumulative"), int(os.environ.get("BENCH_LINES", "25"))

    async def go() -> None:
        quiet, busy = PartFigures(), PartFigures()
        async with running(config, eager=True) as runtime:  # as `monitor run` does
            out.send("started")  # the benchmark's process samples this one's tree from now on
            for part, names, index in ((quiet, unchanged, 0), (busy, changed, 1)):
                if profilers:
                    profilers[index].enable()
                await _poll(runtime, names, part, stalls)
                if profilers:
                    profilers[index].disable()
            profile_text = ""
            for title, profiler in zip(("unchanged", "changed"), profilers or (), strict=False):
                buffer = io.StringIO()
                pstats.Stats(profiler, stream=buffer).sort_stats(sort).print_stats(lines)
                profile_text += f"\n-- {title} part --\n{buffer.getvalue()}"
            # Sent before the workers stop, so that their CPU time is read while they exist.
            out.send(
                {"quiet": quiet, "busy": busy, "main_hwm_bytes": _peak_rss_bytes(os.getpid()), "profile": profile_text}
            )

    run_loop(go())


def measured_cycle(
    config_path: Path, unchanged: list[str], changed: list[str], profile: bool, stalls: bool
) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_measure, args=(str(config_path), unchanged, changed, profile, stalls, send))
    child.start()
    send.close()  # so that recv() ends with EOFError if the child dies
    try:
        if receive.recv() != "started":
            raise EOFError
        sampler = TreeSampler(child.pid or 0)
        sampler.start()
        result: dict[str, Any] = receive.recv()
        sampler.stop()
    except EOFError:
        raise SystemExit("the measured cycle failed; see the traceback above") from None
    child.join()
    result.update(
        workers_cpu=sampler.children_cpu,
        workers_seen=sampler.workers_seen,
        peak_tree_bytes=sampler.peak_rss_bytes,
        largest_process_bytes=sampler.largest_rss_bytes,
        peak_tree_pss_bytes=sampler.peak_pss_bytes,
    )
    return result


def measured_cycles(
    directory: Path,
    config_path: Path,
    unchanged: list[str],
    changed: list[str],
    args: argparse.Namespace,
    site: BenchSite,
) -> dict[str, Any]:
    """``args.runs`` measured cycles, each from the database as the warm-up left it; the
    figures of the median one (by articles per second), since one run varies by +-5 %."""
    saved = directory / "after-warm-up"
    saved.mkdir()
    for path in directory.glob("monitor.db*"):
        shutil.copy(path, saved / path.name)
    runs = []
    for number in range(args.runs):
        if args.database:
            postgres_database(args.database, RUN_DATABASE, template=WARM_DATABASE)
        for path in directory.glob("monitor.db*"):
            path.unlink()
        for path in saved.iterdir():
            shutil.copy(path, directory / path.name)
        site.reset_stats()
        figures = measured_cycle(config_path, unchanged, changed, args.profile, args.stalls)
        figures["served"] = site.stats()
        busy: PartFigures = figures["busy"]
        print(
            f"measured cycle {number + 1}/{args.runs}: unchanged part "
            f"{rate(figures['quiet'].feeds, figures['quiet'].seconds):.0f} feeds/s, "
            f"changed part {rate(busy.stored, busy.seconds):.1f} articles/s, {busy.lag_ms()}; "
            f"CPU per article: main process {busy.cpu_main / max(1, busy.stored) * 1000:.1f} ms "
            f"({_split(busy.cpu_threads, busy.stored)}), "
            f"workers {busy.cpu_workers / max(1, busy.stored) * 1000:.1f} ms"
        )
        for title, part in (("unchanged", figures["quiet"]), ("changed", busy)):
            for seconds, stack in part.stalls:
                print(f"   stall in the {title} part: {seconds * 1000:.0f} ms in {stack}")
        runs.append(figures)
    runs.sort(key=lambda figures: rate(figures["busy"].stored, figures["busy"].seconds))
    median = runs[(len(runs) - 1) // 2]  # of an even count, the slower middle one
    median["run_rates"] = [rate(figures["busy"].stored, figures["busy"].seconds) for figures in runs]
    return median


WARM_DATABASE, RUN_DATABASE = "bench_warm", "bench_run"


def postgres_database(admin_url: str, name: str, template: str | None = None) -> str:
    """A fresh database ``name`` on the server (a copy of ``template`` if given); its URL."""
    import psycopg

    url = make_url(admin_url)
    plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return url.set(database=name).render_as_string(hide_password=False)


# --- the naive baseline ---------------------------------------------------------------------


@dataclass
class BaselineFeed:
    etag: str | None = None
    last_modified: str | None = None
    seen: set[str] = field(default_factory=set)


def baseline_pass(client: httpx.Client, urls: list[str], state: dict[str, BaselineFeed], pages: bool) -> int:
    """Sequential: conditional GET, feedparser, then each new item's page and trafilatura."""
    # Imported here, not at the top: the measured monitor process imports this module
    # again (multiprocessing's spawn), and would otherwise carry parsers it does not use.
    import feedparser
    import trafilatura

    articles = 0
    for url in urls:
        feed = state.setdefault(url, BaselineFeed())
        headers = {}
        if feed.etag:
            headers["if-none-match"] = feed.etag
        if feed.last_modified:
            headers["if-modified-since"] = feed.last_modified
        response = client.get(url, headers=headers)
        if response.status_code != 200:
            continue
        feed.etag, feed.last_modified = (
            response.headers.get("etag"),
            response.headers.get("last-modified"),
        )
        parsed = feedparser.parse(response.content, response_headers=dict(response.headers))
        for entry in parsed.entries:
            guid = entry.get("id") or entry.get("link")
            if guid in feed.seen:
                continue
            feed.seen.add(guid)
            if pages and entry.get("link"):
                page = client.get(entry.link)
                if page.status_code == 200 and trafilatura.extract(page.content, url=entry.link):
                    articles += 1
    return articles


# --- report ---------------------------------------------------------------------------------


def _split(seconds: Counter[str], articles: int) -> str:
    return ", ".join(f"{kind} {cpu / max(1, articles) * 1000:.1f}" for kind, cpu in sorted(seconds.items()))


def rate(count: float, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


@dataclass(frozen=True)
class Setup:
    feeds: list[int]
    urls: list[str]
    names: list[str]
    hosts: int
    pages: str

    def split(self, items: list[str]) -> tuple[list[str], list[str]]:
        """(unchanged, changed) parts of a list indexed like ``feeds``."""
        unchanged = [x for f, x in zip(self.feeds, items, strict=True) if not is_changed(f)]
        return unchanged, [x for f, x in zip(self.feeds, items, strict=True) if is_changed(f)]


def report_monitor(figures: dict[str, Any], served: dict[str, int]) -> tuple[PartFigures, PartFigures]:
    quiet: PartFigures = figures["quiet"]
    busy: PartFigures = figures["busy"]
    main_cpu = quiet.cpu_main + busy.cpu_main
    print("\n== monitor: the median measured cycle (runtime.poll in a fresh process) ==")
    print(f"server answered: {served}")
    print(
        f"unchanged part: {quiet.feeds} feeds in {quiet.seconds:.2f} s = "
        f"{rate(quiet.feeds, quiet.seconds):.0f} feeds/s (target >= {TARGET_FEEDS_PER_S}); "
        f"statuses {dict(quiet.statuses)}"
    )
    print(
        f"changed part:   {busy.feeds} feeds, {busy.stored} articles stored "
        f"in {busy.seconds:.2f} s = {rate(busy.stored, busy.seconds):.1f} articles/s; "
        f"{busy.page_failures} page failures; statuses {dict(busy.statuses)}"
    )
    for error in (quiet.errors + busy.errors)[:5]:
        print("   error:", error)
    print(f"unchanged part: {quiet.lag_ms()}")
    print(f"changed part:   {busy.lag_ms()}")
    print(
        f"whole cycle:    {quiet.feeds + busy.feeds} feeds "
        f"in {quiet.seconds + busy.seconds:.2f} s; "
        f"CPU {main_cpu + figures['workers_cpu']:.2f} s (main process {main_cpu:.2f} s + "
        f"{figures['workers_seen']} worker processes {figures['workers_cpu']:.2f} s)"
    )
    print(
        f"peak memory:    {figures['peak_tree_pss_bytes'] / 1e6:.0f} MB PSS, monitor process + fork server + "
        f"workers (sum, shared pages counted once, sampled every 250 ms; target <= {TARGET_RSS_MB}); "
        f"{figures['peak_tree_bytes'] / 1e6:.0f} MB as the sum of each process's peak RSS (shared pages "
        "counted in every process); largest single process's peak RSS "
        f"{figures['largest_process_bytes'] / 1e6:.0f} MB; main process VmHWM {figures['main_hwm_bytes'] / 1e6:.0f} MB"
    )
    if busy.stored:
        print(
            f"CPU per stored article in the changed part: main process "
            f"{busy.cpu_main / busy.stored * 1000:.1f} ms (fetch, store), workers "
            f"{busy.cpu_workers / busy.stored * 1000:.1f} ms (parse, extract, language, topics, "
            "story features; read at the part's start and end, so the fork server's start, with the "
            "process, is not in it)"
        )
    return quiet, busy


def run_baseline(setup: Setup, state: dict[str, BaselineFeed], quiet: PartFigures, busy: PartFigures) -> None:
    print("\n== naive sequential baseline (one httpx.Client, feedparser, trafilatura, one loop) ==")
    unchanged, changed = setup.split(setup.urls)
    with httpx.Client(timeout=30) as client:
        started = time.perf_counter()
        baseline_pass(client, unchanged, state, pages=True)
        quiet_seconds = time.perf_counter() - started
        started = time.perf_counter()
        articles = baseline_pass(client, changed, state, pages=True)
        busy_seconds = time.perf_counter() - started
    print(
        f"unchanged part: {rate(len(unchanged), quiet_seconds):.0f} feeds/s; changed part: "
        f"{rate(articles, busy_seconds):.1f} articles/s ({articles} in {busy_seconds:.2f} s)"
    )
    print(
        f"monitor / baseline speed: unchanged feeds x{quiet_seconds / quiet.seconds:.2f}, "
        f"articles x{rate(busy.stored, busy.seconds) / rate(articles, busy_seconds):.2f}, "
        f"whole cycle x{(quiet_seconds + busy_seconds) / (quiet.seconds + busy.seconds):.2f}"
    )


def run_trafilatura(setup: Setup, busy: PartFigures, runs: int, run_rates: list[float]) -> None:
    import trafilatura

    print(f"\n== trafilatura.extract alone on the same pages (this process, one core; median of {runs}) ==")
    seeds = load_seeds()
    pages = [
        (f"http://{host_of(f, setup.hosts)}{page_path(f, n)}", article_page(seeds, f, n, setup.pages)[1])
        for f in setup.feeds
        if is_changed(f)
        for n in range(NEW_ITEMS)
    ]
    for url, page in pages[:5]:
        trafilatura.extract(page, url=url)  # the first calls set up lazily loaded state
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        for url, page in pages:
            trafilatura.extract(page, url=url)
        timings.append(time.perf_counter() - started)
    seconds = sorted(timings)[(len(timings) - 1) // 2]  # of an even count, the faster middle one
    sizes = sorted(len(page) for _, page in pages)
    extract_rate = rate(len(pages), seconds)
    print(f"{len(pages)} pages ({sizes[0]}-{sizes[-1]} bytes of HTML) in {seconds:.2f} s = {extract_rate:.1f} pages/s")
    print(
        f"monitor articles/s / trafilatura pages/s = "
        f"{rate(busy.stored, busy.seconds) / extract_rate:.2f} "
        "(target >= 0.80: article processing within 20 % of extraction alone)"
    )
    ratios = ", ".join(f"{article_rate / extract_rate:.2f}" for article_rate in run_rates)
    print(f"the same ratio for each measured cycle, slowest first: {ratios} (target: every one >= 0.80)")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=2000)
    parser.add_argument("--hosts", type=int, default=100, help="loopback addresses to spread feeds on")
    parser.add_argument("--connections", type=int, help="fetch.max_connections (default: config's)")
    parser.add_argument("--workers", type=int, help="polling.workers (default: config's)")
    parser.add_argument("--profile", action="store_true", help="cProfile both parts (slows them)")
    parser.add_argument(
        "--stalls",
        action="store_true",
        help=f"print each event-loop stall over {STALL_SECONDS * 1000:.0f} ms and what ran",
    )
    parser.add_argument(
        "--runs", type=int, default=3, help="measured cycles (and trafilatura passes); the median is reported"
    )
    parser.add_argument(
        "--database",
        help="URL of a PostgreSQL server to measure on (databases bench_warm and bench_run are created); "
        "default: a SQLite file",
    )
    parser.add_argument(
        "--pages",
        choices=sorted(PAGE_STYLES),
        default="news",
        help="article pages: 'news' as portals serve them (60-150 KB), 'light' bare 5-8 KB ones",
    )
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.database and not args.database.startswith("postgresql"):
        parser.error("--database takes a PostgreSQL server's URL (postgresql+psycopg://...); SQLite is the default")

    feeds = list(range(args.feeds))
    build = partial(build_site, args.feeds, args.hosts, args.pages)
    with (
        tempfile.TemporaryDirectory(prefix="monitor-bench-") as tmp,
        BenchSite(build, args.hosts) as site,
    ):
        urls = [f"http://{host_of(f, args.hosts)}:{site.port}{feed_path(f)}" for f in feeds]
        setup = Setup(feeds, urls, [f"feed-{f:05d}" for f in feeds], args.hosts, args.pages)
        database = f"sqlite:///{Path(tmp) / 'monitor.db'}"
        if args.database:
            database = postgres_database(args.database, WARM_DATABASE)
        config_path = write_config(Path(tmp), database, urls, args.connections, args.workers)
        unchanged, changed = setup.split(setup.names)
        print(f"{args.feeds} feeds on {args.hosts} loopback hosts; {len(changed)} publish")
        print(f"{NEW_ITEMS} new items each in the measured cycle; {OLD_ITEMS} old items per feed")
        print(f"database: {make_url(database).render_as_string(hide_password=True)}\n")

        warm = warm_up(config_path)
        print(
            f"warm-up poll: {warm.feeds} feeds in {warm.seconds:.1f} s ({dict(warm.statuses)}; "
            f"{warm.stored} articles stored from the feeds' own text = "
            f"{rate(warm.stored, warm.seconds):.1f} articles/s; {len(warm.errors)} errors)"
        )
        for error in warm.errors[:5]:
            print("  ", error)
        baseline_state: dict[str, BaselineFeed] = {}
        with httpx.Client(timeout=30) as client:
            baseline_pass(client, urls, baseline_state, pages=False)  # the baseline's warm-up

        if args.database:  # the measured cycles run on copies of the warmed-up database
            run_url = make_url(database).set(database=RUN_DATABASE).render_as_string(hide_password=False)
            config_path = write_config(Path(tmp), run_url, urls, args.connections, args.workers)
        site.set_round(1)
        figures = measured_cycles(Path(tmp), config_path, unchanged, changed, args, site)
        quiet, busy = report_monitor(figures, figures["served"])
        run_baseline(setup, baseline_state, quiet, busy)
        run_trafilatura(setup, busy, args.runs, figures["run_rates"])
        if figures["profile"]:
            print("\n== cProfile of the measured cycle (main process, cumulative; figures above")
            print("   are slowed by the profiler: run without --profile for the real ones) ==")
            print(figures["profile"])


if __name__ == "__main__":
    main()
