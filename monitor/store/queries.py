"""What people and programs ask of the stored data, in the documented JSON shapes.

Each function returns plain dicts whose keys are the public shape in docs/cli.md.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from monitor.store.db import reading
from monitor.store.interface import Backlog
from monitor.store.tables import Alert, Article, Feed, Match, Story

Row = dict[str, Any]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z") if moment else None


def matches(engine: Engine, *, topic: str | None = None, since: datetime | None = None, limit: int = 50) -> list[Row]:
    query = select(Match, Article).join(Article, col(Article.id) == col(Match.article_id))
    if topic:
        query = query.where(Match.topic == topic)
    if since:
        query = query.where(col(Match.matched_at) >= since)
    query = query.order_by(col(Match.matched_at).desc(), col(Match.id).desc()).limit(limit)
    with reading(engine) as session:
        return [
            {
                "topic": m.topic,
                "article_id": a.id,
                "url": a.url,
                "title": a.title,
                "language": a.language,
                "published_at": _iso(a.published_at),
                "story_id": m.story_id,
                "score": round(m.score, 3),
                "terms": json.loads(m.terms),
                "snippet": m.snippet,
                "matched_at": _iso(m.matched_at),
                "backfill": m.backfill,
            }
            for m, a in session.exec(query)
        ]


def stories(
    engine: Engine,
    *,
    topic: str | None = None,
    since: datetime | None = None,
    limit: int = 50,
    story_id: int | None = None,
) -> list[Row]:
    query = select(Story)
    if story_id is not None:
        query = query.where(Story.id == story_id)
    if topic:
        query = query.where(col(Story.id).in_(select(Match.story_id).where(Match.topic == topic)))
    if since:
        query = query.where(col(Story.last_seen) >= since)
    query = query.order_by(col(Story.first_seen).desc(), col(Story.id).desc()).limit(limit)
    with reading(engine) as session:
        found = list(session.exec(query))
        members = session.exec(
            select(Article, Feed.name)
            .join(Feed, col(Feed.id) == col(Article.feed_id))
            .where(col(Article.story_id).in_([s.id for s in found]))
            .order_by(col(Article.fetched_at), col(Article.id))
        ).all()
        topics = session.exec(
            select(Match.story_id, Match.topic).where(col(Match.story_id).in_([s.id for s in found])).distinct()
        ).all()
    by_story: dict[int, list[Row]] = {}
    for article, feed in members:
        by_story.setdefault(article.story_id or 0, []).append(
            {
                "id": article.id,
                "url": article.url,
                "title": article.title,
                "language": article.language,
                "feed": feed,
                "similarity": round(article.story_similarity, 3),
                "signal": article.story_signal,
            }
        )
    topics_of: dict[int, list[str]] = {}
    for sid, name in topics:
        topics_of.setdefault(sid, []).append(name)
    return [
        {
            "id": s.id,
            "title": s.title,
            "language": s.language,
            "first_seen": _iso(s.first_seen),
            "topics": sorted(topics_of.get(s.id or 0, [])),
            "languages": sorted({a["language"] for a in by_story.get(s.id or 0, []) if a["language"]}),
            "articles": by_story.get(s.id or 0, []),
        }
        for s in found
    ]


def articles(
    engine: Engine,
    *,
    topic: str | None = None,
    since: datetime | None = None,
    limit: int = 50,
    with_text: bool = True,
) -> list[Row]:
    query = select(Article, Feed.name).join(Feed, col(Feed.id) == col(Article.feed_id))
    if topic:
        query = query.where(col(Article.id).in_(select(Match.article_id).where(Match.topic == topic)))
    if since:
        query = query.where(col(Article.fetched_at) >= since)
    query = query.order_by(col(Article.fetched_at).desc(), col(Article.id).desc()).limit(limit)
    with reading(engine) as session:
        return [
            {
                "id": a.id,
                "url": a.url,
                "canonical_url": a.canonical_url,
                "title": a.title,
                "language": a.language,
                "published_at": _iso(a.published_at),
                "feed": feed,
                "story_id": a.story_id,
                "text_source": a.text_source,
                **({"text": a.text} if with_text else {}),
            }
            for a, feed in session.exec(query)
        ]


def feeds(engine: Engine, *, failing: bool = False, limit: int = 1000) -> list[Row]:
    query = select(Feed).where(Feed.active)
    if failing:
        query = query.where(sa.or_(col(Feed.error_count) > 0, col(Feed.dead)))
    with reading(engine) as session:
        return [
            {
                "name": f.name,
                "url": f.url,
                "last_status": "dead" if f.dead else f.last_status,
                "last_error": f.last_error,
                "last_warning": f.last_warning,
                "error_count": f.error_count,
                "last_checked_at": _iso(f.last_checked_at),
                "next_check_at": None if f.dead else _iso(f.next_check_at),
                "interval": f.interval_s,
                "failing_since": _iso(f.failing_since),
            }
            for f in session.exec(query.order_by(col(Feed.name)).limit(limit))
        ]


def alerts(
    engine: Engine,
    *,
    topic: str | None = None,
    since: datetime | None = None,
    limit: int = 50,
    status: str | None = None,
) -> list[Row]:
    query = select(Alert)
    if topic:
        query = query.where(Alert.topic == topic)
    if since:
        query = query.where(col(Alert.created_at) >= since)
    if status:
        query = query.where(Alert.status == status)
    query = query.order_by(col(Alert.created_at).desc(), col(Alert.id).desc()).limit(limit)
    with reading(engine) as session:
        return [
            {
                "id": a.id,
                "topic": a.topic,
                "story_id": a.story_id,
                "channel": a.channel,
                "status": a.status,
                "attempts": a.attempts,
                "last_error": a.last_error,
                "created_at": _iso(a.created_at),
                "delivered_at": _iso(a.delivered_at),
            }
            for a in session.exec(query)
        ]


def backlog(engine: Engine, now: datetime) -> Backlog:
    """How long the oldest undelivered alert has waited, and how many due feeds no worker holds."""
    free = sa.or_(col(Feed.lease_expires_at).is_(None), col(Feed.lease_expires_at) < now)
    due = col(Feed.active) & ~col(Feed.dead) & (col(Feed.next_check_at) <= now) & free
    with reading(engine) as session:
        oldest = session.exec(select(sa.func.min(Alert.created_at)).where(Alert.status == "pending")).one()
        count = session.exec(select(sa.func.count()).select_from(Feed).where(due)).one()
    return Backlog(max(now - oldest, timedelta(0)) if oldest else timedelta(0), int(count))
