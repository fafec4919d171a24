"""`monitor run`, the daemon, as an operator runs it: start, deliver, stop on a signal, restart.

Each daemon is a real subprocess polling a local seed site every second (`polling.tick: 1s`)
and alerting a local webhook receiver; every wait is bounded.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from conftest import DEFAULT_TOPICS, HOOK_SECRET, ROOT, monitor
from hostile import HostileServer, drip, respond
from receivers import ReceivedRequest, WebhookReceiver
from seedsite import feed_xml, publish, seeds

SEED_ALERTS = 7  # ByteDance AI: 3 stories, Doubao: 2, TikTok ban: 2
STOP_SECONDS = 8.0  # "stops within a few seconds"
START_SECONDS = 90.0  # bound on start-up plus one seed cycle on a busy 2-core machine


class Daemon:
    """One `monitor run` subprocess whose stderr (its status lines) goes to a file."""

    def __init__(self, config: Path, log: Path) -> None:
        self.log = log
        self._log_file = log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(config), "run"],
            cwd=ROOT,
            env={**os.environ, "HOOK_SECRET": HOOK_SECRET},
            stdout=subprocess.DEVNULL,
            stderr=self._log_file,
        )

    @property
    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self, signum: signal.Signals) -> tuple[int, float]:
        """Send ``signum``; returns (exit code, seconds until the process was gone)."""
        started = time.monotonic()
        self.process.send_signal(signum)
        try:
            code = self.process.wait(timeout=30)
        finally:
            self._log_file.close()
        return code, time.monotonic() - started

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self._log_file.close()


@contextmanager
def daemon(config: Path, log: Path) -> Iterator[Daemon]:
    """A running daemon; killed at the end if the test did not stop it."""
    running = Daemon(config, log)
    try:
        yield running
    finally:
        running.kill()


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"after {timeout:.0f} s still waiting for {what}"
        time.sleep(0.1)


def write_config(path: Path, feeds: list[dict[str, str]], webhook: WebhookReceiver, **extra: Any) -> Path:
    config: dict[str, Any] = {
        "database": f"sqlite:///{path.parent / 'monitor.db'}",
        "feeds": feeds,
        "topics": DEFAULT_TOPICS,
        "fetch": {"allow_networks": ["127.0.0.0/8"], "timeout": "5s"},
        "polling": {"tick": "1s", "workers": 1},
        "alerts": {"webhooks": [{"url": webhook.url, "secret": "${HOOK_SECRET}", "name": "receiver"}]},
        **extra,
    }
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def assert_stopped_cleanly(code: int, seconds: float, running: Daemon, signum: signal.Signals) -> None:
    output = running.output
    assert code == 0, f"{signum.name}: exit {code}\n{output}"
    assert seconds < STOP_SECONDS, f"{signum.name}: took {seconds:.1f} s to stop"
    assert output.rstrip().splitlines()[-1] == "stopped", output
    assert "Traceback" not in output, output


def assert_each_alert_once(requests: list[ReceivedRequest]) -> None:
    keys = Counter(r.headers["idempotency-key"] for r in requests)
    assert [k for k, n in keys.items() if n > 1] == [], "alerted twice"
    topics = Counter(json.loads(r.body)["topic"] for r in requests)
    assert topics == {"ByteDance AI": 3, "Doubao": 2, "TikTok ban": 2}
    assert len(requests) == SEED_ALERTS


def test_daemon_delivers_stops_on_signals_and_never_alerts_twice(
    tmp_path: Path, site: HostileServer, webhook: WebhookReceiver
) -> None:
    # `interval: 1s` overrides the adaptive schedule: the feed is polled again every tick.
    config = write_config(
        tmp_path / "monitor.yaml", [{"name": "seeds", "url": publish(site), "interval": "1s"}], webhook
    )
    with daemon(config, tmp_path / "first.log") as first:
        wait_until(lambda: len(webhook.requests) >= SEED_ALERTS, START_SECONDS, "the seven alerts")
        assert "monitor running: 1 feeds" in first.output
        polls = site.hits("/feed.xml")
        wait_until(lambda: site.hits("/feed.xml") >= polls + 2, 20, "two more polls of the feed")
        assert_stopped_cleanly(*first.stop(signal.SIGTERM), first, signal.SIGTERM)
    assert_each_alert_once(webhook.requests)

    # The feed changes its bytes (no more 304, no same-body shortcut) but carries the same
    # entries; a restarted daemon re-reads it and alerts nothing again.
    site.route(
        "/feed.xml",
        respond(
            feed_xml(site.url(""), seeds()) + b"\n<!-- refreshed -->\n",
            headers={"content-type": "application/rss+xml"},
        ),
    )
    polls = site.hits("/feed.xml")
    with daemon(config, tmp_path / "second.log") as second:
        wait_until(lambda: site.hits("/feed.xml") >= polls + 2, START_SECONDS, "the restarted daemon's polls")
        time.sleep(1.0)  # one more tick to deliver anything it might have queued
        assert_stopped_cleanly(*second.stop(signal.SIGINT), second, signal.SIGINT)
    assert_each_alert_once(webhook.requests)


def test_daemon_stopped_mid_cycle_finishes_the_work_after_restart(
    tmp_path: Path, site: HostileServer, webhook: WebhookReceiver
) -> None:
    items = seeds()
    publish(site, items=items)
    slow_page = f"/news/{items[-1].name}.html"
    normal_page = site.routes[slow_page]
    site.route(slow_page, drip(b"<html>" + b" " * 10_000, interval=0.5))  # hangs the cycle
    config = write_config(
        tmp_path / "monitor.yaml",
        [{"name": "seeds", "url": site.url("/feed.xml")}],
        webhook,
        fetch={"allow_networks": ["127.0.0.0/8"], "timeout": "60s"},
    )
    with daemon(config, tmp_path / "busy.log") as busy:
        wait_until(lambda: site.hits(slow_page) >= 1, START_SECONDS, "the slow page to be requested")
        time.sleep(1.0)  # the other four articles are stored meanwhile
        code, seconds = busy.stop(signal.SIGTERM)
        assert "letting the polls in progress finish" in busy.output  # the scheduler of the routing branch
        assert_stopped_cleanly(code, seconds, busy, signal.SIGTERM)

    site.route(slow_page, normal_page)
    with daemon(config, tmp_path / "restarted.log") as restarted:
        wait_until(lambda: len(webhook.requests) >= SEED_ALERTS, START_SECONDS, "the seven alerts")
        time.sleep(2.0)  # two more ticks: nothing else may arrive
        assert_stopped_cleanly(*restarted.stop(signal.SIGTERM), restarted, signal.SIGTERM)
    assert_each_alert_once(webhook.requests)


def test_two_daemons_on_one_sqlite_database_alert_once(
    tmp_path: Path, site: HostileServer, webhook: WebhookReceiver
) -> None:
    """Two workers, two feeds carrying the same five articles: still one alert per story.

    The schema is created first: two processes creating it at once is tested in
    test_cli.py (`db upgrade` started together), so this test is about polling and delivery.
    """
    feeds = [
        {"name": "seeds", "url": publish(site), "interval": "1s"},
        {"name": "mirror", "url": publish(site, "/mirror.xml"), "interval": "1s"},
    ]
    config = write_config(tmp_path / "monitor.yaml", feeds, webhook)
    assert monitor("--config", config, "db", "upgrade").returncode == 0
    with daemon(config, tmp_path / "a.log") as a, daemon(config, tmp_path / "b.log") as b:
        wait_until(lambda: len(webhook.requests) >= SEED_ALERTS, START_SECONDS, "the seven alerts")
        polls = site.hits("/feed.xml") + site.hits("/mirror.xml")
        wait_until(
            lambda: site.hits("/feed.xml") + site.hits("/mirror.xml") >= polls + 4,
            30,
            "more polls by the two daemons",
        )
        for running in (a, b):
            assert_stopped_cleanly(*running.stop(signal.SIGTERM), running, signal.SIGTERM)
    assert "poll failed" not in a.output + b.output and "scheduling failed" not in a.output + b.output
    assert_each_alert_once(webhook.requests)
