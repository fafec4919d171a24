"""Every write the pipeline and the outbox make, each one short transaction with no I/O.

Reads for people and programs live in ``store.queries``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from monitor import stories
from monitor.alerts.render import AlertContent, Outlet
from monitor.config import FeedConfig
from monitor.errors import ParseError
from monitor.model import Document, TopicMatch
from monitor.store.db import reading, transaction
from monitor.store.tables import Alert, Article, Feed, Match, Story, StoryKey, Topic, UTCDateTime, utcnow

CANDIDATES_PER_ARTICLE = 20  # stored articles handed to stories.assign, best first
MIN_WORDS_FOR_TEXT_IDENTITY = 50


@dataclass(frozen=True, slots=True)
class FeedState:
    """What polling one feed needs to know about it."""

    id: int
    name: str
    url: str
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    error_count: int
    failing_since: datetime | None
    interval_override: timedelta | None


@dataclass(frozen=True, slots=True)
class PollRecord:
    """The outcome of polling one feed, as stored on it."""

    status: str  # "ok", "not modified", "HTTP 404", "error"
    error: str | None
    next_check_at: datetime
    interval: timedelta
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    dead: bool = False

    @property
    def failed(self) -> bool:
        return self.error is not None


@dataclass(frozen=True, slots=True)
class NewArticle:
    feed_id: int
    guid: str
    url: str
    title: str
    text: str
    language: str | None
    published_at: datetime | None
    features: stories.StoryFeatures

    @property
    def canonical_url(self) -> str:
        """The link without tracking noise; an entry without a usable link is known by its GUID."""
        try:
            return stories.canonical_url(self.url)
        except ParseError:
            return f"guid:{self.feed_id}:{self.guid}"

    @property
    def text_hash(self) -> str | None:
        """Same text means same item only for real prose: many feeds share a one-line summary."""
        if len(self.text.split()) < MIN_WORDS_FOR_TEXT_IDENTITY:
            return None
        return stories.text_hash(self.text) or None


@dataclass(frozen=True, slots=True)
class StoredArticle:
    article_id: int
    story_id: int
    new_story: bool
    signal: str
    matches: int
    alerts: int


# --- feeds -------------------------------------------------------------------------------


def sync_feeds(engine: Engine, feeds: Sequence[FeedConfig], now: datetime | None = None) -> None:
    """Make the feed table follow the config file; feeds added by hand are left alone.

    A feed removed from the file keeps its history but is no longer polled; a renamed
    one keeps its history too (feeds are known by URL).
    """
    now = now or utcnow()
    by_url = {f.url: f for f in feeds}
    with transaction(engine) as session:
        known = {feed.url: feed for feed in session.exec(select(Feed))}
        for feed in known.values():
            wanted = by_url.get(feed.url)
            if wanted is not None:
                feed.origin, feed.active = "config", True
                feed.interval_override_s = _seconds(wanted.interval)
            elif feed.origin == "config":
                feed.active = False
        taken = {feed.name for feed in known.values()}
        for cfg in feeds:
            existing = known.get(cfg.url)
            if existing is None:
                session.add(
                    Feed(
                        name=_free_name(cfg.name, taken),
                        url=cfg.url,
                        next_check_at=now,
                        interval_override_s=_seconds(cfg.interval),
                    )
                )
            elif existing.name != cfg.name and cfg.name not in taken:
                taken.discard(existing.name)
                existing.name = cfg.name
                taken.add(cfg.name)


def _free_name(name: str, taken: set[str]) -> str:
    chosen, n = name, 1
    while chosen in taken:
        n += 1
        chosen = f"{name}-{n}"
    taken.add(chosen)
    return chosen


def add_feed(engine: Engine, url: str, name: str, now: datetime | None = None) -> str | None:
    """Add a feed by hand; returns the name it got, or None when its URL is there already."""
    with transaction(engine) as session:
        existing = session.exec(select(Feed).where(Feed.url == url)).first()
        if existing is not None:
            if existing.active:
                return None
            existing.active, existing.origin = True, "cli"
            return existing.name
        taken = set(session.exec(select(Feed.name)))
        chosen = _free_name(name, taken)
        session.add(Feed(name=chosen, url=url, origin="cli", next_check_at=now or utcnow()))
        return chosen


def active_feeds(engine: Engine) -> list[tuple[str, str]]:
    """(name, url) of every polled feed."""
    with reading(engine) as session:
        return [
            (f.name, f.url)
            for f in session.exec(select(Feed).where(Feed.active).order_by(col(Feed.name)))
        ]


def _seconds(interval: timedelta | None) -> int | None:
    return int(interval.total_seconds()) if interval else None


def _claim(
    session: Session,
    table: Any,
    due: sa.ColumnElement[bool],
    order: Any,
    owner: str,
    now: datetime,
    lease: timedelta,
    limit: int,
) -> list[int]:
    """Lease up to ``limit`` due rows to ``owner``; rows leased by a dead worker come back when the lease expires."""
    free = sa.or_(table.lease_expires_at.is_(None), table.lease_expires_at < now)
    pick = sa.select(table.id).where(due, free).order_by(order).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    claim = (
        sa.update(table)
        .where(table.id.in_(pick.scalar_subquery()))
        .values(lease_owner=owner, lease_expires_at=now + lease)
        .returning(table.id)
    )
    return [row[0] for row in session.execute(claim)]


def claim_due_feeds(
    engine: Engine,
    owner: str,
    now: datetime,
    *,
    limit: int = 500,
    lease: timedelta = timedelta(minutes=10),
    names: Iterable[str] | None = None,
) -> list[FeedState]:
    """Lease the feeds whose time has come; with ``names``, those feeds due or not (empty: all)."""
    due = col(Feed.active) & ~col(Feed.dead)
    if names is None:
        due = due & (col(Feed.next_check_at) <= now)
    elif wanted := list(names):
        due = due & col(Feed.name).in_(wanted)
    limit = limit if names is None else 1_000_000
    with transaction(engine) as session:
        ids = _claim(session, Feed, due, Feed.next_check_at, owner, now, lease, limit)
        rows = session.exec(
            select(Feed).where(col(Feed.id).in_(ids)).order_by(col(Feed.name))
        ).all()
        return [
            FeedState(
                id=f.id or 0,
                name=f.name,
                url=f.url,
                etag=f.etag,
                last_modified=f.last_modified,
                body_hash=f.body_hash,
                error_count=f.error_count,
                failing_since=f.failing_since,
                interval_override=timedelta(seconds=f.interval_override_s)
                if f.interval_override_s
                else None,
            )
            for f in rows
        ]


def record_poll(engine: Engine, feed_id: int, record: PollRecord, now: datetime) -> None:
    """Store how polling went and when to poll next; release the lease. One UPDATE: most polls are 304s."""
    values: dict[str, Any] = {
        "last_checked_at": now,
        "next_check_at": record.next_check_at,
        "interval_s": int(record.interval.total_seconds()),
        "last_status": record.status,
        "last_error": record.error,
        "dead": record.dead,
        "lease_owner": None,
        "lease_expires_at": None,
    }
    if record.failed:
        values["error_count"] = col(Feed.error_count) + 1
        values["failing_since"] = sa.func.coalesce(col(Feed.failing_since), sa.bindparam("now", now, UTCDateTime()))
    else:
        values["error_count"] = 0
        values["failing_since"] = None
    if record.status == "ok":
        values.update(etag=record.etag, last_modified=record.last_modified, body_hash=record.body_hash)
    with transaction(engine) as session:
        session.execute(sa.update(Feed).where(col(Feed.id) == feed_id).values(**values))


def unseen_entries(engine: Engine, feed_id: int, guids: Sequence[str]) -> set[str]:
    """The GUIDs of ``guids`` this feed has not delivered before."""
    seen: set[str] = set()
    with reading(engine) as session:
        for start in range(0, len(guids), 500):
            chunk = guids[start : start + 500]
            query = select(Article.guid).where(
                Article.feed_id == feed_id, col(Article.guid).in_(chunk)
            )
            seen.update(session.exec(query))
    return set(guids) - seen


def is_known_url(engine: Engine, url: str) -> bool:
    """True when an article with this canonical URL is stored (another feed carried it)."""
    try:
        canonical = stories.canonical_url(url)
    except ParseError:
        return False
    with reading(engine) as session:
        return (
            session.exec(select(Article.id).where(Article.canonical_url == canonical)).first()
            is not None
        )


# --- articles, stories, matches, outbox ----------------------------------------------------


def store_article(
    engine: Engine,
    new: NewArticle,
    matches: Sequence[TopicMatch],
    channels: Sequence[str],
    rules: stories.StoryRules,
    now: datetime | None = None,
) -> StoredArticle | None:
    """Store an article with its story, matches and outbox rows in ONE transaction.

    Returns None when the same item is already stored (same GUID in this feed,
    same canonical URL, or the same text): it is stored once.
    """
    now = now or utcnow()
    try:
        with transaction(engine) as session:
            canonical_url, text_hash = new.canonical_url, new.text_hash
            if _is_duplicate(session, new, canonical_url, text_hash):
                return None
            keys = stories.index_keys(new.features)
            assignment = stories.assign(
                new.features, _candidates(session, keys, now - rules.window), rules
            )
            story = session.get(Story, assignment.story_id) if assignment.story_id else None
            if story is None:
                story = Story(title=new.title, language=new.language, first_seen=now)
                session.add(story)
                session.flush()
            story.last_seen = now
            story.article_count += 1
            article = Article(
                feed_id=new.feed_id,
                guid=new.guid,
                url=new.url,
                canonical_url=canonical_url,
                text_hash=text_hash,
                title=new.title,
                text=new.text,
                language=new.language,
                published_at=new.published_at,
                fetched_at=now,
                story_id=story.id,
                story_similarity=assignment.similarity if assignment.story_id else 1.0,
                story_signal=assignment.signal if assignment.story_id else "first article",
                features=new.features.to_json(),
            )
            session.add(article)
            session.flush()
            assert article.id is not None and story.id is not None
            if keys:  # an empty executemany would insert one row of defaults
                rows = [{"key": k, "article_id": article.id, "story_id": story.id, "seen_at": now} for k in set(keys)]
                session.execute(sa.insert(StoryKey), rows)
            alerts = _add_matches(
                session, article.id, story.id, matches, channels, now, backfill=False
            )
            return StoredArticle(
                article.id,
                story.id,
                assignment.story_id is None,
                article.story_signal,
                len(matches),
                alerts,
            )
    except IntegrityError:
        with reading(engine) as session:
            if _is_duplicate(session, new, new.canonical_url, new.text_hash):
                return None  # another worker stored the same item a moment ago
        raise  # not a duplicate: a bug, recorded on the feed rather than hidden


def _is_duplicate(session: Session, new: NewArticle, canonical_url: str, text_hash: str | None) -> bool:
    same = sa.or_(
        (col(Article.feed_id) == new.feed_id) & (col(Article.guid) == new.guid),
        col(Article.canonical_url) == canonical_url,
        *([col(Article.text_hash) == text_hash] if text_hash else []),
    )
    return session.exec(select(Article.id).where(same).limit(1)).first() is not None


def _candidates(session: Session, keys: Sequence[str], since: datetime) -> list[stories.Candidate]:
    """Stored articles sharing the most index keys with a new one, inside the story window."""
    if not keys:
        return []
    shared = sa.func.count().label("shared")
    best = (
        sa.select(col(StoryKey.article_id), shared)
        .where(col(StoryKey.key).in_(set(keys)), col(StoryKey.seen_at) >= since)
        .group_by(col(StoryKey.article_id))
        .order_by(shared.desc(), col(StoryKey.article_id).desc())
        .limit(CANDIDATES_PER_ARTICLE)
        .subquery()
    )
    rows = session.execute(
        sa.select(col(Article.id), col(Article.story_id), col(Article.features)).join(
            best, best.c.article_id == Article.id
        )
    ).all()
    return [
        stories.Candidate(
            article_id=row[0], story_id=row[1], features=stories.StoryFeatures.from_json(row[2])
        )
        for row in rows
        if row[1] is not None
    ]


def _add_matches(
    session: Session,
    article_id: int,
    story_id: int,
    matches: Sequence[TopicMatch],
    channels: Sequence[str],
    now: datetime,
    *,
    backfill: bool,
) -> int:
    """Insert matches and one outbox row per (topic, story, channel) not alerted yet."""
    queued = 0
    for found in matches:
        row = Match(
            topic=found.topic,
            article_id=article_id,
            story_id=story_id,
            score=found.score,
            terms=json.dumps(list(found.terms), ensure_ascii=False),
            clause=found.clause,
            snippet=found.snippet,
            matched_at=now,
            backfill=backfill,
        )
        session.add(row)
        session.flush()
        for channel in channels:
            values = {
                "topic": found.topic,
                "story_id": story_id,
                "match_id": row.id,
                "channel": channel,
                "status": "pending",
                "attempts": 0,
                "created_at": now,
                "next_attempt_at": now,
            }
            queued += len(session.execute(_insert_ignoring_duplicates(session, values)).all())
    return queued


def _insert_ignoring_duplicates(session: Session, values: dict[str, Any]) -> Any:
    # The unique key on (topic, story_id, channel) is what guarantees one alert per story.
    dialect = sqlite if session.get_bind().dialect.name == "sqlite" else postgresql
    return (
        dialect.insert(Alert)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["topic", "story_id", "channel"])
        .returning(col(Alert.id))
    )


def claim_due_alerts(
    engine: Engine,
    owner: str,
    now: datetime,
    *,
    limit: int = 100,
    lease: timedelta = timedelta(minutes=5),
) -> list[int]:
    with transaction(engine) as session:
        due = (col(Alert.status) == "pending") & (col(Alert.next_attempt_at) <= now)
        return _claim(session, Alert, due, Alert.next_attempt_at, owner, now, lease, limit)


def mark_delivered(engine: Engine, alert_id: int, now: datetime) -> None:
    with transaction(engine) as session:
        alert = session.get(Alert, alert_id)
        if alert:
            alert.status, alert.delivered_at, alert.last_error = "delivered", now, None
            alert.attempts += 1
            alert.lease_owner = alert.lease_expires_at = None


def mark_attempt_failed(
    engine: Engine, alert_id: int, error: str, retry_at: datetime | None
) -> None:
    """Record a failed delivery; ``retry_at`` None means give up (status "failed")."""
    with transaction(engine) as session:
        alert = session.get(Alert, alert_id)
        if alert:
            alert.attempts += 1
            alert.last_error = error
            alert.lease_owner = alert.lease_expires_at = None
            if retry_at is None:
                alert.status = "failed"
            else:
                alert.next_attempt_at = retry_at


def load_alert(engine: Engine, alert_id: int) -> tuple[Alert, AlertContent] | None:
    """An outbox row and everything its message says, read at send time."""
    with transaction(engine) as session:
        alert = session.get(Alert, alert_id)
        match = session.get(Match, alert.match_id) if alert else None
        story = session.get(Story, alert.story_id) if alert else None
        if alert is None or match is None or story is None:
            return None
        rows = session.exec(
            select(Article, Feed.name)
            .join(Feed, col(Feed.id) == col(Article.feed_id))
            .where(Article.story_id == story.id)
            .order_by(col(Article.fetched_at), col(Article.id))
        ).all()
        outlets = {
            a.id: Outlet(a.id or 0, a.url, a.title, a.language, feed, a.published_at)
            for a, feed in rows
        }
        content = AlertContent(
            alert_id=alert.id or 0,
            topic=alert.topic,
            story_id=story.id or 0,
            story_title=story.title,
            first_seen=story.first_seen or utcnow(),
            article=outlets[match.article_id],
            outlets=tuple(outlets.values()),
            score=match.score,
            terms=tuple(json.loads(match.terms)),
            snippet=match.snippet,
            idempotency_key=idempotency_key(alert.topic, story.id or 0, alert.channel),
            created_at=alert.created_at or utcnow(),
        )
        return alert, content


def idempotency_key(topic: str, story_id: int, channel: str) -> str:
    """Stable per (topic, story, channel): a receiver drops a redelivery by it."""
    slug = "-".join(stories_slug(topic))
    return f"monitor-{slug}-{story_id}-{channel.replace(':', '-')}"


def stories_slug(text: str) -> list[str]:
    return [w for w in "".join(c if c.isalnum() else " " for c in text.lower()).split() if w]


def release_leases(engine: Engine, owner: str) -> None:
    """Give back what a stopping worker still holds, so a restart need not wait for expiry."""
    with transaction(engine) as session:
        for table in (Feed, Alert):
            session.execute(
                sa.update(table)
                .where(col(table.lease_owner) == owner)
                .values(lease_owner=None, lease_expires_at=None)
            )


# --- topics ------------------------------------------------------------------------------


def changed_topics(
    engine: Engine, queries: dict[str, str], now: datetime | None = None
) -> list[str]:
    """Record the configured queries; return the names that are new or whose query changed."""
    changed = []
    with transaction(engine) as session:
        known = {t.name: t for t in session.exec(select(Topic))}
        for name, query in queries.items():
            row = known.get(name)
            if row is None:
                session.add(Topic(name=name, query=query, updated_at=now or utcnow()))
                changed.append(name)
            elif row.query != query:
                row.query, row.updated_at = query, now or utcnow()
                changed.append(name)
    return changed


def stored_documents(
    engine: Engine, since: datetime, batch: int = 500
) -> Iterator[tuple[int, int, Document]]:
    """(article id, story id, document) of every article fetched since ``since``, oldest first."""
    last_id = 0
    while True:
        with transaction(engine) as session:
            rows = session.exec(
                select(Article)
                .where(col(Article.fetched_at) >= since, col(Article.id) > last_id)
                .order_by(col(Article.id))
                .limit(batch)
            ).all()
        if not rows:
            return
        for a in rows:
            yield (
                a.id or 0,
                a.story_id or 0,
                Document(title=a.title, text=a.text, language=a.language, url=a.url),
            )
        last_id = rows[-1].id or last_id


def store_backfill(
    engine: Engine,
    article_id: int,
    story_id: int,
    matches: Sequence[TopicMatch],
    channels: Sequence[str],
    *,
    alert: bool,
) -> int:
    """Store the matches a new topic finds in history; alerts only when asked. Returns alerts queued."""
    try:
        with transaction(engine) as session:
            return _add_matches(
                session,
                article_id,
                story_id,
                matches,
                channels if alert else (),
                utcnow(),
                backfill=True,
            )
    except IntegrityError:
        return 0  # matched already


def recent_entry_dates(engine: Engine, feed_id: int, since: datetime) -> list[datetime]:
    """Publication dates (else fetch times) of this feed's articles since ``since``: its rhythm."""
    when = sa.func.coalesce(col(Article.published_at), col(Article.fetched_at))
    with reading(engine) as session:
        rows = session.execute(sa.select(when).where(col(Article.feed_id) == feed_id, when >= since)).all()
    return [row[0] if isinstance(row[0], datetime) else datetime.fromisoformat(str(row[0])) for row in rows]
