"""Prometheus metrics as an operator reads them: scraped over HTTP from a running monitor.

The daemon polls the seeds' local site and alerts a local webhook receiver; its
/metrics must then tell what happened (polls, articles, stories, matches per topic,
alerts per channel and outcome) with no label that names a URL or an article.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from conftest import HOOK_SECRET, ROOT, monitor, one_line_error
from hostile import HostileServer
from prometheus_client.parser import text_string_to_metric_families
from receivers import WebhookReceiver, closed_port
from seedsite import publish, seeds

from monitor.config import load_config
from monitor.service import open_store, serving_metrics
from monitor.store.utc import utcnow

SEED_ALERTS = 7  # ByteDance AI: 3 stories, Doubao: 2, TikTok ban: 2
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scrape(url: str) -> Samples:
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"after {timeout:.0f} s still waiting for {what}"
        time.sleep(0.2)


def test_metrics_tell_what_the_seed_poll_did(
    tmp_path: Path, site: HostileServer, webhook: WebhookReceiver, make_config: Callable[..., Path]
) -> None:
    port = free_port()
    config = make_config(
        f"sqlite:///{tmp_path / 'monitor.db'}",
        [{"name": "seeds", "url": publish(site)}],
        alerts={"webhooks": [{"url": webhook.url, "secret": "${HOOK_SECRET}", "name": "receiver"}]},
        metrics={"listen": f"127.0.0.1:{port}"},
    )
    url = f"http://127.0.0.1:{port}/metrics"
    log = tmp_path / "daemon.log"
    with log.open("wb") as err:
        daemon = subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(config), "run"],
            cwd=ROOT,
            env={**os.environ, "HOOK_SECRET": HOOK_SECRET},
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
        try:
            wait_until(lambda: len(webhook.delivered) >= SEED_ALERTS, 90, "the seed alerts")
            # Delivery is marked in the database just after the receiver answered.
            wait_until(
                lambda: (
                    value(scrape(url), "monitor_alerts_total", channel="webhook:receiver", status="delivered")
                    >= SEED_ALERTS
                ),
                10,
                "the deliveries to be counted",
            )
            samples = scrape(url)
        finally:
            daemon.send_signal(signal.SIGTERM)
            assert daemon.wait(timeout=30) == 0, log.read_text()
    assert f"metrics at {url}" in log.read_text()

    stories = {s.story for s in seeds()}
    assert value(samples, "monitor_feed_polls_total", outcome="ok") == 1
    assert value(samples, "monitor_feed_polls_total", outcome="error") == 0
    assert value(samples, "monitor_articles_stored_total") == len(seeds())
    assert value(samples, "monitor_stories_total") == len(stories)
    # The German and French reports of the Indonesian story joined it: the same event, in other words.
    assert value(samples, "monitor_duplicates_total", level="same event") == len(seeds()) - len(stories)
    assert value(samples, "monitor_duplicates_total", level="same item") == 0
    per_topic = {t: sum(t in s.topics for s in seeds()) for t in ("ByteDance AI", "Doubao", "TikTok ban")}
    assert {t: value(samples, "monitor_matches_total", topic=t) for t in per_topic} == per_topic
    for status, count in (("queued", SEED_ALERTS), ("delivered", SEED_ALERTS), ("retried", 0), ("failed", 0)):
        assert value(samples, "monitor_alerts_total", channel="webhook:receiver", status=status) == count, status
    assert value(samples, "monitor_fetch_seconds_count", kind="feed") >= 1
    assert value(samples, "monitor_fetch_seconds_count", kind="page") == len(seeds())
    assert value(samples, "monitor_time_to_alert_seconds_count", since="first_sight") == SEED_ALERTS
    # The seeds were published in 2024: from publication, every alert is in the last bucket.
    assert value(samples, "monitor_time_to_alert_seconds_count", since="publication") == SEED_ALERTS
    assert value(samples, "monitor_time_to_alert_seconds_bucket", since="publication", le="86400.0") == 0
    assert value(samples, "monitor_db_write_seconds_count", operation="articles") >= 1
    assert value(samples, "monitor_worker_restarts_total") == 0
    assert value(samples, "monitor_outbox_oldest_pending_seconds") == 0

    # Bounded label values only: nothing names a page, a feed URL or an article.
    labels = {(name, key, val) for name, pairs in samples for key, val in pairs}
    assert not [label for label in labels if "://" in label[2] or "/" in label[2]], labels
    assert {key for _, key, _ in labels} <= {
        "outcome",
        "kind",
        "level",
        "topic",
        "channel",
        "status",
        "since",
        "operation",
        "le",
        "version",
        "implementation",
        "major",
        "minor",
        "patchlevel",
        "generation",
    }


def test_backlog_gauges_show_undelivered_alerts_and_unclaimed_feeds(
    database_url: str, site: HostileServer, make_config: Callable[..., Path]
) -> None:
    down = f"http://127.0.0.1:{closed_port()}/hook"
    alerts = {"webhooks": [{"url": down, "name": "down"}], "first_retry": "1h"}
    seeds_feed = {"name": "seeds", "url": publish(site)}
    polled = monitor("--config", make_config(database_url, [seeds_feed], alerts=alerts), "poll")
    assert polled.returncode == 0, polled.stderr
    assert f"{SEED_ALERTS} waiting to retry" in polled.stdout

    # A feed added since: due at once, and held by nobody until a worker claims it.
    port = free_port()
    config = load_config(
        make_config(
            database_url,
            [seeds_feed, {"name": "new", "url": site.url("/new.xml")}],
            alerts=alerts,
            metrics={"listen": f"127.0.0.1:{port}"},
        )
    )
    store = open_store(config)
    store.sync_feeds(config.feeds, utcnow())
    time.sleep(1.1)
    try:
        with serving_metrics(config, store) as url:
            assert url == f"http://127.0.0.1:{port}/metrics"
            samples = scrape(url)
            assert httpx.get(url.replace("/metrics", "/"), timeout=10).status_code == 404
    finally:
        store.close()
    assert value(samples, "monitor_outbox_oldest_pending_seconds") >= 1
    assert value(samples, "monitor_feeds_due") == 1
    with pytest.raises(httpx.ConnectError):  # closed with the block
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)


def test_metrics_listen_beyond_loopback_needs_tokens(tmp_path: Path, make_config: Callable[..., Path]) -> None:
    config = make_config(f"sqlite:///{tmp_path / 'm.db'}", [], metrics={"listen": "0.0.0.0:9464"})
    line = one_line_error(monitor("--config", config, "run", timeout=60))
    assert "metrics.listen 0.0.0.0:9464 is reachable from other machines but api.tokens is empty" in line


def test_with_api_tokens_metrics_ask_for_one_on_both_endpoints(
    tmp_path: Path, make_config: Callable[..., Path]
) -> None:
    api, port = free_port(), free_port()
    token = "metrics-token-0123456789"
    config = make_config(
        f"sqlite:///{tmp_path / 'm.db'}",
        [],
        api={"listen": f"127.0.0.1:{api}", "tokens": [{"name": "prometheus", "token": token}]},
        metrics={"listen": f"127.0.0.1:{port}"},
    )
    log = tmp_path / "daemon.log"
    with log.open("wb") as err:
        daemon = subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(config), "run", "--serve"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
        try:
            for url in (f"http://127.0.0.1:{api}/metrics", f"http://127.0.0.1:{port}/metrics"):
                wait_until(lambda url=url: _answers(url), 60, f"{url} to answer")
                assert httpx.get(url, timeout=10).status_code == 401, url
                assert (
                    httpx.get(url, headers={"Authorization": "Bearer wrong-token-0123456789"}, timeout=10).status_code
                    == 401
                )
                shown = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
                assert shown.status_code == 200, url
                assert 'monitor_feed_polls_total{outcome="ok"} 0.0' in shown.text
                assert "monitor_outbox_oldest_pending_seconds 0.0" in shown.text
        finally:
            daemon.send_signal(signal.SIGTERM)
            assert daemon.wait(timeout=30) == 0, log.read_text()


def _answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=5)
    except httpx.TransportError:
        return False
    return True


def test_a_busy_metrics_port_is_one_line(tmp_path: Path, make_config: Callable[..., Path]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        config = make_config(f"sqlite:///{tmp_path / 'm.db'}", [], metrics={"listen": f"127.0.0.1:{port}"})
        line = one_line_error(monitor("--config", config, "run", timeout=60))
    assert f"metrics.listen 127.0.0.1:{port}: cannot listen there" in line
