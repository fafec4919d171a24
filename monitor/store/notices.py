"""The outbox rows beyond a topic's first alert: story updates, digests, operator alerts.

Each is inserted under its unique key with ``ON CONFLICT DO NOTHING``, in the
transaction of what causes it where there is one (the article that changes a story,
the poll that finds a feed failing or recovered, the attempt that gives an alert up),
so it is queued exactly when its cause is stored and never twice.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from monitor.changes import ALERT_FAILED, FEED_FAILING, FEED_RECOVERED, OperatorEvent, StoryChange, story_changes
from monitor.changes import iso as iso_utc
from monitor.store.db import reading, writing
from monitor.store.tables import Alert, Article

OPERATOR = "operator"  # alert.topic of operator alerts

_ALERT = SQLModel.metadata.tables[str(Alert.__tablename__)]
_ARTICLE = SQLModel.metadata.tables[str(Article.__tablename__)]


def outbox_key(*parts: object) -> str:
    """The unique key of an outbox row: its parts, each percent-encoded, joined by "/"."""
    return "/".join(quote(str(part), safe="") for part in parts)


def queue(connection: sa.Connection, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert outbox rows whose key is new; the ids of those inserted."""
    if not rows:
        return []
    return list(connection.execute(_QUEUE[connection.dialect.name == "sqlite"], list(rows)).scalars())


_QUEUE = {
    is_sqlite: dialect.insert(_ALERT).on_conflict_do_nothing(index_elements=["key"]).returning(_ALERT.c.id)
    for is_sqlite, dialect in ((True, sqlite), (False, postgresql))
}


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
) -> int:
    """One update per change the new article makes, per (topic, channel) the story was alerted on."""
    changes = story_changes(before.feeds, before.languages, feed_id, language)
    rows = [
        row(
            outbox_key("update", topic, story_id, change.name, channel),
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
    return len(queue(connection, rows))


def update_change(payload: str) -> tuple[StoryChange, int]:
    """The change an update row reports and the article that made it."""
    data = json.loads(payload)
    return StoryChange.from_json(data["change"]), int(data["article_id"])


# --- digests ------------------------------------------------------------------------------


def digest_key(name: str, period_start: datetime) -> str:
    return outbox_key("digest", name, iso_utc(period_start))


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
    return ids[0] if ids else None


# --- operator alerts ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FeedPoll:
    """What the operator hears of one poll: the feed, whether it failed, since when."""

    feed_id: int
    feed: str
    url: str
    checked_at: datetime
    error: str | None
    failing_since: datetime | None  # when the run of failures began, before this poll


def queue_feed_changes(
    connection: sa.Connection, polls: Iterable[FeedPoll], channel: str, alert_after: timedelta
) -> int:
    """A feed failing for ``alert_after``: one alert; recovered after that alert: one more.

    Both are keyed by when the run of failures began, so each run gives at most two.
    """
    rows = []
    for poll in polls:
        since = poll.failing_since or poll.checked_at
        failing_key = outbox_key(OPERATOR, "feed", poll.feed_id, "failing", iso_utc(since))
        if poll.error is not None:
            if poll.checked_at - since < alert_after:
                continue
            event = OperatorEvent(FEED_FAILING, poll.feed, poll.checked_at, since, poll.error, poll.url)
            rows.append(row(failing_key, OPERATOR, OPERATOR, channel, poll.checked_at, payload=event.to_payload()))
        elif poll.failing_since is not None:
            told = connection.execute(sa.select(_ALERT.c.id).where(_ALERT.c.key == failing_key)).first()
            if told is None:  # it recovered before anyone was told it failed
                continue
            key = outbox_key(OPERATOR, "feed", poll.feed_id, "recovered", iso_utc(since))
            event = OperatorEvent(FEED_RECOVERED, poll.feed, poll.checked_at, since, None, poll.url)
            rows.append(row(key, OPERATOR, OPERATOR, channel, poll.checked_at, payload=event.to_payload()))
    return len(queue(connection, rows))


def queue_alert_given_up(
    connection: sa.Connection,
    alert_id: int,
    what: str,
    failed_channel: str,
    attempts: int,
    error: str,
    channel: str,
    now: datetime,
) -> int:
    event = OperatorEvent(ALERT_FAILED, what, now, None, error, None, failed_channel, attempts)
    key = outbox_key(OPERATOR, "alert", alert_id, "failed", attempts)  # given up again after a retry: told again
    return len(queue(connection, [row(key, OPERATOR, OPERATOR, channel, now, payload=event.to_payload())]))
