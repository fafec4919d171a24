"""The whole service through its command line, against real servers on 127.0.0.1.

A local site publishes the five seed documents as an RSS feed with HTML pages; a
webhook receiver and an SMTP server take the alerts. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import HOOK_SECRET, ROOT, alert_sections, monitor
from hostile import HostileServer, drip, stall_after_headers
from receivers import SmtpReceiver, WebhookReceiver, closed_port
from seedsite import publish, seeds

from monitor.alerts.webhook import verify_signature

EXPECTED_ALERTS_PER_CHANNEL = 7  # ByteDance AI: 3 stories, Doubao: 2, TikTok ban: 2


def query(config: Path, *args: str) -> list[dict[str, Any]]:
    result = monitor("--config", config, *args, "--format", "json", "--limit", "500")
    assert result.returncode == 0, result.stderr
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def seed_of(url: str) -> str:
    return url.rsplit("/", 1)[-1].removesuffix(".html")


def test_seed_feed_end_to_end(
    database_url: str,
    site: HostileServer,
    webhook: WebhookReceiver,
    smtp: SmtpReceiver,
    make_config: Any,
) -> None:
    config = make_config(database_url, [{"name": "seeds", "url": publish(site)}], **alert_sections(webhook, smtp))

    first = monitor("--config", config, "poll")
    assert first.returncode == 0, first.stderr
    assert "✓ seeds: 5 entries, 5 new, 5 stored" in first.stdout
    assert f"{EXPECTED_ALERTS_PER_CHANNEL * 2} alerts delivered" in first.stdout

    # Every seed is stored, and matches exactly the topics labels.yaml gives it.
    articles = query(config, "articles")
    assert sorted(seed_of(a["url"]) for a in articles) == [s.name for s in seeds()]
    assert {seed_of(a["url"]): a["language"] for a in articles} == {s.name: s.language for s in seeds()}
    found: dict[str, set[str]] = {}
    for row in query(config, "matches"):
        found.setdefault(seed_of(row["url"]), set()).add(row["topic"])
        assert row["terms"] and 0 < row["score"] <= 1 and "<mark>" in row["snippet"]
    assert found == {s.name: set(s.topics) for s in seeds()}

    # Copies and translations of one event form one story.
    grouping = {frozenset(seed_of(a["url"]) for a in story["articles"]) for story in query(config, "stories")}
    expected: dict[str, set[str]] = {}
    for s in seeds():
        expected.setdefault(s.story, set()).add(s.name)
    assert grouping == {frozenset(names) for names in expected.values()}

    # One alert per (topic, story, channel), each delivered once, signed.
    hooks = webhook.wait_for(EXPECTED_ALERTS_PER_CHANNEL)
    assert len(hooks) == EXPECTED_ALERTS_PER_CHANNEL
    for request in hooks:
        assert verify_signature(
            HOOK_SECRET,
            request.headers["x-monitor-timestamp"],
            request.body,
            request.headers["x-monitor-signature"],
        )
    bodies = [json.loads(r.body) for r in hooks]
    assert Counter(b["topic"] for b in bodies) == {"ByteDance AI": 3, "Doubao": 2, "TikTok ban": 2}
    assert len({r.headers["idempotency-key"] for r in hooks}) == EXPECTED_ALERTS_PER_CHANNEL
    mails = smtp.wait_for(EXPECTED_ALERTS_PER_CHANNEL)
    assert len(mails) == EXPECTED_ALERTS_PER_CHANNEL
    assert all(a["status"] == "delivered" and a["attempts"] == 1 for a in query(config, "alerts"))

    # A second poll: the unchanged feed answers 304 and nothing is alerted again.
    second = monitor("--config", config, "poll")
    assert second.returncode == 0, second.stderr
    assert "✓ seeds: not modified" in second.stdout
    assert [f["last_status"] for f in query(config, "feeds")] == ["not modified"]
    assert len(webhook.requests) == EXPECTED_ALERTS_PER_CHANNEL
    assert len(smtp.messages) == EXPECTED_ALERTS_PER_CHANNEL


def test_down_receiver_gets_every_alert_once_after_it_recovers(
    tmp_path: Path,
    site: HostileServer,
    webhook: WebhookReceiver,
    smtp: SmtpReceiver,
    make_config: Any,
) -> None:
    sections = alert_sections(webhook, smtp)
    sections["alerts"]["first_retry"] = "1s"
    config = make_config(f"sqlite:///{tmp_path / 'm.db'}", [{"name": "seeds", "url": publish(site)}], **sections)
    webhook.fail_next(EXPECTED_ALERTS_PER_CHANNEL, status=500)

    first = monitor("--config", config, "poll")
    assert first.returncode == 0, first.stderr
    assert f"{EXPECTED_ALERTS_PER_CHANNEL} waiting to retry" in first.stdout
    waiting = query(config, "alerts", "--status", "pending")
    assert len(waiting) == EXPECTED_ALERTS_PER_CHANNEL
    assert all("500" in a["last_error"] and a["channel"] == "webhook:receiver" for a in waiting)

    time.sleep(2.5)  # past first_retry
    second = monitor("--config", config, "poll")
    assert second.returncode == 0, second.stderr
    delivered = webhook.delivered
    assert len(delivered) == EXPECTED_ALERTS_PER_CHANNEL
    assert len({r.headers["idempotency-key"] for r in delivered}) == EXPECTED_ALERTS_PER_CHANNEL
    assert query(config, "alerts", "--status", "pending") == []
    assert len(smtp.messages) == EXPECTED_ALERTS_PER_CHANNEL  # email was never down: sent once


def test_alerts_of_a_killed_process_are_delivered_after_restart(
    tmp_path: Path,
    site: HostileServer,
    webhook: WebhookReceiver,
    smtp: SmtpReceiver,
    make_config: Any,
) -> None:
    items = seeds()
    publish(site, items=items)
    # The last page drips forever: the daemon stores the first matches, then hangs on it.
    slow_page = f"/news/{items[-1].name}.html"
    normal_page = site.routes[slow_page]
    site.route(slow_page, drip(b"<html>" + b" " * 10_000, interval=0.5))
    sections = alert_sections(webhook, smtp)
    sections["fetch"] = {"allow_networks": ["127.0.0.0/8"], "timeout": "60s"}
    sections["alerts"]["first_retry"] = "1s"
    feeds = [{"name": "seeds", "url": site.url("/feed.xml")}]
    config = make_config(f"sqlite:///{tmp_path / 'm.db'}", feeds, **sections)
    # Delivery runs beside polling: while the killed process ran, both receivers were
    # unreachable (same channel names, closed ports), so its alerts were still queued.
    down = json.loads(json.dumps(sections))
    down["alerts"]["webhooks"][0]["url"] = f"http://127.0.0.1:{closed_port()}/hook"
    down["alerts"]["email"]["port"] = closed_port()
    config_down = make_config(f"sqlite:///{tmp_path / 'm.db'}", feeds, **down)

    daemon = subprocess.Popen(
        [sys.executable, "-m", "monitor", "--config", str(config_down), "run"],
        cwd=ROOT,
        env={**os.environ, "HOOK_SECRET": HOOK_SECRET},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(query(config, "matches")) < 4:
            time.sleep(0.3)
        stored = query(config, "matches")
        assert len(stored) >= 4, "the daemon never stored the first matches"
        assert webhook.requests == [] and smtp.messages == []  # nothing could be sent yet
    finally:
        daemon.send_signal(signal.SIGKILL)
        daemon.wait(10)

    pending = query(config, "alerts", "--status", "pending")
    assert pending, "the outbox rows were written with the matches"
    time.sleep(1.5)  # alerts.first_retry: the failed attempts are due again
    # The killed process's feed is polled at once (its lease released), the last page now answering.
    site.route(slow_page, normal_page)
    restarted = monitor("--config", config, "poll")
    assert restarted.returncode == 0, restarted.stderr
    queued_keys = {(a["topic"], a["story_id"]) for a in pending if a["channel"] == "webhook:receiver"}
    sent_keys = {(json.loads(r.body)["topic"], json.loads(r.body)["story"]["id"]) for r in webhook.delivered}
    assert queued_keys <= sent_keys, "every alert queued before the kill was delivered after the restart"
    assert query(config, "alerts", "--status", "pending") == []


def test_bad_feeds_are_recorded_and_the_good_one_is_still_processed(
    tmp_path: Path, site: HostileServer, make_config: Any
) -> None:
    good = publish(site)
    site.serve("/not-xml", b"this is { not a feed", headers={"content-type": "application/rss+xml"})
    site.serve("/gone", b"no", status=404)
    site.route("/stall", stall_after_headers())
    page_feed = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        b"<item><title>ByteDance AI chatbot Doubao news</title><link>" + site.url("/binary.pdf").encode() + b"</link>"
        b"<guid>pdf-1</guid><description>ByteDance launches the Doubao AI chatbot for everyone.</description></item>"
        b"</channel></rss>"
    )
    site.serve("/pdf-feed", page_feed, headers={"content-type": "application/rss+xml"})
    site.serve("/binary.pdf", b"%PDF-1.4 \x00\x01\x02 binary", headers={"content-type": "application/pdf"})
    feeds = [
        {"name": "seeds", "url": good},
        {"name": "not-xml", "url": site.url("/not-xml")},
        {"name": "gone", "url": site.url("/gone")},
        {"name": "stalls", "url": site.url("/stall")},
        {"name": "pdf-link", "url": site.url("/pdf-feed")},
    ]
    config = make_config(
        f"sqlite:///{tmp_path / 'm.db'}",
        feeds,
        fetch={"allow_networks": ["127.0.0.0/8"], "timeout": "2s"},
    )

    started = time.monotonic()
    result = monitor("--config", config, "poll")
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 30
    lines = {line.split(":")[0]: line for line in result.stdout.splitlines()}
    assert lines["✓ seeds"].startswith("✓ seeds: 5 entries, 5 new, 5 stored")
    assert "not a feed" in lines["✗ not-xml"]
    assert "404" in lines["✗ gone"]
    assert "2 s" in lines["✗ stalls"] or "deadline" in lines["✗ stalls"] or "time" in lines["✗ stalls"]
    assert "1 stored" in lines["✓ pdf-link"]  # the page was no HTML: the feed's own text was used
    assert "3 failed" in result.stdout

    status = {f["name"]: f for f in query(config, "feeds")}
    assert status["seeds"]["error_count"] == 0
    for name in ("not-xml", "gone", "stalls"):
        assert status[name]["error_count"] == 1 and status[name]["last_error"]
    assert {f["name"] for f in query(config, "feeds", "--failing")} == {"not-xml", "gone", "stalls"}
    assert "Doubao" in {m["topic"] for m in query(config, "matches") if m["title"].startswith("ByteDance AI chatbot")}


def test_bad_config_exits_2_with_one_line_per_problem(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(
        "database: sqlite:///x.db\nfeeds:\n  - url: ftp://nowhere\n"
        "topics:\n  - name: t\n    qurey: x\nfetch:\n  timeout: soon\n",
        encoding="utf-8",
    )
    result = monitor("--config", config, "check-config")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    errors = result.stderr.strip().splitlines()
    assert any("feeds.0.url (line 3)" in e and "http" in e for e in errors)
    assert any("topics.0.qurey (line 6)" in e and "unknown key" in e for e in errors)
    assert any("fetch.timeout (line 8)" in e and "duration" in e for e in errors)
    assert all(e.startswith("error: ") for e in errors)

    missing = monitor("--config", tmp_path / "nope.yaml", "poll")
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "no such config file" in missing.stderr


def test_bad_query_is_refused_with_topic_and_column(tmp_path: Path, make_config: Any) -> None:
    config = make_config(
        f"sqlite:///{tmp_path / 'm.db'}",
        [],
        topics=[{"name": "Broken", "query": "TikTok AND (ban OR"}],
    )
    result = monitor("--config", config, "check-config")
    assert result.returncode == 2, result.stdout
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert '"Broken"' in result.stderr and "column" in result.stderr

    adhoc = monitor("match", "--query", "NOT NOT", str(ROOT / "seeds" / "000_dc6b95992fa60b00.txt"))
    assert adhoc.returncode == 2 and adhoc.stderr.startswith("error: ") and "column" in adhoc.stderr


@pytest.mark.parametrize("seed", seeds(), ids=lambda s: s.name[:3])
def test_match_command_on_each_seed_gives_its_labelled_topics(seed: Any) -> None:
    result = monitor("match", "--json", str(ROOT / "seeds" / seed.name))
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert {m["topic"] for m in found["matches"]} == set(seed.topics)
    assert found["language"] == seed.language
