"""`monitor digest preview` and `monitor digest send`, as a user runs them, against a local receiver."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from conftest import monitor, one_line_error, write_config
from receivers import WebhookReceiver
from synthetic import article, hit

from monitor.model import Routes
from monitor.store import repository
from monitor.store.db import create_engine, transaction, upgrade
from monitor.store.tables import Feed
from monitor.stories.stage import AssignStory


def test_digest_preview_and_send_from_the_command_line(tmp_path: Path, webhook: WebhookReceiver) -> None:
    url = f"sqlite:///{tmp_path / 'monitor.db'}"
    engine = create_engine(url)
    upgrade(engine)
    with transaction(engine) as session:
        session.add(Feed(id=1, name="harbour-news", url="https://news1.example/feed"))
    now = datetime.now(UTC)
    for n, topic in enumerate(("Harbour", "Railway", "Harbour")):
        at = now - timedelta(seconds=30 * (3 - n))
        repository.store_article(engine, article(n, at, matches=[hit(topic)]), Routes(), AssignStory(), at)
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
