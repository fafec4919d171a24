"""The outbox rows beyond a topic's first alert: story updates, digests, operator alerts.

Each is inserted under its unique key with ``ON CONFLICT DO NOTHING``, in the
transaction of what causes it where there is one (the article that changes a story,
the poll that finds a feed failing or recovered, the attempt that gives an alert up),
so it is queued exactly when its cause is stored and never twice.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from monitor.changes import StoryChange, story_changes
from monitor.store.db import reading, upsert, writing
from monitor.store.interface import (
    OPERATOR,
    FeedChange,
    PollRecord,
    digest_key,
    feed_change,
    update_key,
)
from monitor.store.tables import Alert, Article

_ALERT = SQLModel.metadata.tables[str(Alert.__tablename__)]
_ARTICLE = SQLModel.metadata.tables[str(Article.__tablename__)]


def queue(connection: sa.Connection, rows: Sequence[dict[str, Any]]) -> list[tuple[int, str]]:
    """Insert outbox rows whose key is new; the (id, channel) of those inserted."""
    if not rows:
        return []
    inserted = connection.execute(_queue(connection.dialect.name), list(rows))
    return [(alert_id, channel) for alert_id, channel in inserted]


@functools.cache
def _queue(dialect: str) -> sa.Insert:
    return (
        upsert(dialect, _ALERT).on_conflict_do_nothing(index_elements=["key"]).returning(_ALERT.c.id, _ALERT.c.channel)
    )


def row(key: str, kind: str, topic: str, channel: str, now: datetime, **more: Any) -> dict[str, Any]:
    """One pending outbox row, due now."""
    return {
        "key": key,
        "kind": kind,
        "topic": topic,
        "channel": channel,
        "status": "pending",
        "attempts": 0,
        "created_at": now,
        "next_attempt_at": now,
        "story_id": more.get("story_id"),
        "match_id": more.get("match_id"),
        "payload": more.get("payload"),
    }


# --- story updates ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoryBefore:
    """An alerted story as it was before a new article joined it."""

    alerted: tuple[tuple[str, str, int], ...]  # (topic, channel, match id) of its topic alerts
    feeds: frozenset[int]
    languages: frozenset[str]


def story_before(connection: sa.Connection, story_id: int, topics: Collection[str]) -> StoryBefore | None:
    """The story's alerts for ``topics`` and its outlets so far; None when none of them alerted it."""
    if not topics:
        return None
    alerted = connection.execute(
        sa.select(_ALERT.c.topic, _ALERT.c.channel, _ALERT.c.match_id).where(
            _ALERT.c.story_id == story_id, _ALERT.c.kind == "match", _ALERT.c.topic.in_(sorted(topics))
        )
    ).all()
    if not alerted:
        return None
    articles = connection.execute(
        sa.select(_ARTICLE.c.feed_id, _ARTICLE.c.language).where(_ARTICLE.c.story_id == story_id)
    ).all()
    return StoryBefore(
        tuple((t, c, m) for t, c, m in alerted),
        frozenset(feed for feed, _ in articles),
        frozenset(language for _, language in articles if language),
    )


def queue_updates(
    connection: sa.Connection,
    before: StoryBefore,
    story_id: int,
    article_id: int,
    feed_id: int,
    language: str | None,
    now: datetime,
) -> tuple[str, ...]:
    """One update per change the new article makes, per (topic, channel) the story was alerted on;
    the channel of each update queued."""
    changes = story_changes(before.feeds, before.languages, feed_id, language)
    rows = [
        row(
            update_key(topic, story_id, change, channel),
            "update",
            topic,
            channel,
            now,
            story_id=story_id,
            match_id=match_id,
            payload=json.dumps({"change": change.to_json(), "article_id": article_id}),
        )
        for change in changes
        for topic, channel, match_id in before.alerted
    ]
    return tuple(channel for _, channel in queue(connection, rows))


def update_change(payload: str) -> tuple[StoryChange, int]:
    """The change an update row reports and the article that made it."""
    data = json.loads(payload)
    return StoryChange.from_json(data["change"]), int(data["article_id"])


# --- digests ------------------------------------------------------------------------------


def digest_queued(engine: Engine, name: str, period_start: datetime) -> bool:
    with reading(engine) as session:
        found = session.connection().execute(
            sa.select(_ALERT.c.id).where(_ALERT.c.key == digest_key(name, period_start))
        )
        return found.first() is not None


def last_digest(engine: Engine, name: str) -> str | None:
    """The payload of the newest digest of this name ever queued."""
    with reading(engine) as session:
        found = session.connection().execute(
            sa.select(_ALERT.c.payload)
            .where(_ALERT.c.kind == "digest", _ALERT.c.topic == name)
            .order_by(_ALERT.c.id.desc())
            .limit(1)
        )
        return found.scalar()


def queue_digest(
    engine: Engine, name: str, period_start: datetime, payload: str, channel: str, now: datetime
) -> int | None:
    """Queue a period's digest; None when it was queued already (by this process or another)."""
    key = digest_key(name, period_start)
    with writing(engine) as connection:
        ids = queue(connection, [row(key, "digest", name, channel, now, payload=payload)])
    return ids[0][0] if ids else None


# --- operator alerts ----------------------------------------------------------------------


def queue_feed_changes(
    connection: sa.Connection, polls: Iterable[PollRecord], channel: str, alert_after: timedelta
) -> int:
    """The operator alerts these polls cause (``interface.feed_change``), each once."""
    rows = []
    for poll in polls:
        change = feed_change(poll, alert_after)
        if change is None:
            continue
        if change.needs is not None:
            told = connection.execute(sa.select(_ALERT.c.id).where(_ALERT.c.key == change.needs)).first()
            if told is None:  # it recovered before anyone was told it failed
                continue
        rows.append(row(change.key, OPERATOR, OPERATOR, channel, poll.checked_at, payload=change.event.to_payload()))
    return len(queue(connection, rows))


def queue_alert_given_up(connection: sa.Connection, change: FeedChange, channel: str, now: datetime) -> int:
    return len(
        queue(connection, [row(change.key, OPERATOR, OPERATOR, channel, now, payload=change.event.to_payload())])
    )
