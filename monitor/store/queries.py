"""What people and programs ask of the stored data, in the documented JSON shapes.

Each returns the frozen records of ``monitor.store.records`` (their ``to_json`` is the
public shape in docs/cli.md and docs/api.md); ``SqlStore`` serves them. Lists are newest first, and
``after`` continues one (keyset paging): pass the key of the last row seen (the ``id``,
a feed's ``name``) and the rows after it come, however many arrived in between, with
no offset to scan.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import defer
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col, func, select

from monitor.store.db import reading
from monitor.store.records import (
    AlertRow,
    ArticleRow,
    EntryOutlet,
    FeedRow,
    Filters,
    MatchRow,
    StoryEntry,
    StoryMember,
    StoryRow,
    TopicActivity,
)
from monitor.store.tables import Alert, Article, Feed, Match, Story
from monitor.store.utc import utcnow


def _newest_first(query: Any, table: Any, stamp: Any, after: int | None) -> Any:
    """Order by (stamp, id) descending; with ``after``, only the rows after that row.

    Written ``stamp <= pivot AND (stamp < pivot OR id < after)`` rather than as a row
    value, so both databases walk the stamp's index from the pivot on.
    """
    key = col(table.id)
    if after is not None:
        pivot = select(stamp).where(key == after).scalar_subquery()
        query = query.where(stamp <= pivot, sa.or_(stamp < pivot, key < after))
    return query.order_by(stamp.desc(), key.desc())


def _window(query: Any, stamp: Any, since: datetime | None, until: datetime | None) -> Any:
    if since:
        query = query.where(stamp >= since)
    if until:
        query = query.where(stamp < until)
    return query


def _feed_id(name: str) -> ColumnElement[Any]:
    return select(Feed.id).where(Feed.name == name).scalar_subquery()


# A story's member as shown: never its text or features.
_MEMBER = (
    col(Article.id),
    col(Article.story_id),
    col(Article.url),
    col(Article.title),
    col(Article.language),
    col(Article.story_similarity),
    col(Article.story_signal),
)


def matches(engine: Engine, filters: Filters, *, limit: int = 50, after: int | None = None) -> list[MatchRow]:
    topic, lang, feed, story_id = filters.topic, filters.lang, filters.feed, filters.story_id
    # The article's columns shown, not its text and features: a page reads kilobytes, not megabytes.
    shown = (col(Article.url), col(Article.title), col(Article.language), col(Article.published_at))
    query = sa.select(Match, *shown).join(Article, col(Article.id) == col(Match.article_id))
    if topic:
        query = query.where(col(Match.topic) == topic)
    if story_id is not None:
        query = query.where(col(Match.story_id) == story_id)
    if lang:
        query = query.where(col(Article.language) == lang)
    if feed:
        query = query.where(col(Article.feed_id) == _feed_id(feed))
    query = _window(query, col(Match.matched_at), filters.since, filters.until)
    query = _newest_first(query, Match, col(Match.matched_at), after).limit(limit)
    with reading(engine) as session:
        return [
            MatchRow(
                id=m.id,
                topic=m.topic,
                article_id=m.article_id,
                url=url,
                title=title,
                language=language,
                published_at=published_at,
                story_id=m.story_id,
                score=m.score,
                terms=tuple(json.loads(m.terms)),
                snippet=m.snippet,
                matched_at=m.matched_at,
                backfill=m.backfill,
            )
            for m, url, title, language, published_at in session.execute(query)
        ]


def stories(engine: Engine, filters: Filters, *, limit: int = 50, after: int | None = None) -> list[StoryRow]:
    """Stories by first sight; ``since`` keeps those still growing then (by their last article),
    ``until`` those first seen before; ``lang`` and ``feed``: those with an article in it."""
    topic, since, until, lang, feed = filters.topic, filters.since, filters.until, filters.lang, filters.feed
    story_id = filters.story_id
    query = select(Story)
    if story_id is not None:
        query = query.where(Story.id == story_id)
    if topic:
        query = query.where(col(Story.id).in_(select(Match.story_id).where(Match.topic == topic)))
    if lang:
        query = query.where(col(Story.id).in_(select(Article.story_id).where(Article.language == lang)))
    if feed:
        query = query.where(col(Story.id).in_(select(Article.story_id).where(Article.feed_id == _feed_id(feed))))
    if since:
        query = query.where(col(Story.last_seen) >= since)
    if until:
        query = query.where(col(Story.first_seen) < until)
    query = _newest_first(query, Story, col(Story.first_seen), after).limit(limit)
    with reading(engine) as session:
        found = list(session.exec(query))
        members = session.execute(
            sa.select(*_MEMBER, col(Feed.name))
            .join(Feed, col(Feed.id) == col(Article.feed_id))
            .where(col(Article.story_id).in_([s.id for s in found]))
            .order_by(col(Article.fetched_at), col(Article.id))
        ).all()
        topics = session.exec(
            select(Match.story_id, Match.topic).where(col(Match.story_id).in_([s.id for s in found])).distinct()
        ).all()
    by_story: dict[int, list[StoryMember]] = {}
    for article_id, story, url, title, language, similarity, signal, feed_name in members:
        by_story.setdefault(story or 0, []).append(
            StoryMember(article_id or 0, url, title, language, feed_name, similarity, signal)
        )
    topics_of: dict[int, list[str]] = {}
    for sid, name in topics:
        topics_of.setdefault(sid, []).append(name)
    return [
        StoryRow(
            id=s.id or 0,
            title=s.title,
            language=s.language,
            first_seen=s.first_seen,
            topics=tuple(sorted(topics_of.get(s.id or 0, []))),
            articles=tuple(by_story.get(s.id or 0, [])),
        )
        for s in found
    ]


def articles(
    engine: Engine,
    filters: Filters,
    *,
    limit: int = 50,
    with_text: bool = True,
    article_id: int | None = None,
    after: int | None = None,
) -> list[ArticleRow]:
    topic, lang, feed = filters.topic, filters.lang, filters.feed
    query = (
        select(Article, Feed.name)
        .join(Feed, col(Feed.id) == col(Article.feed_id))
        .options(defer(Article.features), *([defer(Article.text)] if not with_text else []))  # type: ignore[arg-type]
    )
    if article_id is not None:
        query = query.where(Article.id == article_id)
    if filters.story_id is not None:
        query = query.where(Article.story_id == filters.story_id)
    if topic:
        query = query.where(col(Article.id).in_(select(Match.article_id).where(Match.topic == topic)))
    if lang:
        query = query.where(Article.language == lang)
    if feed:
        query = query.where(Feed.name == feed)
    query = _window(query, col(Article.fetched_at), filters.since, filters.until)
    query = _newest_first(query, Article, col(Article.fetched_at), after).limit(limit)
    with reading(engine) as session:
        return [
            ArticleRow(
                id=a.id or 0,
                url=a.url,
                canonical_url=a.canonical_url,
                title=a.title,
                language=a.language,
                published_at=a.published_at,
                feed=feed_name,
                story_id=a.story_id,
                text_source=a.text_source,
                text=a.text if with_text else None,
            )
            for a, feed_name in session.exec(query)
        ]


def feeds(engine: Engine, *, failing: bool = False, limit: int = 1000, after: str | None = None) -> list[FeedRow]:
    """Active feeds by name; ``after``: the name of the last feed seen."""
    query = select(Feed).where(Feed.active)
    if failing:
        query = query.where(sa.or_(col(Feed.error_count) > 0, col(Feed.dead)))
    if after is not None:
        query = query.where(col(Feed.name) > after)
    with reading(engine) as session:
        return [
            FeedRow(
                name=f.name,
                url=f.url,
                last_status="dead" if f.dead else f.last_status,
                last_error=f.last_error,
                last_warning=f.last_warning,
                error_count=f.error_count,
                last_checked_at=f.last_checked_at,
                next_check_at=None if f.dead else f.next_check_at,
                interval=f.interval_s,
                failing_since=f.failing_since,
            )
            for f in session.exec(query.order_by(col(Feed.name)).limit(limit))
        ]


def alerts(
    engine: Engine,
    *,
    topic: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    status: str | None = None,
    alert_id: int | None = None,
    after: int | None = None,
) -> list[AlertRow]:
    query = select(Alert)
    if alert_id is not None:
        query = query.where(Alert.id == alert_id)
    if topic:
        query = query.where(Alert.topic == topic)
    if status:
        query = query.where(Alert.status == status)
    query = _window(query, col(Alert.created_at), since, until)
    query = _newest_first(query, Alert, col(Alert.created_at), after).limit(limit)
    with reading(engine) as session:
        return [
            AlertRow(
                id=a.id or 0,
                kind=a.kind,
                topic=a.topic,
                story_id=a.story_id,
                channel=a.channel,
                status=a.status,
                attempts=a.attempts,
                last_error=a.last_error,
                created_at=a.created_at,
                delivered_at=a.delivered_at,
            )
            for a in session.exec(query)
        ]


def topic_activity(engine: Engine) -> dict[str, TopicActivity]:
    """Per topic name (every topic with a stored match)."""
    query = select(
        Match.topic, func.count(), func.count(sa.distinct(col(Match.story_id))), func.max(Match.matched_at)
    ).group_by(Match.topic)
    with reading(engine) as session:
        return {name: TopicActivity(n, stories_n, last) for name, n, stories_n, last in session.exec(query)}


MATCHES_PER_ENTRY = 4  # newest matches read per entry wanted: a story has several (copies, topics)


def story_entries(engine: Engine, *, topic: str | None = None, limit: int = 50) -> list[StoryEntry]:
    """The stories of the newest matches (of ``topic``, or of any), the most recently grown first.

    They are found from the newest matches backwards (the matched_at index, read from its
    end), never by sorting every story: a story grows by a copy, which matches too.
    """
    newest = select(Match.story_id)
    if topic is not None:
        newest = newest.where(Match.topic == topic)
    newest = newest.order_by(col(Match.matched_at).desc(), col(Match.id).desc()).limit(MATCHES_PER_ENTRY * limit)
    with reading(engine) as session:
        candidates = list(dict.fromkeys(session.exec(newest)))
        found = sorted(
            session.exec(select(Story).where(col(Story.id).in_(candidates))),
            key=lambda s: (s.last_seen or s.first_seen or utcnow(), s.id or 0),
            reverse=True,
        )[:limit]
        ids = [s.id for s in found]
        members = session.execute(
            sa.select(
                col(Article.id),
                col(Article.story_id),
                col(Article.title),
                col(Article.url),
                col(Feed.name),
                col(Article.language),
                col(Article.fetched_at),
            )
            .join(Feed, col(Feed.id) == col(Article.feed_id))
            .where(col(Article.story_id).in_(ids))
            .order_by(col(Article.fetched_at), col(Article.id))
        ).all()
        story_matches = session.exec(
            select(Match.story_id, Match.topic, Match.snippet)
            .where(col(Match.story_id).in_(ids))
            .order_by(col(Match.matched_at), col(Match.id))
        ).all()
    outlets: dict[int, list[EntryOutlet]] = {}
    for article_id, story, title, url, feed_name, language, fetched_at in members:
        outlets.setdefault(story or 0, []).append(
            EntryOutlet(article_id or 0, title, url, feed_name, language, fetched_at)
        )
    topics: dict[int, set[str]] = {}
    snippets: dict[int, str] = {}
    for sid, name, snippet in story_matches:  # oldest first: the last one written wins
        topics.setdefault(sid, set()).add(name)
        if topic is None or name == topic:
            snippets[sid] = snippet
    return [
        StoryEntry(
            story_id=s.id or 0,
            title=s.title,
            language=s.language,
            first_seen=s.first_seen or utcnow(),
            updated=s.last_seen or s.first_seen or utcnow(),
            topics=tuple(sorted(topics.get(s.id or 0, ()))),
            snippet=snippets.get(s.id or 0, ""),
            outlets=tuple(outlets.get(s.id or 0, ())),
        )
        for s in found
    ]
