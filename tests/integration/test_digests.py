"""Digests: one message per (digest, period) across DST, a restart and two processes; nothing lost or listed twice.

The day-long runs use a controllable clock and the real store on SQLite and PostgreSQL
(``database_url``); two "processes" are two stores on their own engines with their own
memory, one of them restarted midway, both down when a period ends. The digests are then
delivered by the real dispatcher to a local webhook or SMTP receiver.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from receivers import SmtpReceiver, WebhookReceiver
from sqlalchemy.engine import Engine
from synthetic import article, hit, new_article, z

from monitor import digests
from monitor.alerts import outbox
from monitor.alerts.schedule import Period
from monitor.config import Config, parse_config
from monitor.model import Routes
from monitor.service import alert_channels, delivery_policy
from monitor.store import repository
from monitor.store.db import create_engine, transaction, upgrade
from monitor.store.sql import SqlStore
from monitor.store.tables import Alert, Feed
from monitor.stories.stage import AssignStory

BERLIN = "daily 08:00 Europe/Berlin"
START = datetime(2026, 3, 28, 5, 0, tzinfo=UTC)  # the night of 28/29 March: Berlin springs forward
END = datetime(2026, 3, 30, 9, 0, tzinfo=UTC)
TICK = timedelta(minutes=5)


# --- a day and a half of stories, two processes, a restart, a DST change -------------------


def digest_config(receiver_url: str, database: str = "sqlite://") -> Config:
    return parse_config(
        f"""
database: "{database}"
topics:
  - {{name: Harbour, query: harbour, channels: []}}  # digest only: no instant alerts
  - {{name: Railway, query: railway, channels: []}}
  - {{name: Elsewhere, query: elsewhere, channels: []}}
alerts:
  webhooks: [{{name: team, url: "{receiver_url}"}}]
  digests:
    - {{name: morning, channel: "webhook:team", topics: [Harbour, Railway], schedule: "{BERLIN}"}}
    - {{name: hourly, channel: "webhook:team", topics: [Railway], schedule: hourly}}
""",
        "digests.yaml",
    )


@dataclass
class Process:
    """One worker: its own store (engine) and its own memory of the periods it settled."""

    url: str
    store: SqlStore | None = None
    done: dict[str, Period] = field(default_factory=dict)

    def start(self) -> None:
        self.store, self.done = SqlStore(create_engine(self.url)), {}

    def stop(self) -> None:
        assert self.store is not None
        self.store.close()
        self.store = None


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_engine(database_url)
    upgrade(engine)
    with transaction(engine) as session:
        session.add(Feed(id=1, name="harbour-news", url="https://news1.example/feed"))
        session.add(Feed(id=2, name="rail-news", url="https://news2.example/feed"))
    yield engine
    engine.dispose()


def digest_rows(engine: Engine) -> list[Alert]:
    with transaction(engine) as session:
        rows = session.execute(sa.select(Alert).where(Alert.kind == "digest").order_by(Alert.id)).scalars().all()
        session.expunge_all()
        return list(rows)


def run_two_processes(url: str, config: Config) -> dict[int, tuple[str, datetime]]:
    """From START to END in 5-minute ticks: stories stored as their time comes, each process
    queueing due digests at every tick while it is up. Returns story id -> (topic, stored at)."""
    a, b = Process(url), Process(url)
    a.start()
    b.start()
    topics = ("Harbour", "Railway", "Elsewhere")
    stored: dict[int, tuple[str, datetime]] = {}  # story id -> (topic, matched at)
    story_times = [START + timedelta(minutes=37 * n + 3) for n in range(80)]
    now, n = START, 0
    while now <= END:
        # A restarts at 03:00 UTC (just after the DST change); both are down at 08:00 Berlin time.
        if now == z("2026-03-29T03:00:00Z") or now == z("2026-03-29T05:40:00Z"):
            a.stop()
        if now == z("2026-03-29T03:30:00Z") or now == z("2026-03-29T09:10:00Z"):
            a.start()
        if now == z("2026-03-29T05:30:00Z"):
            b.stop()
        if now == z("2026-03-29T10:00:00Z"):
            b.start()
        up = [p.store for p in (a, b) if p.store is not None]
        while n < len(story_times) and story_times[n] <= now and up:
            topic = topics[n % 3]
            result = repository.store_article(
                up[0].engine,
                article(n, story_times[n], matches=[hit(topic)]),
                config.routes(),
                AssignStory(),
                story_times[n],
            )
            assert result is not None and result.new_story
            stored[result.story_id] = (topic, story_times[n])
            n += 1
        for process in (a, b):
            if process.store is not None:
                digests.queue_due(process.store, config.alerts.digests, now, process.done)
        now += TICK
    a.stop()
    b.stop()
    return stored


def test_a_day_of_stories_gives_one_digest_per_period_across_restart_two_processes_and_dst(
    engine: Engine, database_url: str, webhook: WebhookReceiver
) -> None:
    config = digest_config(webhook.url)
    stored = run_two_processes(database_url, config)

    rows = digest_rows(engine)
    assert len({r.key for r in rows}) == len(rows)
    payloads = [(r.topic, json.loads(r.payload or "")) for r in rows]
    morning = [p for name, p in payloads if name == "morning"]
    assert [(p["period"]["start"], p["period"]["end"]) for p in morning] == [
        ("2026-03-27T07:00:00Z", "2026-03-28T07:00:00Z"),
        ("2026-03-28T07:00:00Z", "2026-03-29T06:00:00Z"),  # 23 hours: 08:00 CET to 08:00 CEST
        ("2026-03-29T06:00:00Z", "2026-03-30T06:00:00Z"),
    ]
    hourly = [p for name, p in payloads if name == "hourly"]
    starts = [p["period"]["start"] for p in hourly]
    assert len(starts) == len(set(starts))
    # Both were down from 05:40 to 09:10: the hours that ended meanwhile are one digest, sent at 09:10.
    missed = next(p for p in hourly if p["period"]["start"] == "2026-03-29T08:00:00Z")
    assert missed["covers"]["since"] < "2026-03-29T06:00:00Z" and missed["covers"]["until"] == "2026-03-29T09:00:00Z"
    assert not any("2026-03-29T06:00:00Z" <= s < "2026-03-29T08:00:00Z" for s in starts)
    for name in ("morning", "hourly"):  # each digest starts where the one before ended: no gap, no overlap
        chain = [p["covers"] for n, p in payloads if n == name]
        assert [c["since"] for c in chain[1:]] == [c["until"] for c in chain[:-1]]

    for name, wanted in (("morning", {"Harbour", "Railway"}), ("hourly", {"Railway"})):
        listed = Counter(
            story["id"]
            for _, p in ((n, p) for n, p in payloads if n == name)
            for topic in p["topics"]
            for story in topic["stories"]
        )
        until = max(p["covers"]["until"] for n, p in payloads if n == name)
        expected = {s for s, (topic, at) in stored.items() if topic in wanted and at < z(until)}
        assert set(listed) == expected, f"{name}: every story of its topics in exactly one digest"
        assert max(listed.values()) == 1, f"{name}: a story listed twice"
    for _, p in payloads:
        for topic in p["topics"]:
            times = [s["matched_at"] for s in topic["stories"]]
            assert times == sorted(times, reverse=True), "newest first"

    asyncio.run(deliver(config, engine))
    received = [json.loads(r.body) for r in webhook.requests]
    assert Counter(r["type"] for r in received) == {"monitor.digest": len(rows)}
    assert sorted(r["idempotency_key"] for r in received) == sorted(f"monitor-digest-{r.id}" for r in rows)


async def deliver(config: Config, engine: Engine) -> outbox.DeliveryStats:
    async with alert_channels(config) as channels:
        return await outbox.Dispatcher(SqlStore(engine), channels, delivery_policy(config.alerts), "test").deliver_due()


def test_a_period_without_new_stories_sends_nothing(engine: Engine, webhook: WebhookReceiver) -> None:
    config = digest_config(webhook.url)
    at = z("2026-12-04T10:00:00Z")
    repository.store_article(engine, article(1, at, matches=[hit("Elsewhere")]), Routes(), AssignStory(), at)
    assert digests.queue_due(SqlStore(engine), config.alerts.digests, z("2026-12-05T09:00:00Z"), {}) == 0
    assert digest_rows(engine) == []


def test_an_email_digest_has_a_text_and_an_html_part_with_every_value_escaped(
    engine: Engine, smtp: SmtpReceiver
) -> None:
    config = parse_config(
        f"""
topics: [{{name: Harbour, query: harbour, channels: []}}]
alerts:
  email: {{host: 127.0.0.1, port: {smtp.port}, sender: monitor@example.org, recipients: [comms@example.org],
          starttls: false}}
  digests: [{{name: evening, channel: email, topics: [Harbour], schedule: "daily 18:00 Asia/Jakarta"}}]
""",
        "email.yaml",
    )
    at = z("2026-12-04T09:00:00Z")
    plain = article(7, at)
    document = dataclasses.replace(plain.document, title="<script>alert(1)</script> Harbour & more")
    hostile = new_article(document, plain.url, published_at=at, matches=[hit("Harbour")])
    repository.store_article(engine, hostile, config.routes(), AssignStory(), at)
    assert digests.queue_due(SqlStore(engine), config.alerts.digests, z("2026-12-04T11:05:00Z"), {}) == 1  # 18:00 WIB
    assert asyncio.run(deliver(config, engine)).delivered == 1
    (mail,) = smtp.wait_for(1)
    message = mail.message
    assert message["Subject"] == "[monitor] evening digest: 1 new story, 2026-12-04 18:00 Asia/Jakarta"
    assert message["X-Monitor-Digest"] == "evening"
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and html is not None
    assert "1. <script>alert(1)</script> Harbour & more" in text.get_content()
    assert " · 1 article from 1 outlet · " in text.get_content()  # its copies, and the feeds they came from
    assert "1 article from 1 outlet &middot;" in html.get_content()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Harbour &amp; more" in html.get_content()
    assert "<script>" not in html.get_content()
