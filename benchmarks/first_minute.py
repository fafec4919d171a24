"""Benchmark: the first minute. How fast the CLI answers, and what a quiet poll cycle costs.

    .venv/bin/python benchmarks/first_minute.py [--runs 7] [--feeds 200] [--skip-rss2email]

The monitor measured is this tree's (PYTHONPATH), its bytecode cached as in an installed
package: PYTHONDONTWRITEBYTECODE is unset for the commands, and a first run writes the
cache. Startup: `monitor --help` and `monitor matches` on an empty SQLite database (its schema
created by a first run) are each run ``--runs`` times; the minimum and the median wall
time and CPU time are printed, with the heavy modules each one imported (from
``python -X importtime``). Targets: --help ≤ 0.25 s, matches ≤ 0.5 s.

The quiet cycle: ``--feeds`` local feeds (benchmarks/_server.py, 20 loopback addresses)
that answer every conditional GET with 304. After a warm-up poll that gives each feed its
ETag, `monitor poll` polls them all again, ``--runs`` times; rss2email (installed into a
venv of its own under ~/.cache/monitor-bench, never a dependency of the monitor) does the
same with `r2e run --no-send` after its own warm-up. Both run side by side in this one
run against the same site. CPU time is that of the whole process tree, forked helpers
included: each command runs under a small wrapper that is a child subreaper
(prctl PR_SET_CHILD_SUBREAPER), so orphaned grandchildren (a fork server, its workers)
are reaped by it and counted in its RUSAGE_CHILDREN. Target: monitor ≤ 1.5 × rss2email.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import format_datetime
from functools import partial
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _server import BenchSite, Resource  # noqa: E402

MONITOR = [sys.executable, "-m", "monitor"]
HOSTS = 20
HEAVY = ("trafilatura", "numpy", "feedparser", "lxml", "alembic", "sqlalchemy", "httpx", "pydantic", "courlan")
CACHE = Path.home() / ".cache" / "monitor-bench"
PR_SET_CHILD_SUBREAPER = 36
EPOCH = datetime(2024, 10, 20, 6, 0, tzinfo=UTC)


# --- measuring a command's whole process tree ---------------------------------------------------


def tree_main(argv: Sequence[str]) -> None:
    """The wrapper: run ``argv``, reap every descendant, print wall and CPU seconds as JSON."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
    started = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    code = child.wait()
    wall = time.perf_counter() - started
    while True:  # orphans (a fork server, its workers) are ours now: wait for them too
        try:
            os.wait()
        except ChildProcessError:
            break
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"code": code, "wall": wall, "cpu": usage.ru_utime + usage.ru_stime}))


def environment() -> dict[str, str]:
    """This tree's monitor, its bytecode cached as an installed one's is (the first run writes it)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run(argv: Sequence[str]) -> None:
    subprocess.run(argv, check=True, capture_output=True, env=environment(), cwd=ROOT)


def measure(argv: Sequence[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of ``argv`` and everything it started."""
    result = subprocess.run(
        [sys.executable, __file__, "--tree", "--", *argv],
        capture_output=True,
        text=True,
        env=environment(),
        cwd=ROOT,
        check=True,
    )
    figures = json.loads(result.stdout)
    if figures["code"] != 0:
        raise SystemExit(f"{' '.join(argv)} exited {figures['code']}: {result.stderr[-2000:]}")
    return figures["wall"], figures["cpu"]


def heavy_imports(argv: Sequence[str]) -> list[str]:
    """Which of HEAVY ``argv`` (a monitor command) imported."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", *argv[1:]], capture_output=True, text=True, env=environment(), cwd=ROOT
    )
    imported = set(re.findall(r"\|\s*([\w.]+)\s*$", result.stderr, re.MULTILINE))
    return [name for name in HEAVY if name in imported]


def summary(samples: Sequence[tuple[float, float]]) -> str:
    walls, cpus = [w for w, _ in samples], [c for _, c in samples]
    return (
        f"wall min {min(walls):.3f} s, median {statistics.median(walls):.3f} s; "
        f"CPU min {min(cpus):.3f} s, median {statistics.median(cpus):.3f} s"
    )


# --- the site: feeds that answer 304 once polled --------------------------------------------------


def feed_xml(feed: int, base: str) -> bytes:
    items = "\n".join(
        f"<item><title>Item {feed}-{n}</title><link>{base}/gone/{feed}/{n}</link>"
        f'<guid isPermaLink="false">item-{feed}-{n}</guid>'
        f"<pubDate>{format_datetime(EPOCH)}</pubDate>"
        f"<description>Summary of item {n} of feed {feed}.</description></item>"
        for n in range(3)
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Feed {feed}</title>'
        f"<link>{base}/</link><description>Feed {feed}</description>{items}</channel></rss>"
    ).encode()


def build_site(feeds: int, _round: int, port: int) -> dict[str, Resource]:
    table = {}
    for feed in range(feeds):
        base = f"http://127.0.0.{1 + feed % HOSTS}:{port}"
        table[f"/f/{feed}.xml"] = Resource(
            feed_xml(feed, base),
            "application/rss+xml; charset=utf-8",
            etag=f'"{feed}"',
            last_modified=format_datetime(EPOCH, usegmt=True),
        )
    return table


def feed_urls(site: BenchSite, feeds: int) -> list[str]:
    return [f"http://{site.host(feed)}:{site.port}/f/{feed}.xml" for feed in range(feeds)]


# --- the two programs -----------------------------------------------------------------------


def monitor_config(folder: Path, urls: Sequence[str]) -> Path:
    config = {
        "database": f"sqlite:///{folder / 'monitor.db'}",
        "topics": [{"name": "ByteDance", "query": "ByteDance OR TikTok"}],
        "feeds": [{"name": f"f{n}", "url": url} for n, url in enumerate(urls)],
        "fetch": {"allow_networks": ["127.0.0.0/8"]},
    }
    path = folder / "monitor.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def rss2email() -> Path:
    """The r2e script of a venv that has rss2email; made on first use."""
    venv = CACHE / "rss2email"
    script = venv / "bin" / "r2e"
    if not script.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "rss2email==3.14"], check=True)
    return script


def rss2email_config(folder: Path, urls: Sequence[str]) -> list[str]:
    """r2e's argv for this folder's configuration and data file, the feeds written in."""
    sections = [
        "[DEFAULT]\nfrom = bench@example.org\nto = bench@example.org\nemail-protocol = sendmail\nsendmail = /bin/true\n"
    ]
    sections += [f"[feed.f{n}]\nurl = {url}\n" for n, url in enumerate(urls)]
    (folder / "r2e.cfg").write_text("\n".join(sections))
    return [str(rss2email()), "-c", str(folder / "r2e.cfg"), "-d", str(folder / "r2e.json")]


# --- the report -----------------------------------------------------------------------------


def startup(runs: int, folder: Path) -> None:
    config = monitor_config(folder, [])
    commands = {
        "monitor --help": [*MONITOR, "--help"],
        "monitor matches (empty database)": [*MONITOR, "-c", str(config), "matches"],
    }
    run(commands["monitor --help"])  # bytecode written
    run(commands["monitor matches (empty database)"])  # the schema created
    print("startup")
    for label, argv in commands.items():
        samples = [measure(argv) for _ in range(runs)]
        print(f"  {label}: {summary(samples)}")
        print(f"    heavy modules imported: {', '.join(heavy_imports(argv)) or 'none'}")


def quiet_cycle(runs: int, feeds: int, folder: Path, with_rss2email: bool) -> None:
    print(f"\nall-304 poll cycle, {feeds} local feeds")
    with BenchSite(partial(build_site, feeds), hosts=HOSTS) as site:
        urls = feed_urls(site, feeds)
        config = monitor_config(folder, urls)
        poll = [*MONITOR, "-c", str(config), "poll"]
        run(poll)  # the warm-up: ETags stored
        programs = {"monitor poll": poll}
        if with_rss2email:
            r2e = rss2email_config(folder, urls)
            run([*r2e, "run", "--no-send"])
            programs["r2e run --no-send"] = [*r2e, "run", "--no-send"]
        samples: dict[str, list[tuple[float, float]]] = {label: [] for label in programs}
        for _ in range(runs):  # interleaved, so a change in the machine's load hits both alike
            for label, argv in programs.items():
                site.reset_stats()
                samples[label].append(measure(argv))
                served = site.stats()
                if served.get("304") != feeds:
                    raise SystemExit(f"{label}: expected {feeds} answers 304, the site served {served}")
        for label, figures in samples.items():
            print(f"  {label}: {summary(figures)}")
        if with_rss2email:
            ratio = statistics.median(c for _, c in samples["monitor poll"]) / statistics.median(
                c for _, c in samples["r2e run --no-send"]
            )
            print(f"  CPU ratio monitor / rss2email (medians): {ratio:.2f} (target ≤ 1.5)")


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--tree":
        tree_main(sys.argv[3:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--skip-rss2email", action="store_true", help="Measure the monitor alone.")
    parser.add_argument("--only", choices=["startup", "cycle"], help="Run one part.")
    args = parser.parse_args()
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="first-minute-") as temp:
        if args.only != "cycle":
            startup(args.runs, Path(temp))
        if args.only != "startup":
            quiet_cycle(args.runs, args.feeds, Path(temp), not args.skip_rss2email)


if __name__ == "__main__":
    main()
