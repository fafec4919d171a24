"""Reliability as an operator meets it: kill -9 and restart, workers started together,
a receiver that hangs, a disk that fills up.

Every daemon is a real `monitor run` subprocess polling a local feed server and alerting
local receivers; PostgreSQL is a real server (tests/postgres.py). Timings the issue asks
for are printed (run with -s to see them) and asserted against the targets.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from conftest import DEFAULT_TOPICS, HOOK_SECRET, ROOT, monitor
from hostile import Handler, HostileServer, Route
from postgres import create_database
from receivers import WebhookReceiver
from seedsite import Seed, publish, seeds
from sqlmodel import col, select
from synthetic import article as synthetic_article
from synthetic import hit as digest_hit
from test_daemon import (
    SEED_ALERTS,
    START_SECONDS,
    assert_each_alert_once,
    assert_stopped_cleanly,
    daemon,
    wait_until,
)

from monitor import digests
from monitor.alerts.schedule import parse_schedule
from monitor.config import FeedConfig, load_config
from monitor.model import Routes
from monitor.polling import PollOutcome
from monitor.service import is_gone, running, worker_name
from monitor.store import notices, repository
from monitor.store.db import create_engine, reading, transaction, upgrade
from monitor.store.polls import changed_topics, claim_due_feeds, sync_feeds
from monitor.store.tables import Alert, Feed
from monitor.store.utc import utcnow
from monitor.stories.stage import AssignStory

RESUME_TARGET_SECONDS = 30.0  # after kill -9 and restart, polling resumes within this
TAKEOVER_TARGET_SECONDS = 90.0  # a killed worker's feeds are polled by another within this


class Hits:
    """When each path of a HostileServer was requested (time.monotonic), wrapping its routes."""

    def __init__(self, server: HostileServer) -> None:
        self.server = server
        self._lock = threading.Lock()
        self._times: dict[str, list[float]] = {}

    def watch(self, path: str) -> None:
        route = self.server.routes[path]

        def timed(handler: Handler, route: Route = route) -> None:
            with self._lock:
                self._times.setdefault(path, []).append(time.monotonic())
            route(handler)

        self.server.route(path, timed)

    def times(self, path: str) -> list[float]:
        with self._lock:
            return list(self._times.get(path, []))

    def first_after(self, path: str, moment: float) -> float | None:
        return next((t for t in self.times(path) if t > moment), None)


def config_file(directory: Path, database: str, feeds: list[dict[str, str]], **sections: Any) -> Path:
    config: dict[str, Any] = {
        "database": database,
        "feeds": feeds,
        "topics": DEFAULT_TOPICS,
        "fetch": {"allow_networks": ["127.0.0.0/8"], "timeout": "5s"},
        "polling": {"tick": "1s", "workers": 1},
        **sections,
    }
    path = directory / f"monitor-{uuid.uuid4().hex[:6]}.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def webhooks(*hooks: tuple[str, str]) -> dict[str, Any]:
    return {"webhooks": [{"name": name, "url": url, "secret": "${HOOK_SECRET}"} for name, url in hooks]}


def slow_feed(seconds: float) -> Route:
    """An empty but valid feed that takes ``seconds`` to answer: a poll in progress, for that long."""
    body = b'<?xml version="1.0"?><rss version="2.0"><channel><title>slow</title></channel></rss>'

    def route(handler: Handler) -> None:
        if handler.stopping.wait(seconds):
            return
        handler.send_simple(200, body, {"content-type": "application/rss+xml"})

    return route


def leases(url: str) -> dict[str, str]:
    """Feed name -> lease owner, for every feed that has one (expired or not)."""
    engine = create_engine(url)
    try:
        with reading(engine) as session:
            rows = session.exec(select(Feed.name, Feed.lease_owner).where(col(Feed.lease_owner).is_not(None)))
            return {name: owner or "" for name, owner in rows}
    finally:
        engine.dispose()


def lease_expiry(engine: sa.Engine, name: str) -> datetime | None:
    with reading(engine) as session:
        return session.exec(select(Feed.lease_expires_at).where(col(Feed.name) == name)).first()


# --- leases ------------------------------------------------------------------------------


def test_worker_names_tell_a_dead_process_from_a_live_one_and_from_a_reused_pid() -> None:
    me = worker_name()
    host, pid, start = me.split(":")
    assert int(pid) == os.getpid() and start.isdigit()
    assert not is_gone(me)  # this process
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        child_start = Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
        living = f"{host}:{child.pid}:{child_start}"
        assert not is_gone(living)
        assert is_gone(f"{host}:{child.pid}:{int(child_start) - 1}"), "a reused pid is another process"
        assert not is_gone(f"elsewhere.example:{child.pid}:1"), "another host's worker cannot be checked here"
    finally:
        child.kill()
        child.wait()
    assert is_gone(living)
    assert is_gone(f"{host}:{child.pid}"), "an owner written by an older version (host:pid)"
    assert is_gone(f"{host}:{pid}:{int(start) - 1}"), "this pid's predecessor (a restarted container's pid 1)"


def test_a_poll_longer_than_its_lease_is_never_claimed_twice(tmp_path: Path, site: HostileServer) -> None:
    """A 1-second lease and a feed that takes 4 s: the heartbeat keeps it this worker's throughout."""
    site.route("/slow.xml", slow_feed(4.0))
    url = f"sqlite:///{tmp_path / 'm.db'}"
    config = load_config(
        config_file(
            tmp_path,
            url,
            [{"name": "slow", "url": site.url("/slow.xml")}],
            fetch={"allow_networks": ["127.0.0.0/8"], "timeout": "30s"},
        )
    )

    async def poll_while_another_worker_tries() -> tuple[list[int], list[datetime | None]]:
        async with running(config, lease=timedelta(seconds=1)) as runtime:
            engine = runtime.services.store.engine
            polling = asyncio.create_task(runtime.poll_feeds())
            stolen: list[int] = []
            expiries: list[datetime | None] = []
            while True:
                await asyncio.sleep(0.2)
                if polling.done():  # checked with no await before the claim: the poll cannot end in between
                    break
                now = utcnow()
                stolen += [f.id for f in claim_due_feeds(engine, "elsewhere:1:1", now, names=[])]
                expiries.append(lease_expiry(engine, "slow"))
            report = await polling
            assert report.feeds[0].outcome is PollOutcome.OK and report.feeds[0].seconds >= 3.5
            after = claim_due_feeds(engine, "elsewhere:1:1", utcnow(), names=[])
            assert [f.name for f in after] == ["slow"], "released when the poll was recorded"
            return stolen, expiries

    stolen, expiries = asyncio.run(poll_while_another_worker_tries())
    assert stolen == [], "claimed by another worker while its poll was still running"
    held = [e for e in expiries if e is not None]
    assert held and (max(held) - min(held)).total_seconds() >= 2.0, "the lease was renewed while polling"
    assert site.hits("/slow.xml") == 1


def test_after_kill_9_a_restarted_daemon_resumes_polling_at_once(
    tmp_path: Path, site: HostileServer, webhook: WebhookReceiver
) -> None:
    """Killed in the middle of a poll (its feed leased), restarted at once: the feed is polled again
    within seconds, not when the lease would have run out, and every alert arrives once."""
    publish(site)
    seeds_feed = site.routes["/feed.xml"]
    first_poll = threading.Event()

    def hangs_the_first_time(handler: Handler) -> None:
        if not first_poll.is_set():
            first_poll.set()
            handler.stopping.wait(120)  # the daemon is killed meanwhile
            return
        seeds_feed(handler)

    site.route("/feed.xml", hangs_the_first_time)
    hits = Hits(site)
    hits.watch("/feed.xml")
    url = f"sqlite:///{tmp_path / 'monitor.db'}"
    config = config_file(
        tmp_path,
        url,
        [{"name": "seeds", "url": site.url("/feed.xml")}],
        fetch={"allow_networks": ["127.0.0.0/8"], "timeout": "300s"},
        alerts=webhooks(("receiver", webhook.url)),
    )
    with daemon(config, tmp_path / "killed.log") as killed:
        wait_until(first_poll.is_set, START_SECONDS, "the first poll")
        assert "seeds" in leases(url), "the feed is leased while its poll hangs"
        killed.process.send_signal(signal.SIGKILL)
        killed.process.wait(10)
    (owner,) = leases(url).values()
    assert owner.startswith(f"{socket.gethostname()}:{killed.process.pid}:"), "kill -9 left its lease behind"

    restarted_at = time.monotonic()
    with daemon(config, tmp_path / "restarted.log") as restarted:
        wait_until(lambda: hits.first_after("/feed.xml", restarted_at) is not None, 120, "the feed polled again")
        resumed = (hits.first_after("/feed.xml", restarted_at) or 0) - restarted_at
        wait_until(lambda: len(webhook.requests) >= SEED_ALERTS, START_SECONDS, "the seven alerts")
        time.sleep(1.0)
        code = restarted.stop(signal.SIGTERM)[0]
        assert code == 0, restarted.output
    print(f"\nresume after kill -9 and restart: the feed was polled again {resumed:.1f} s after the restart")
    assert resumed < RESUME_TARGET_SECONDS
    assert_each_alert_once(webhook.requests)


def test_alerts_a_killed_daemon_was_sending_are_sent_at_once_after_restart(
    tmp_path: Path, site: HostileServer, webhook: WebhookReceiver
) -> None:
    """Killed while its receiver hung (the alerts leased to it, mid-send); restarted with the
    receiver back: every alert arrives within seconds, not when the leases would expire."""
    publish(site)
    url = f"sqlite:///{tmp_path / 'monitor.db'}"
    feeds = [{"name": "seeds", "url": site.url("/feed.xml")}]
    with HangingReceiver() as hanging:
        config = config_file(tmp_path, url, feeds, alerts=webhooks(("receiver", hanging.url)))
        with daemon(config, tmp_path / "killed.log") as killed:
            wait_until(lambda: hanging.connections >= 4, START_SECONDS, "alerts being sent to the hanging receiver")
            assert alert_leases(url), "the alerts in flight are leased"
            killed.process.send_signal(signal.SIGKILL)
            killed.process.wait(10)
    config = config_file(tmp_path, url, feeds, alerts=webhooks(("receiver", webhook.url)))  # the same channel
    restarted_at = time.monotonic()
    with daemon(config, tmp_path / "restarted.log") as restarted:
        wait_until(lambda: len(webhook.requests) >= SEED_ALERTS, 2 * RESUME_TARGET_SECONDS, "the seven alerts")
        delivered_after = time.monotonic() - restarted_at
        time.sleep(1.0)
        assert restarted.stop(signal.SIGTERM)[0] == 0, restarted.output
    print(f"\nalerts leased by a killed daemon: all delivered {delivered_after:.1f} s after the restart")
    assert delivered_after < RESUME_TARGET_SECONDS
    assert_each_alert_once(webhook.requests)


def test_kill_9_loses_no_update_or_digest_and_queues_no_key_twice(
    tmp_path: Path, site: HostileServer, webhook: WebhookReceiver
) -> None:
    """Story updates on, an hourly digest owed for the hour before: killed -9 while its receiver
    hangs (alerts, updates and the digest queued, some leased mid-send), restarted with the
    receiver back: every outbox row is delivered, each key is in the outbox once, and the
    receiver has every row's message."""
    publish(site)
    url = f"sqlite:///{tmp_path / 'monitor.db'}"
    engine = create_engine(url)
    upgrade(engine)
    with transaction(engine) as session:
        session.add(Feed(id=100, name="archive", url="https://archive.example/feed"))
    owed = parse_schedule("hourly").last_complete(utcnow() - digests.GRACE)
    at = owed.start + timedelta(minutes=1)
    repository.store_article(
        engine, synthetic_article(1, at, feed_id=100, matches=[digest_hit("ByteDance AI")]), Routes(), AssignStory(), at
    )
    engine.dispose()
    feeds = [{"name": "seeds", "url": site.url("/feed.xml")}]
    topics = [{**topic, "updates": True} for topic in DEFAULT_TOPICS]
    hourly = {"name": "hourly", "channel": "webhook:receiver", "topics": ["ByteDance AI"], "schedule": "hourly"}
    with HangingReceiver() as hanging:
        alerts = {**webhooks(("receiver", hanging.url)), "digests": [hourly]}
        config = config_file(tmp_path, url, feeds, topics=topics, alerts=alerts)
        with daemon(config, tmp_path / "killed.log") as killed:
            wait_until(lambda: hanging.connections >= 4, START_SECONDS, "alerts being sent to the hanging receiver")
            kinds = {"match", "update", "digest"}
            wait_until(lambda: kinds <= set(outbox_keys(url).values()), START_SECONDS, "every kind queued")
            killed.process.send_signal(signal.SIGKILL)
            killed.process.wait(10)
    queued = outbox_keys(url)
    config = config_file(tmp_path, url, feeds, topics=topics, alerts={**alerts, **webhooks(("receiver", webhook.url))})
    with daemon(config, tmp_path / "restarted.log") as restarted:

        def all_sent() -> bool:  # the seed articles the killed daemon had not stored yet, too
            alerts = sum(json.loads(r.body)["type"] == "monitor.alert" for r in webhook.requests)
            return alerts >= SEED_ALERTS and not undelivered(url)

        wait_until(all_sent, 2 * RESUME_TARGET_SECONDS, "the seven alerts and every outbox row delivered")
        time.sleep(1.0)
        assert restarted.stop(signal.SIGTERM)[0] == 0, restarted.output
    rows = outbox_keys(url)
    assert set(queued) <= set(rows), "a row queued before the kill is gone"
    received = Counter(r.headers["idempotency-key"] for r in webhook.requests)
    assert len(received) == len(rows), "every row's message arrived (each under its own key)"
    kinds = Counter(json.loads(r.body)["type"] for r in webhook.requests)
    assert kinds["monitor.alert"] == SEED_ALERTS and kinds["monitor.update"] >= 1
    digest_keys = [key for key, kind in rows.items() if kind == "digest"]
    assert notices.digest_key("hourly", owed.start) in digest_keys, "the owed digest"
    print(
        f"\nkill -9 with updates and a digest: {len(rows)} outbox rows ({dict(Counter(rows.values()))}), all delivered"
    )


def outbox_keys(url: str) -> dict[str, str]:
    """Every outbox row's key and kind; a key twice fails here (the database refuses it anyway)."""
    engine = create_engine(url)
    try:
        with reading(engine) as session:
            rows = session.exec(select(Alert.key, Alert.kind)).all()
    finally:
        engine.dispose()
    keys = Counter(key for key, _ in rows)
    assert [k for k, n in keys.items() if n > 1] == [], "a key twice in the outbox"
    return dict(rows)


def undelivered(url: str) -> int:
    engine = create_engine(url)
    try:
        with reading(engine) as session:
            return len(session.exec(select(Alert.id).where(col(Alert.status) != "delivered")).all())
    finally:
        engine.dispose()


def alert_leases(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        with reading(engine) as session:
            return [
                owner or ""
                for owner in session.exec(select(Alert.lease_owner).where(col(Alert.lease_owner).is_not(None)))
            ]
    finally:
        engine.dispose()


# --- several workers on PostgreSQL ----------------------------------------------------------


@pytest.fixture
def fresh_postgres(postgres_admin_url: str | None) -> str:
    if postgres_admin_url is None:
        if os.environ.get("MONITOR_REQUIRE_POSTGRES"):
            pytest.fail("PostgreSQL binaries not found but MONITOR_REQUIRE_POSTGRES is set")
        pytest.skip("PostgreSQL is not installed here (CI installs it: see .ci/run)")
    return create_database(postgres_admin_url, f"monitor_{uuid.uuid4().hex[:12]}")


def test_processes_started_together_on_a_fresh_postgresql_database_all_run(
    tmp_path: Path, site: HostileServer, fresh_postgres: str
) -> None:
    """Four `monitor poll` at once on an empty database: each migrates or waits, syncs the
    same feeds and topics, and polls; none trips over another's rows."""
    feeds = [{"name": f"seeds-{n}", "url": publish(site, f"/feed-{n}.xml")} for n in range(3)]
    config = config_file(tmp_path, fresh_postgres, feeds, backfill={"window": "1d"})
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(config), "poll"],
            cwd=ROOT,
            env={**os.environ, "HOOK_SECRET": HOOK_SECRET},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outcomes = [(p.wait(timeout=180), *p.communicate()) for p in processes]
    for code, out, err in outcomes:
        assert code == 0 and "Traceback" not in err, f"exit {code}\n{out}\n{err}"
        assert "feeds polled" in out
    engine = create_engine(fresh_postgres)
    try:
        with reading(engine) as session:
            names = sorted(session.exec(select(Feed.name)))
            articles = session.execute(sa.text("SELECT count(*) FROM article")).scalar_one()
            topics = session.execute(sa.text("SELECT count(*) FROM topic")).scalar_one()
    finally:
        engine.dispose()
    assert names == ["seeds-0", "seeds-1", "seeds-2"]
    assert articles == 5 and topics == len(DEFAULT_TOPICS)


def test_start_up_chores_run_at_the_same_instant_by_eight_processes_all_succeed(fresh_postgres: str) -> None:
    """The start-up writes, from eight connections released together by a barrier: the race
    of processes started together, made certain rather than left to timing."""
    from concurrent.futures import ThreadPoolExecutor

    from monitor.store.db import upgrade

    engine = create_engine(fresh_postgres)
    upgrade(engine)
    feeds = [FeedConfig(url=f"http://127.0.0.1:9/feed-{n}.xml", name=f"feed-{n}") for n in range(40)]
    queries = {t["name"]: t["query"] for t in DEFAULT_TOPICS}
    barrier = threading.Barrier(8)

    def start_up() -> list[str]:
        barrier.wait()
        sync_feeds(engine, feeds)
        return changed_topics(engine, queries)

    try:
        with ThreadPoolExecutor(8) as pool:
            changed = [f.result() for f in [pool.submit(start_up) for _ in range(8)]]
        with reading(engine) as session:
            names = sorted(session.exec(select(Feed.name)))
    finally:
        engine.dispose()
    assert names == sorted(f"feed-{n}" for n in range(40)), "each feed once, under its own name"
    assert sorted(name for found in changed for name in found) == sorted(queries), (
        "each topic recorded (and backfilled) once"
    )


def test_poll_on_a_read_only_postgresql_database_says_so_in_one_line(
    tmp_path: Path, site: HostileServer, fresh_postgres: str
) -> None:
    config = config_file(tmp_path, fresh_postgres, [{"name": "seeds", "url": publish(site)}])
    assert monitor("--config", config, "db", "upgrade").returncode == 0
    database = fresh_postgres.rsplit("/", 1)[1]
    engine = create_engine(fresh_postgres)
    try:
        with engine.connect() as connection:
            connection.execute(sa.text(f'ALTER DATABASE "{database}" SET default_transaction_read_only = on'))
            connection.commit()
    finally:
        engine.dispose()
    line = one_error_line(monitor("--config", config, "poll"))
    assert "read-only transaction" in line and "writable" in line
    assert site.hits("/feed.xml") == 0


def test_three_workers_on_postgresql_take_over_a_killed_workers_feeds(
    tmp_path: Path, site: HostileServer, fresh_postgres: str
) -> None:
    """Three daemons started together on a fresh database; the one holding feeds is killed -9;
    the other two poll its feeds once its leases run out (another host could not tell it died)."""
    hits = Hits(site)
    feeds = []
    for n in range(12):
        site.route(f"/slow-{n}.xml", slow_feed(2.0))
        hits.watch(f"/slow-{n}.xml")
        feeds.append({"name": f"slow-{n}", "url": site.url(f"/slow-{n}.xml"), "interval": "1s"})
    config = config_file(tmp_path, fresh_postgres, feeds, fetch={"allow_networks": ["127.0.0.0/8"], "timeout": "10s"})
    with ExitStack() as stack:
        workers = [stack.enter_context(daemon(config, tmp_path / f"worker-{n}.log")) for n in range(3)]
        for worker in workers:
            wait_until(lambda w=worker: "monitor running" in w.output, START_SECONDS, "all three workers running")
        wait_until(lambda: len(leases(fresh_postgres)) >= 4, START_SECONDS, "feeds leased")
        by_pid = {w.process.pid: w for w in workers}
        held: dict[str, list[str]] = {}
        for feed, owner in leases(fresh_postgres).items():
            held.setdefault(owner, []).append(feed)
        victim_owner = max(held, key=lambda o: len(held[o]))
        victim = by_pid[int(victim_owner.split(":")[1])]
        victim.process.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        victim.process.wait(10)
        stranded = [feed for feed, owner in leases(fresh_postgres).items() if owner == victim_owner]
        assert stranded, "the killed worker held feeds"

        def taken_over() -> bool:
            return all(hits.first_after(f"/{feed}.xml", killed_at) is not None for feed in stranded)

        wait_until(taken_over, 2 * TAKEOVER_TARGET_SECONDS, "the killed worker's feeds polled by another")
        delays = [(hits.first_after(f"/{feed}.xml", killed_at) or 0) - killed_at for feed in stranded]
        first_takeover, takeover = min(delays), max(delays)
        survivors = [w for w in workers if w is not victim]
        for worker in survivors:
            code, _ = worker.stop(signal.SIGTERM)
            assert code == 0 and "Traceback" not in worker.output, worker.output
    print(
        f"\ntakeover with three workers: the killed worker's {len(stranded)} feeds polled again "
        f"{first_takeover:.1f}-{takeover:.1f} s after the kill"
    )
    assert takeover < TAKEOVER_TARGET_SECONDS


# --- a receiver that hangs ------------------------------------------------------------------


class HangingReceiver:
    """Accepts every connection and never reads or answers a byte."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}/hook"

    @property
    def connections(self) -> int:
        return len(self._held)

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:  # closed
                return
            self._held.append(connection)

    def __enter__(self) -> HangingReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._listener.close()
        for connection in self._held:
            connection.close()


def test_a_hanging_receiver_delays_neither_polling_nor_the_other_channel(
    tmp_path: Path, site: HostileServer, webhook: WebhookReceiver
) -> None:
    publish(site)
    hits = Hits(site)
    hits.watch("/feed.xml")
    with HangingReceiver() as hanging:
        config = config_file(
            tmp_path,
            f"sqlite:///{tmp_path / 'monitor.db'}",
            [{"name": "seeds", "url": site.url("/feed.xml"), "interval": "3s"}],
            # Retried every second or two: the hanging channel always has alerts in flight.
            alerts={
                **webhooks(("hanging", hanging.url), ("receiver", webhook.url)),
                "first_retry": "1s",
                "max_backoff": "2s",
            },
        )
        with daemon(config, tmp_path / "monitor.log") as running:
            wait_until(
                lambda: len(webhook.requests) >= SEED_ALERTS, START_SECONDS, "the seven alerts on the good channel"
            )
            first_poll = hits.times("/feed.xml")[0]
            alerted_after = time.monotonic() - first_poll
            watch_from = time.monotonic()
            time.sleep(40)
            polls = [t for t in hits.times("/feed.xml") if t >= watch_from]
            gaps = [later - earlier for earlier, later in itertools.pairwise(polls)]
            hung = hanging.connections
            # Sends still hanging: stopped within the grace, the alerts left queued.
            assert_stopped_cleanly(*running.stop(signal.SIGTERM), running, signal.SIGTERM)
    longest = max(gaps)
    print(
        f"\nhanging receiver: {hung} connections left unanswered; the good channel's 7 alerts came "
        f"{alerted_after:.1f} s after the first poll; {len(polls)} polls in 40 s, longest gap {longest:.1f} s"
    )
    assert hung >= 8, "the hanging channel was being retried all along"
    assert alerted_after < 20, "the good channel was not held up by the hanging one"
    assert longest < 8, f"a 3-second feed waited {longest:.1f} s between polls"
    assert_each_alert_once(webhook.requests)


# --- a disk that fills up, a database that is read-only -----------------------------------------
#
# Honest failures need a real filesystem: as root (which these tests often run as) chmod
# stops no write, so a small tmpfs is mounted for the database: filled with a file until
# the kernel says ENOSPC, or remounted read-only. Without the right to mount, the read-only
# case falls back to chmod (which then binds), and the full-disk cases are skipped.


@contextmanager
def small_disk(directory: Path, size: str = "16m") -> Iterator[Path]:
    directory.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root; a full disk cannot be made honestly otherwise")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(directory)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", str(directory)], capture_output=True)


def fill(disk: Path) -> Path:
    """Fill ``disk`` to the last byte with one file; returns it (delete it to free the space)."""
    filler = disk / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        for size in (1 << 16, 4096, 512, 1):  # down to the last partial block
            while True:
                try:
                    os.write(descriptor, b"\0" * size)
                except OSError:  # ENOSPC: full at this size
                    break
    finally:
        os.close(descriptor)
    return filler


@contextmanager
def read_only(directory: Path, mounted: bool) -> Iterator[None]:
    if mounted:
        subprocess.run(["mount", "-o", "remount,ro", str(directory)], check=True)
    else:
        for path in [directory, *directory.iterdir()]:
            path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        yield
    finally:
        if mounted:
            subprocess.run(["mount", "-o", "remount,rw", str(directory)], check=True)
        else:
            for path in [directory, *directory.iterdir()]:
                path.chmod(0o755 if path.is_dir() else 0o644)


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: database "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_poll_on_a_read_only_database_says_so_in_one_line(tmp_path: Path, site: HostileServer) -> None:
    disk = tmp_path / "disk"
    mounted = os.geteuid() == 0
    with ExitStack() as stack:
        if mounted:
            stack.enter_context(small_disk(disk))
        else:
            disk.mkdir()
        config = config_file(tmp_path, f"sqlite:///{disk / 'monitor.db'}", [{"name": "seeds", "url": publish(site)}])
        assert monitor("--config", config, "db", "upgrade").returncode == 0
        with read_only(disk, mounted):
            line = one_error_line(monitor("--config", config, "poll"))
    assert "monitor.db" in line and "writable" in line
    assert site.hits("/feed.xml") == 0, "nothing fetched that could not be stored"


def test_poll_on_a_full_disk_says_so_in_one_line(tmp_path: Path, site: HostileServer) -> None:
    with small_disk(tmp_path / "disk") as disk:
        config = config_file(tmp_path, f"sqlite:///{disk / 'monitor.db'}", [{"name": "seeds", "url": publish(site)}])
        assert monitor("--config", config, "db", "upgrade").returncode == 0
        filler = fill(disk)
        line = one_error_line(monitor("--config", config, "poll"))
        filler.unlink()
        recovered = monitor("--config", config, "poll")
    print(f"\nmonitor poll on a full disk: {line}")
    assert "the disk it is on is full" in line and "monitor.db" in line
    assert recovered.returncode == 0 and "5 new articles" in recovered.stdout, recovered.stdout + recovered.stderr


def test_daemon_on_a_full_disk_pauses_in_one_line_resumes_in_one_line_and_stops_cleanly(
    tmp_path: Path, site: HostileServer, webhook: WebhookReceiver
) -> None:
    empty = b'<?xml version="1.0"?><rss version="2.0"><channel><title>quiet</title></channel></rss>'
    site.serve("/feed.xml", empty, headers={"content-type": "application/rss+xml"})
    with small_disk(tmp_path / "disk") as disk:
        config = config_file(
            tmp_path,
            f"sqlite:///{disk / 'monitor.db'}",
            [{"name": "seeds", "url": site.url("/feed.xml"), "interval": "1s"}],
            alerts=webhooks(("receiver", webhook.url)),
        )
        with daemon(config, tmp_path / "monitor.log") as running:
            wait_until(lambda: site.hits("/feed.xml") >= 2, START_SECONDS, "the daemon polling")
            filler = fill(disk)
            publish(site)  # five articles now, and no room to store them
            wait_until(lambda: "storage failing" in running.output, 60, "the failure reported")
            time.sleep(1.5)  # a tick in flight may still finish
            fetched = len(site.requests)
            time.sleep(5)  # five ticks
            assert len(site.requests) == fetched, "fetched while nothing could be stored"
            assert webhook.requests == []

            filler.unlink()
            wait_until(lambda: len(webhook.requests) >= SEED_ALERTS, START_SECONDS, "the seven alerts after recovery")
            assert "storage writable again" in running.output

            filler = fill(disk)
            publish(site, items=[*seeds(), extra_article()])
            wait_until(lambda: running.output.count("storage failing") == 2, 60, "the second failure reported")
            assert_stopped_cleanly(*running.stop(signal.SIGTERM), running, signal.SIGTERM)
            output = running.output
    print("\n" + "\n".join(line for line in output.splitlines() if "storage" in line))
    assert "poll failed" not in output and "scheduling failed" not in output, output
    assert output.count("storage failing") == 2 and output.count("storage writable again") == 1, output
    assert_each_alert_once(webhook.requests)


def extra_article() -> Seed:
    return Seed(
        "extra.txt",
        "Harga cabai naik menjelang akhir tahun",
        "Harga cabai rawit di pasar tradisional naik dua kali lipat menjelang akhir tahun. " * 20,
        "id",
        frozenset(),
        "extra",
    )
