"""Operator alerts: a feed failing for `polling.alert_after`, its recovery, an alert given up; once each.

The store-level runs use a controllable clock on SQLite and PostgreSQL; the command-line
run polls a real local feed server with `monitor poll` and delivers to a local receiver.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from receivers import WebhookReceiver
from sqlalchemy.engine import Engine
from test_story_store import ASSIGN_STORY, NOW, match, new_article, seed

from monitor.alerts import outbox
from monitor.config import Config, parse_config
from monitor.polling import PollOutcome
from monitor.service import alert_channels, delivery_policy
from monitor.store import polls, repository
from monitor.store.db import create_engine, transaction, upgrade
from monitor.store.interface import OperatorWatch, PollRecord
from monitor.store.sql import SqlStore
from monitor.store.tables import Feed
from monitor.store.utc import utcnow

FEED_URL = "https://kompas.example/feed"
DOCS = Path(__file__).resolve().parent.parent / "docs" / "alerts.md"


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_engine(database_url)
    upgrade(engine)
    with transaction(engine) as session:
        session.add(Feed(id=1, name="kompas", url=FEED_URL))
    yield engine
    engine.dispose()


def poll(at: datetime, error: str | None, failing_since: datetime | None) -> PollRecord:
    return PollRecord(
        feed_id=1,
        checked_at=at,
        outcome=PollOutcome.ERROR if error else PollOutcome.OK,
        error=error,
        next_check_at=at + timedelta(hours=1),
        interval=timedelta(hours=1),
        feed="kompas",
        url=FEED_URL,
        failing_since=failing_since,
    )


def operator_rows(engine: Engine) -> list[dict[str, object]]:
    return [json.loads(row["payload"]) for row in _rows(engine)]


def _rows(engine: Engine) -> list[dict[str, str]]:
    with transaction(engine) as session:
        found = session.connection().exec_driver_sql(
            "SELECT key, payload FROM alert WHERE kind = 'operator' ORDER BY id"
        )
        return [{"key": key, "payload": payload} for key, payload in found]


def test_a_failing_feed_is_told_once_when_it_has_failed_a_day_and_once_when_it_recovers(engine: Engine) -> None:
    watch = OperatorWatch("webhook:ops", timedelta(hours=24))
    down = "https://kompas.example/feed answered HTTP 503; the feed will be retried later"
    t0 = NOW
    # (hours after t0, error, when the failures began before this poll); two workers record some twice.
    timeline = [
        (0, down, None),
        (12, down, t0),
        (25, down, t0),  # a day of failures: told
        (25, down, t0),  # the same poll recorded again by another worker: not told again
        (26, down, t0),
        (27, None, t0),  # recovered: told
        (27, None, t0),
        (28, None, None),
        (30, down, None),  # a second run of failures, too short to tell
        (40, down, t0 + timedelta(hours=30)),
        (41, None, t0 + timedelta(hours=30)),  # recovered before anyone was told it failed: nothing
    ]
    for hours, error, since in timeline:
        polls.record_polls(engine, [poll(t0 + timedelta(hours=hours), error, since)], watch)
    told = operator_rows(engine)
    assert [(e["event"], e["subject"], e["since"]) for e in told] == [
        ("feed_failing", "kompas", "2024-10-22T08:00:00Z"),
        ("feed_recovered", "kompas", "2024-10-22T08:00:00Z"),
    ]
    assert told[0]["error"] == down and told[0]["at"] == "2024-10-23T09:00:00Z"
    with transaction(engine) as session:
        feed = session.get(Feed, 1)
        assert feed is not None and feed.failing_since is None and feed.error_count == 0


def alerts_config(team: str, ops: str) -> Config:
    return parse_config(
        f"""
topics: [{{name: ByteDance AI, query: bytedance}}]
alerts:
  channels:
    - {{name: ops, type: webhook, url: "{ops}", instant: false}}
  webhooks: [{{name: team, url: "{team}"}}]
  operator: ops
  retry_for: 1h
""",
        "operator.yaml",
    )


def test_an_alert_given_up_tells_the_operator_once_and_an_operator_alert_given_up_tells_nobody(
    engine: Engine,
) -> None:
    with WebhookReceiver() as team, WebhookReceiver() as ops:
        cfg = alerts_config(team.url, ops.url)
        stored = repository.store_article(
            engine,
            new_article(seed("000"), "https://kompas.example/1", matches=(match("ByteDance AI"),)),
            cfg.routes(),
            ASSIGN_STORY,
        )
        assert stored is not None and stored.alerts == 1  # to the team only: ops is not an instant channel
        team.fail_next(100)
        later = utcnow() + timedelta(hours=2)  # past alerts.retry_for: the next failure gives up
        first = asyncio.run(deliver(cfg, engine, lambda: later))
        assert (first.failed, first.delivered) == (1, 0)
        second = asyncio.run(deliver(cfg, engine, lambda: later))
        assert second.delivered == 1
        (told,) = [json.loads(r.body) for r in ops.requests]
        assert told["type"] == "monitor.operator" and told["event"] == "alert_failed"
        assert told["channel"] == "webhook:team" and "answered 500" in told["error"]
        assert told["summary"].startswith("match alert 1 (ByteDance AI) to webhook:team was given up after 1 attempts")
        # The operator's own channel failing for good is logged and shown, not told to itself.
        ops.fail_next(100)
        with transaction(engine) as session:
            session.connection().exec_driver_sql("UPDATE alert SET status = 'pending', attempts = 0 WHERE id = 2")
        assert asyncio.run(deliver(cfg, engine, lambda: later)).failed == 1
        assert asyncio.run(deliver(cfg, engine, lambda: later)).delivered == 0
        assert [a.kind for a in SqlStore(engine).alerts()] == ["operator", "match"]


async def deliver(cfg: Config, engine: Engine, clock: Callable[[], datetime]) -> outbox.DeliveryStats:
    async with alert_channels(cfg) as channels:
        dispatcher = outbox.Dispatcher(SqlStore(engine), channels, delivery_policy(cfg.alerts), "test", clock=clock)
        return await dispatcher.deliver_due()
