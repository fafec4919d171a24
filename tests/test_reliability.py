"""Reliability as an operator meets it: kill -9 and restart, workers started together,
a receiver that hangs, a disk that fills up.

Every daemon is a real `monitor run` subprocess polling a local feed server and alerting
local receivers; PostgreSQL is a real server (tests/postgres.py). Timings the issue asks
for are printed (run with -s to see them) and asserted against the targets.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from conftest import DEFAULT_TOPICS
from hostile import Handler, HostileServer, Route
from receivers import WebhookReceiver
from seedsite import publish
from sqlmodel import col, select
from test_daemon import SEED_ALERTS, START_SECONDS, assert_each_alert_once, daemon, wait_until

from monitor.config import load_config
from monitor.service import is_gone, running, worker_name
from monitor.store import repository
from monitor.store.db import create_engine, reading
from monitor.store.tables import Feed, utcnow

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
            engine = runtime.services.engine
            polling = asyncio.create_task(runtime.poll_feeds())
            stolen: list[int] = []
            expiries: list[datetime | None] = []
            while True:
                await asyncio.sleep(0.2)
                if polling.done():  # checked with no await before the claim: the poll cannot end in between
                    break
                now = utcnow()
                stolen += [f.id for f in repository.claim_due_feeds(engine, "elsewhere:1:1", now, names=[])]
                expiries.append(lease_expiry(engine, "slow"))
            report = await polling
            assert report.feeds[0].status == "ok" and report.feeds[0].seconds >= 3.5
            after = repository.claim_due_feeds(engine, "elsewhere:1:1", utcnow(), names=[])
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
