"""Story updates: an alerted story that gains a language or reaches 3 and 10 outlets alerts again, once.

Through the real store (SQLite and PostgreSQL) as the pipeline calls it, then the real
dispatcher delivering to a local webhook receiver.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from receivers import WebhookReceiver
from sqlalchemy.engine import Engine
from test_story_store import ASSIGN_STORY, NOW, match, new_article, seed

from monitor.alerts import outbox
from monitor.config import Config, parse_config
from monitor.model import Document
from monitor.service import alert_channels, delivery_policy
from monitor.store import notices, repository
from monitor.store.db import create_engine, transaction, upgrade
from monitor.store.sql import SqlStore
from monitor.store.tables import Feed

DOCS = Path(__file__).resolve().parent.parent / "docs" / "alerts.md"


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_engine(database_url)
    upgrade(engine)
    with transaction(engine) as session:
        for feed_id, name in enumerate(("kompas", "detik", "tempo", "heise", "lemonde"), 1):
            session.add(Feed(id=feed_id, name=name, url=f"https://{name}.example/feed"))
    yield engine
    engine.dispose()


def config(receiver: str) -> Config:
    return parse_config(
        f"""
topics:
  - {{name: ByteDance AI, query: bytedance, updates: true}}
  - {{name: Doubao, query: bytedance}}
  - {{name: Quiet, query: bytedance, updates: true, channels: []}}
alerts:
  webhooks: [{{name: team, url: "{receiver}"}}]
""",
        "updates.yaml",
    )


def copy_of(doc: Document, n: int) -> Document:
    """The same report as another outlet runs it: its own furniture around the same text."""
    return Document(
        title=doc.title,
        text=f"Beranda | Tekno | Edisi {n}\nBaca juga: berita pilihan nomor {n}\n{doc.text}\nIkuti kami {n}",
        language=doc.language,
    )


def test_a_story_that_gains_a_third_outlet_then_a_new_language_sends_exactly_two_updates(
    engine: Engine, webhook: WebhookReceiver
) -> None:
    cfg = config(webhook.url)
    routes = cfg.routes()
    updates = {t.name for t in cfg.topics if t.updates}
    original = seed("000")  # Indonesian

    def store(doc: Document, url: str, feed_id: int, *topics: str) -> repository.StoredArticle:
        found = tuple(match(t) for t in topics)
        result = repository.store_article(
            engine, new_article(doc, url, feed_id=feed_id, matches=found), routes, ASSIGN_STORY, NOW, updates=updates
        )
        assert result is not None
        return result

    first = store(original, "https://kompas.example/1", 1, "ByteDance AI", "Doubao", "Quiet")
    assert first.alerts == 2  # ByteDance AI and Doubao to the team; Quiet is routed nowhere
    second = store(copy_of(original, 2), "https://detik.example/2", 2, "ByteDance AI")
    assert second.story_id == first.story_id and second.alerts == 0  # two outlets: nothing to tell
    third = store(copy_of(original, 3), "https://tempo.example/3", 3)
    assert third.story_id == first.story_id and third.alerts == 1  # three outlets
    german = store(seed("002"), "https://heise.example/4", 4)
    assert german.story_id == first.story_id and german.alerts == 1  # a new language (and a fourth outlet)
    again = store(copy_of(original, 5), "https://kompas.example/5", 1)
    assert again.story_id == first.story_id and again.alerts == 0  # neither a new outlet nor a new language

    asyncio.run(deliver(cfg, engine))
    received = [json.loads(r.body) for r in webhook.requests]
    assert sorted(r["type"] for r in received) == ["monitor.alert", "monitor.alert", "monitor.update", "monitor.update"]
    changes = [(r["topic"], r["change"]) for r in received if r["type"] == "monitor.update"]
    assert sorted(changes, key=lambda c: c[1]["kind"]) == [
        ("ByteDance AI", {"kind": "language", "language": "de", "summary": "now also in de"}),
        ("ByteDance AI", {"kind": "outlets", "outlets": 3, "summary": "now carried by 3 outlets"}),
    ]
    update = next(r for r in received if r["type"] == "monitor.update" and r["change"]["kind"] == "language")
    assert update["article"]["url"] == "https://heise.example/4"
    assert update["story"]["id"] == first.story_id and update["story"]["languages"][:2] == ["id", "de"]
    assert len({r["idempotency_key"] for r in received}) == 4

    # Stored again by another worker (the same changes seen twice): the keys keep it to two.
    with transaction(engine) as session:
        connection = session.connection()
        before = notices.story_before(connection, first.story_id, updates)
        assert before is not None
        as_seen_before = notices.StoryBefore(before.alerted, frozenset({1, 2}), frozenset({"id"}))
        again_queued = notices.queue_updates(
            connection,
            as_seen_before,
            first.story_id,
            german.article_id,
            4,
            "de",
            NOW,
        )
    assert again_queued == ()  # the channels of the updates queued: none
    assert [a.kind for a in SqlStore(engine).alerts()].count("update") == 2


async def deliver(cfg: Config, engine: Engine) -> outbox.DeliveryStats:
    async with alert_channels(cfg) as channels:
        return await outbox.Dispatcher(SqlStore(engine), channels, delivery_policy(cfg.alerts), "test").deliver_due()
