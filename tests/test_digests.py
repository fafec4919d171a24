"""Digests: schedules across DST, one message per (digest, period), nothing lost or listed twice.

The day-long runs use a controllable clock and the real store on SQLite and PostgreSQL
(``database_url``); two "processes" are two engines with their own memory, one of them
restarted midway, both down when a period ends. The digests are then delivered by the
real dispatcher to a local webhook receiver. The command line (`monitor digest preview`
and `send`) runs as a subprocess against a local receiver.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
import re
import string
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import monitor, one_line_error, write_config
from receivers import SmtpReceiver, WebhookReceiver, sample_digest
from sqlalchemy.engine import Engine

from monitor import digests
from monitor.alerts import digest, outbox
from monitor.alerts.schedule import Period, parse_schedule
from monitor.config import Config, parse_config
from monitor.model import Document, Routes, TopicMatch
from monitor.service import alert_channels
from monitor.store import repository
from monitor.store.db import create_engine, transaction, upgrade
from monitor.store.tables import Alert, Feed
from monitor.stories import StoryRules, story_features

BERLIN = "daily 08:00 Europe/Berlin"
START = datetime(2026, 3, 28, 5, 0, tzinfo=UTC)  # the night of 28/29 March: Berlin springs forward
END = datetime(2026, 3, 30, 9, 0, tzinfo=UTC)
TICK = timedelta(minutes=5)


def z(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- schedules (pure) ----------------------------------------------------------------------


def test_a_daily_period_across_the_spring_dst_change_lasts_23_hours_and_ends_at_8_local() -> None:
    schedule = parse_schedule(BERLIN)
    assert schedule.period_of(z("2026-03-29T05:59:59Z")) == Period(z("2026-03-28T07:00:00Z"), z("2026-03-29T06:00:00Z"))
    assert schedule.period_of(z("2026-03-29T06:00:00Z")).start == z("2026-03-29T06:00:00Z")  # 08:00 CEST
    autumn = schedule.period_of(z("2026-10-25T06:30:00Z"))
    assert autumn == Period(z("2026-10-24T06:00:00Z"), z("2026-10-25T07:00:00Z"))  # 25 hours
    assert schedule.last_complete(z("2026-03-29T06:00:00Z")).end == z("2026-03-29T06:00:00Z")


def test_weekly_and_hourly_periods() -> None:
    weekly = parse_schedule("weekly mon 09:00 Asia/Jakarta")
    saturday = z("2026-12-05T12:00:00Z")
    assert weekly.period_of(saturday) == Period(z("2026-11-30T02:00:00Z"), z("2026-12-07T02:00:00Z"))
    assert weekly.period_of(z("2026-11-30T01:59:00Z")).start == z("2026-11-23T02:00:00Z")
    assert str(weekly) == "weekly mon 09:00 Asia/Jakarta"
    hourly = parse_schedule("hourly")
    assert hourly.last_complete(z("2026-12-05T12:00:00Z")) == Period(z("2026-12-05T11:00:00Z"), saturday)


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ("monthly", "expected 'hourly', 'daily HH:MM [ZONE]' or 'weekly DAY HH:MM [ZONE]'"),
        ("daily 8", "the time must be HH:MM"),
        ("daily 24:00 UTC", "the time must be HH:MM"),
        ("weekly someday 09:00", "the day must be one of mon, tue"),
        ("daily 08:00 Europe/Atlantis", "unknown time zone 'Europe/Atlantis'; use an IANA name"),
        ("hourly UTC", "'hourly' takes nothing after it"),
    ],
)
def test_a_bad_schedule_is_one_line_naming_the_key_and_line(schedule: str, message: str) -> None:
    text = f"""topics: [{{name: A, query: a}}]
alerts:
  webhooks: [{{name: hook, url: "http://127.0.0.1:9/hook"}}]
  digests:
    - name: morning
      channel: webhook:hook
      topics: [A]
      schedule: "{schedule}"
"""
    with pytest.raises(Exception) as raised:
        parse_config(text, "monitor.yaml")
    (line,) = str(raised.value).splitlines()
    assert line.startswith("monitor.yaml: alerts.digests.0.schedule (line 8): ") and message in line


def test_a_digest_naming_an_unknown_topic_or_channel_is_refused_with_its_line() -> None:
    text = """topics: [{name: A, query: a}]
alerts:
  webhooks: [{name: hook, url: "http://127.0.0.1:9/hook"}]
  operator: webhook:ops
  digests:
    - {name: morning, channel: webhook:nope, topics: [A, B], schedule: hourly}
"""
    with pytest.raises(Exception) as raised:
        parse_config(text, "monitor.yaml")
    assert str(raised.value).splitlines() == [
        "monitor.yaml: alerts.operator (line 4): unknown channel 'webhook:ops' (channels: webhook:hook)",
        "monitor.yaml: alerts.digests.0.channel (line 6): digest 'morning': unknown channel 'webhook:nope' "
        "(channels: webhook:hook)",
        "monitor.yaml: alerts.digests.0.topics.1 (line 6): digest 'morning': unknown topic 'B'",
    ]


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


def article(n: int, at: datetime, feed_id: int = 1) -> repository.NewArticle:
    rng = random.Random(n)
    words = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(4, 9))) for _ in range(120)]
    doc = Document(
        title=f"Story {n}: {' '.join(words[:4])}",
        text="\n".join(" ".join(words[line * 15 : line * 15 + 15]) + "." for line in range(8)),
        language="en",
    )
    return repository.NewArticle(
        feed_id=feed_id,
        guid=f"g{n}",
        url=f"https://news{feed_id}.example/{n}",
        title=doc.title,
        text=doc.text,
        language="en",
        published_at=at,
        features=story_features(doc, at),
        text_hash=f"h{n}",
    )


def hit(topic: str) -> TopicMatch:
    return TopicMatch(topic, 0.9, (topic.lower(),), clause=topic.lower(), snippet=f"the <mark>{topic}</mark> news")


@dataclass
class Process:
    """One worker: its own engine and its own memory of the periods it settled."""

    url: str
    engine: Engine | None = None
    done: dict[str, Period] = field(default_factory=dict)

    def start(self) -> None:
        self.engine, self.done = create_engine(self.url), {}

    def stop(self) -> None:
        assert self.engine is not None
        self.engine.dispose()
        self.engine = None


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
        up = [p for p in (a, b) if p.engine is not None]
        while n < len(story_times) and story_times[n] <= now and up:
            topic = topics[n % 3]
            assert up[0].engine is not None
            result = repository.store_article(
                up[0].engine, article(n, story_times[n]), (hit(topic),), config.routes(), StoryRules(), story_times[n]
            )
            assert result is not None and result.new_story
            stored[result.story_id] = (topic, story_times[n])
            n += 1
        for process in up:
            assert process.engine is not None
            digests.queue_due(process.engine, config.alerts.digests, now, process.done)
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
        return await outbox.Dispatcher(engine, channels, config.alerts, "test").deliver_due()


def test_a_period_without_new_stories_sends_nothing(engine: Engine, webhook: WebhookReceiver) -> None:
    config = digest_config(webhook.url)
    at = z("2026-12-04T10:00:00Z")
    repository.store_article(engine, article(1, at), (hit("Elsewhere"),), Routes(), StoryRules(), at)
    assert digests.queue_due(engine, config.alerts.digests, z("2026-12-05T09:00:00Z"), {}) == 0
    assert digest_rows(engine) == []


# --- the command line ------------------------------------------------------------------------


def test_digest_preview_and_send_from_the_command_line(tmp_path: Path, webhook: WebhookReceiver) -> None:
    url = f"sqlite:///{tmp_path / 'monitor.db'}"
    engine = create_engine(url)
    upgrade(engine)
    with transaction(engine) as session:
        session.add(Feed(id=1, name="harbour-news", url="https://news1.example/feed"))
    now = datetime.now(UTC)
    for n, topic in enumerate(("Harbour", "Railway", "Harbour")):
        at = now - timedelta(seconds=30 * (3 - n))
        repository.store_article(engine, article(n, at), (hit(topic),), Routes(), StoryRules(), at)
    engine.dispose()
    config = write_config(
        tmp_path,
        url,
        [],
        topics=[{"name": "Harbour", "query": "harbour"}, {"name": "Railway", "query": "railway"}],
        alerts={
            "webhooks": [{"name": "team", "url": webhook.url}],
            # Weekly: the three stories are in the period in progress whatever the hour.
            "digests": [
                {
                    "name": "week",
                    "channel": "webhook:team",
                    "topics": ["Railway", "Harbour"],
                    "schedule": "weekly mon 00:00 UTC",
                }
            ],
        },
    )
    preview = monitor("--config", config, "digest", "preview", "week")
    assert preview.returncode == 0, preview.stderr
    text = preview.stdout
    assert text.startswith("Digest week (weekly mon 00:00 UTC)\n3 new stories in 2 topics")
    assert text.index("== Railway (1) ==") < text.index("== Harbour (2) ==")  # in the configured order
    assert text.index("Story 2:") < text.index("Story 0:"), "newest first"
    assert webhook.requests == []

    sent = monitor("--config", config, "digest", "send", "week")
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.strip() == "digest week: 3 stories sent to webhook:team"
    (request,) = webhook.requests
    body = json.loads(request.body)
    assert body["type"] == "monitor.digest" and body["digest"] == "week" and body["story_count"] == 3
    assert request.headers["idempotency-key"] == body["idempotency_key"]

    again = monitor("--config", config, "digest", "send", "week")
    assert again.stdout.strip() == "digest week: already sent for this period; `monitor alerts` shows it"
    assert len(webhook.requests) == 1
    assert (
        one_line_error(monitor("--config", config, "digest", "preview", "nope"))
        == "error: no digest named 'nope'; the digests are: week"
    )


# --- what a digest looks like -----------------------------------------------------------------

DOCS = Path(__file__).resolve().parent.parent / "docs" / "alerts.md"


def documented(heading: str, language: str) -> str:
    """The first ``language`` code block after ``heading`` in docs/alerts.md."""
    doc = DOCS.read_text(encoding="utf-8")
    found = re.search(rf"```{language}\n(.*?)```", doc[doc.index(heading) :], re.DOTALL)
    assert found, f"docs/alerts.md lost its {language} example under {heading!r}"
    return found.group(1)


def test_the_documented_digest_is_what_is_sent() -> None:
    content = sample_digest()
    assert json.loads(documented("### Digest webhook payload", "json")) == digest.webhook_payload(content)
    assert documented("### Digest email and text", "text") == digest.text(content)
    assert f"Subject `{digest.subject(content.digest)}`" in DOCS.read_text(encoding="utf-8")
    assert digest.from_payload(content.digest.to_payload()) == content.digest  # stored and read back unchanged


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
    hostile = dataclasses.replace(article(7, at), title="<script>alert(1)</script> Harbour & more")
    repository.store_article(engine, hostile, (hit("Harbour"),), config.routes(), StoryRules(), at)
    assert digests.queue_due(engine, config.alerts.digests, z("2026-12-04T11:05:00Z"), {}) == 1  # 18:00 WIB
    assert asyncio.run(deliver(config, engine)).delivered == 1
    (mail,) = smtp.wait_for(1)
    message = mail.message
    assert message["Subject"] == "[monitor] evening digest: 1 new story, 2026-12-04 18:00 Asia/Jakarta"
    assert message["X-Monitor-Digest"] == "evening"
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and html is not None
    assert "1. <script>alert(1)</script> Harbour & more" in text.get_content()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Harbour &amp; more" in html.get_content()
    assert "<script>" not in html.get_content()
