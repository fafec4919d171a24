"""Every write the pipeline and the outbox make, each one short transaction with no I/O.

Reads for people and programs live in ``store.queries``.
"""

from __future__ import annotations

import functools
import json
import logging
import random
import time
from collections.abc import Collection, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, col, select

from monitor import stories
from monitor.errors import ParseError
from monitor.model import REJECTED, AlertContent, Document, Outlet, Routes, TopicMatch
from monitor.store import notices
from monitor.store.db import (
    Prepared,
    Savepoint,
    lost_a_conflict,
    reading,
    reading_connection,
    serialised,
    transaction,
    upsert,
    writing,
)
from monitor.store.interface import (
    DISCOVERED,
    OPERATOR,
    SITE_TEXT_PAGES,
    Delivery,
    DigestEntry,
    DueAlert,
    NewArticle,
    SiteBoilerplate,
    Stored,
    StoredArticle,
    StoryDecision,
    free_name,
    given_up,
    idempotency_key,
    match_key,
)
from monitor.store.polls import SYNC_FEEDS_CHORE
from monitor.store.records import Requeued
from monitor.store.tables import Alert, Article, Feed
from monitor.store.utc import UTCDateTime, utcnow

if TYPE_CHECKING:  # the full-text index is written with the first article stored, not before
    from monitor.store.search import IndexedText

log = logging.getLogger(__name__)

CANDIDATES_PER_ARTICLE = 20  # stored articles handed to the story decision, best first
CONFLICT_ATTEMPTS = 4  # a batch that lost a deadlock is stored this often in all


# --- feeds -------------------------------------------------------------------------------


_FEED = SQLModel.metadata.tables["feed"]


def add_feed(
    engine: Engine, url: str, name: str, now: datetime | None = None, *, discovered: bool = False
) -> str | None:
    """Add a feed by hand; returns the name it got, or None when its URL is there already.

    ``discovered``: the URL is the one a page announced, a stranger's: it is polled under
    fetch.allow_networks, not trusted like the operator's own feed URLs.
    """
    origin = DISCOVERED if discovered else "cli"
    with transaction(engine) as session:
        serialised(session, SYNC_FEEDS_CHORE)  # a daemon syncing its config at this moment goes first
        existing = session.exec(select(Feed).where(Feed.url == url)).first()
        if existing is not None:
            if existing.active:
                return None
            existing.active, existing.origin = True, origin
            return existing.name
        taken = set(session.exec(select(Feed.name)))
        chosen = free_name(name, taken)
        session.add(Feed(name=chosen, url=url, origin=origin, next_check_at=now or utcnow()))
        return chosen


def new_entries(engine: Engine, feed_id: int, entries: Sequence[tuple[str, str]]) -> tuple[set[str], set[str]]:
    """Of one feed's ``(guid, link)`` entries: the GUIDs it has not delivered before, and the
    links among theirs whose canonical form another feed brought already. One read."""
    guids = [guid for guid, _ in entries]
    seen: set[str] = set()
    found: set[str] = set()
    # A bare connection and statements built once: every changed feed asks, and an ORM
    # session cost more than the two queries (0.6 -> 0.2 ms per feed on SQLite).
    with reading_connection(engine) as connection:
        for chunk in _chunks(guids):
            seen.update(connection.execute(_GUIDS_DELIVERED, {"feed_id": feed_id, "guids": chunk}).scalars())
        canonical: dict[str, list[str]] = {}
        for guid, url in entries:
            if url and guid not in seen:
                try:
                    canonical.setdefault(stories.canonical_url(url), []).append(url)
                except ParseError:
                    continue
        for chunk in _chunks(list(canonical)):
            for stored in connection.execute(_LINKS_STORED, {"urls": chunk}).scalars():
                found.update(canonical[stored])
    return set(guids) - seen, found


def _chunks(values: Sequence[str], size: int = 500) -> Iterator[Sequence[str]]:
    """Slices short enough for any backend's limit on bound parameters."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


# --- articles, stories, matches, outbox ----------------------------------------------------


def store_article(
    engine: Engine,
    new: NewArticle,
    routes: Routes,
    assign_story: StoryDecision,
    now: datetime | None = None,
    *,
    updates: Collection[str] = (),
) -> StoredArticle | SiteBoilerplate | None:
    """Store an article with its story, matches and outbox rows in ONE transaction.

    Returns None when the same item is already stored (same GUID in this feed,
    same canonical URL, or the same text): it is stored once. ``SiteBoilerplate`` when
    its page text is the text its site served for other links: see ``_store_one``.
    """
    (outcome,) = store_articles(engine, [new], routes, assign_story, now, updates=updates)
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def store_articles(
    engine: Engine,
    batch: Sequence[NewArticle],
    routes: Routes,
    assign_story: StoryDecision,
    now: datetime | None = None,
    *,
    updates: Collection[str] = (),
) -> list[Stored]:
    """Store several articles in one transaction, one savepoint each; an outcome per article.

    Workers storing articles of the same stories and sites at once can deadlock on
    PostgreSQL (each holds a story row the other's next article joins). A savepoint cannot
    undo that, since the locks of the articles before it stay held: the victim's whole batch
    is rolled back and stored again after a short random pause, up to ``CONFLICT_ATTEMPTS``.

    One commit for the batch instead of one per article (a commit is most of a small
    write, and an fsync on PostgreSQL); each article still joins the stories of the ones
    before it. An article that fails gets its exception as its outcome and leaves no row;
    the others are stored. When the transaction itself fails, every outcome is its error.
    ``updates``: the topics whose alerted stories send updates (a new language, 3 and 10 outlets).
    """
    from monitor.store import search

    now = now or utcnow()
    # Pure work first, so the write lock is held only for the statements.
    prepared = [
        (
            new,
            assign_story.keys(new.features),
            new.features.to_json(),
            search.indexed_text(new.title, new.text, new.language, new.text_source),
        )
        for new in batch
    ]
    for attempt in range(1, CONFLICT_ATTEMPTS + 1):
        last = attempt == CONFLICT_ATTEMPTS
        try:
            with writing(engine) as connection:
                outcomes: list[Stored] = []
                for new, keys, features, words in prepared:
                    outcome = _store_one(connection, new, keys, features, words, routes, assign_story, now, updates)
                    if not last and isinstance(outcome, Exception) and lost_a_conflict(outcome):
                        raise _LostConflict  # roll the batch back now: its locks let the other one go on
                    outcomes.append(outcome)
            return outcomes
        except _LostConflict:
            pass
        except Exception as exc:  # begin or commit failed: nothing of the batch was stored
            if last or not lost_a_conflict(exc):
                return [exc] * len(batch)
        time.sleep(random.uniform(0.005, 0.05) * attempt)  # then the batch again, from the start
    raise AssertionError("the last attempt returns")


class _LostConflict(Exception):
    """PostgreSQL made the batch the victim of a deadlock with another worker's batch."""


def _store_one(
    connection: sa.Connection,
    new: NewArticle,
    keys: Sequence[str],
    features: str,
    words: IndexedText,
    routes: Routes,
    assign_story: StoryDecision,
    now: datetime,
    updates: Collection[str] = (),
) -> Stored:
    from monitor.store import search

    savepoint = Savepoint(connection)
    try:
        canonical_url = new.canonical_url
        # The same page text at another link of the same site is not the same item: it is
        # the site's interstitial (or one article under two links, stored twice then, as copies).
        site_pages = _count_site_page(connection, new, now)
        text_hash = None if site_pages else new.text_hash
        if _is_duplicate(connection, new, canonical_url, text_hash):
            savepoint.rollback()  # a link counted once
            return None
        if site_pages >= SITE_TEXT_PAGES:
            savepoint.commit()
            return SiteBoilerplate(site_pages)
        candidates = _candidates(connection, keys, now - assign_story.window)
        assignment = assign_story(new.features, candidates)
        joined = assignment.story_id is not None and _join_story(connection, assignment.story_id, now)
        story_id = assignment.story_id if joined else _new_story(connection, new, now)
        assert story_id is not None
        before = notices.story_before(connection, story_id, updates) if joined else None
        article_id = _INSERT_ARTICLE(
            connection,
            {
                "feed_id": new.feed_id,
                "guid": new.guid,
                "url": new.url,
                "canonical_url": canonical_url,
                "text_hash": text_hash,
                "title": new.title,
                "text": new.text,
                "language": new.language,
                "published_at": new.published_at,
                "fetched_at": now,
                "story_id": story_id,
                "story_similarity": assignment.similarity if joined else 1.0,
                "story_signal": assignment.signal if joined else "first article",
                "features": features,
                "text_source": new.text_source,
            },
        ).scalar_one()
        if keys:
            _FILE_UNDER_KEYS[connection.dialect.name == "sqlite"](
                connection,
                {"keys": json.dumps(keys), "seen_at": now, "article_id": article_id},
            )
        search.write_index(connection, article_id, words)
        queued_on = _add_matches(connection, article_id, story_id, new.matches, routes, now, backfill=False)
        if before is not None:
            queued_on += notices.queue_updates(connection, before, story_id, article_id, new.feed_id, new.language, now)
        savepoint.commit()
    except IntegrityError as exc:
        savepoint.rollback()
        if _is_duplicate(connection, new, new.canonical_url, None if _site_pages(connection, new) else new.text_hash):
            return None  # another process stored the same item a moment ago
        return exc  # not a duplicate: a bug, recorded on the feed rather than hidden
    except Exception as exc:
        savepoint.rollback()
        return exc
    return StoredArticle(
        article_id, story_id, not joined, assignment.signal if joined else "first article", len(new.matches), queued_on
    )


# Core statements built once: the ORM unit of work costs more than the SQL it sends here.
_ARTICLE = SQLModel.metadata.tables["article"]
# new_entries' two questions
_GUIDS_DELIVERED = sa.select(_ARTICLE.c.guid).where(
    _ARTICLE.c.feed_id == sa.bindparam("feed_id"), _ARTICLE.c.guid.in_(sa.bindparam("guids", expanding=True))
)
_LINKS_STORED = sa.select(_ARTICLE.c.canonical_url).where(
    _ARTICLE.c.canonical_url.in_(sa.bindparam("urls", expanding=True))
)
_STORY = SQLModel.metadata.tables["story"]
_MATCH = SQLModel.metadata.tables["match"]
_INSERT_ARTICLE = Prepared(sa.insert(_ARTICLE).returning(_ARTICLE.c.id))
_INSERT_STORY = Prepared(sa.insert(_STORY).returning(_STORY.c.id))
# An article's few dozen keys in one statement, from a JSON array: as an executemany,
# each row's parameters went through SQLAlchemy's type processing one by one.
_FILE_UNDER_KEYS = {
    is_sqlite: Prepared(
        sa.text(
            "INSERT INTO story_key (key, seen_at, article_id) SELECT value, :seen_at, :article_id FROM "
            + ("json_each(:keys)" if is_sqlite else "json_array_elements_text(CAST(:keys AS json))")
        ).bindparams(sa.bindparam("seen_at", type_=UTCDateTime()))
    )
    for is_sqlite in (True, False)
}
_INSERT_MATCHES = sa.insert(_MATCH).returning(_MATCH.c.id, sort_by_parameter_order=True)
_JOIN_STORY = Prepared(
    sa.update(_STORY)
    .where(_STORY.c.id == sa.bindparam("story_id"))
    .values(last_seen=sa.bindparam("now", type_=UTCDateTime()), article_count=_STORY.c.article_count + 1)
)
# One query for the three identities of an item; ``text_hash = NULL`` matches nothing.
_SAME_ITEM = Prepared(
    sa.select(_ARTICLE.c.id)
    .where(
        sa.or_(
            (_ARTICLE.c.feed_id == sa.bindparam("feed_id")) & (_ARTICLE.c.guid == sa.bindparam("guid")),
            _ARTICLE.c.canonical_url == sa.bindparam("canonical_url"),
            _ARTICLE.c.text_hash == sa.bindparam("text_hash"),
        )
    )
    .limit(1)
)
ROWS_PER_KEY = 100  # newest articles a key offers: a key most articles share says little
_SITE_TEXT = SQLModel.metadata.tables["site_text"]
_SITE_PAGES = sa.select(_SITE_TEXT.c.pages).where(
    _SITE_TEXT.c.host == sa.bindparam("host"), _SITE_TEXT.c.text_hash == sa.bindparam("text_hash")
)


@functools.cache
def _count_site_text(dialect: str) -> Prepared:
    insert = upsert(dialect, _SITE_TEXT)
    return Prepared(
        insert.on_conflict_do_update(
            index_elements=["host", "text_hash"],
            set_={"pages": _SITE_TEXT.c.pages + 1, "last_seen": insert.excluded.last_seen},
        ).returning(_SITE_TEXT.c.pages)
    )


def _count_site_page(connection: sa.Connection, new: NewArticle, now: datetime) -> int:
    """Count the new article's link under its site and page text; how many links had that text before.

    One statement, on the primary key: the lookup and the count in one go.
    """
    if not new.page_hash or not new.site:
        return 0
    params = {"host": new.site, "text_hash": new.page_hash, "pages": 1, "last_seen": now}
    return int(_count_site_text(connection.dialect.name)(connection, params).scalar_one()) - 1


def _site_pages(connection: sa.Connection, new: NewArticle) -> int:
    """Links of the new article's site already stored with the same page text (one primary-key lookup)."""
    if not new.page_hash or not new.site:
        return 0
    found = connection.execute(_SITE_PAGES, {"host": new.site, "text_hash": new.page_hash}).scalar()
    return int(found or 0)


def _is_duplicate(connection: sa.Connection, new: NewArticle, canonical_url: str, text_hash: str | None) -> bool:
    params = {"feed_id": new.feed_id, "guid": new.guid, "canonical_url": canonical_url, "text_hash": text_hash}
    return _SAME_ITEM(connection, params).first() is not None


def _join_story(connection: sa.Connection, story_id: int, now: datetime) -> bool:
    """Count one more article in the story; False when the story is gone."""
    return _JOIN_STORY(connection, {"story_id": story_id, "now": now}).rowcount == 1


def _new_story(connection: sa.Connection, new: NewArticle, now: datetime) -> int:
    values = {"title": new.title, "language": new.language, "first_seen": now, "last_seen": now, "article_count": 1}
    return int(_INSERT_STORY(connection, values).scalar_one())


def _candidates(connection: sa.Connection, keys: Sequence[str], since: datetime) -> list[stories.Candidate]:
    """Stored articles sharing the most index keys with a new one, inside the story window."""
    if not keys:
        return []
    params: dict[str, Any] = {f"k{i}": key for i, key in enumerate(keys)}
    params["since"] = since
    rows = _candidate_query(len(keys))(connection, params).all()
    return [
        stories.Candidate(article_id=row[0], story_id=row[1], features=_decoded_features(row[2]))
        for row in rows
        if row[1] is not None
    ]


# The same recent articles are candidates for article after article: decode each once.
@functools.lru_cache(maxsize=1024)
def _decoded_features(text: str) -> stories.StoryFeatures:
    return stories.StoryFeatures.from_json(text)


@functools.cache
def _candidate_query(key_count: int) -> Prepared:
    """The candidate lookup for ``key_count`` distinct keys: one statement, one range scan per key.

    Each key offers at most its ROWS_PER_KEY newest rows in the window (a common number
    such as 12 is under thousands of recent articles), so the work per article stays
    bounded however many articles are stored; the articles found under the most keys win.
    """
    newest = " UNION ALL ".join(
        f"SELECT article_id FROM (SELECT article_id FROM story_key WHERE key = :k{i} AND seen_at >= :since "
        f"ORDER BY seen_at DESC LIMIT {ROWS_PER_KEY}) AS under_k{i}"
        for i in range(key_count)
    )
    return Prepared(
        sa.text(
            "SELECT article.id, article.story_id, article.features FROM article JOIN "
            f"(SELECT article_id, count(*) AS shared FROM ({newest}) AS filed GROUP BY article_id "
            f"ORDER BY shared DESC, article_id DESC LIMIT {CANDIDATES_PER_ARTICLE}) AS best "
            "ON best.article_id = article.id ORDER BY best.shared DESC, article.id DESC"
        ).bindparams(sa.bindparam("since", type_=UTCDateTime()))
    )


def _add_matches(
    connection: sa.Connection,
    article_id: int,
    story_id: int,
    matches: Sequence[TopicMatch],
    routes: Routes,
    now: datetime,
    *,
    backfill: bool,
) -> tuple[str, ...]:
    """Insert matches and one outbox row per (topic, story, routed channel) not alerted yet;
    the channel of each row queued."""
    if not matches:
        return ()
    rows = [
        {
            "topic": found.topic,
            "article_id": article_id,
            "story_id": story_id,
            "score": found.score,
            "terms": json.dumps(list(found.terms), ensure_ascii=False),
            "clause": found.clause,
            "snippet": found.snippet,
            "matched_at": now,
            "backfill": backfill,
        }
        for found in matches
    ]
    # One statement for all of them; RETURNING in the order of ``rows``.
    match_ids = connection.execute(_INSERT_MATCHES, rows).scalars().all()
    # The unique key per (topic, story, channel) is what guarantees one alert per story.
    outbox = [
        notices.row(
            match_key(found.topic, story_id, channel),
            "match",
            found.topic,
            channel,
            now,
            story_id=story_id,
            match_id=match_id,
        )
        for found, match_id in zip(matches, match_ids, strict=True)
        for channel in routes.of(found.topic)
    ]
    return tuple(channel for _, channel in notices.queue(connection, outbox))


_ALERT = SQLModel.metadata.tables["alert"]
_RELEASED = {"attempts": _ALERT.c.attempts + 1, "lease_owner": None, "lease_expires_at": None}
_DELIVERED = (
    _ALERT.update()
    .where(_ALERT.c.id == sa.bindparam("alert_id"))
    .values(status="delivered", delivered_at=sa.bindparam("at", type_=UTCDateTime()), last_error=None, **_RELEASED)
)
_FAILED = (
    _ALERT.update()
    .where(_ALERT.c.id == sa.bindparam("alert_id"))
    .values(
        status=sa.case((sa.bindparam("give_up", type_=sa.Boolean()), "failed"), else_=_ALERT.c.status),
        next_attempt_at=sa.func.coalesce(sa.bindparam("retry_at", type_=UTCDateTime()), _ALERT.c.next_attempt_at),
        last_error=sa.bindparam("error"),
        **_RELEASED,
    )
)


def record_deliveries(engine: Engine, deliveries: Sequence[Delivery], operator: str | None = None) -> None:
    """What the sends did, in one transaction (two statements for any number); each alert's
    lease ends. An alert given up tells the ``operator`` channel in the same transaction
    (not an operator alert itself)."""
    if not deliveries:
        return
    delivered = [{"alert_id": d.alert_id, "at": d.at} for d in deliveries if d.error is None]
    failed = [
        {"alert_id": d.alert_id, "error": d.error, "retry_at": d.retry_at, "give_up": d.retry_at is None}
        for d in deliveries
        if d.error is not None
    ]
    abandoned = [d.alert_id for d in deliveries if d.error is not None and d.retry_at is None]
    with writing(engine) as connection:
        if delivered:
            connection.execute(_DELIVERED, delivered)
        if failed:
            connection.execute(_FAILED, failed)
        if operator is None or not abandoned:
            return
        told = connection.execute(
            sa.select(
                _ALERT.c.id, _ALERT.c.kind, _ALERT.c.topic, _ALERT.c.channel, _ALERT.c.attempts, _ALERT.c.last_error
            )
            .where(_ALERT.c.id.in_(abandoned), _ALERT.c.kind != OPERATOR)
            .order_by(_ALERT.c.id)
        ).all()
        for alert_id, kind, topic, channel, attempts, error in told:
            at = utcnow()  # the notice is new now, whatever clock the sender keeps
            notices.queue_alert_given_up(
                connection, given_up(alert_id, kind, topic, channel, attempts, error, at), operator, at
            )


def retry_failed_alert(engine: Engine, alert_id: int, now: datetime) -> str | None:
    """Put a failed alert back in the outbox, due ``now``: one more delivery attempt.

    Returns the status the alert had (None: there is no such alert); only a failed one
    changes. Should that attempt fail too, the alert is failed again (it is older than
    ``alerts.retry_for``): retrying is a person's decision, one attempt at a time.
    """
    with transaction(engine) as session:
        alert = session.get(Alert, alert_id)
        if alert is None:
            return None
        if alert.status == "failed":
            alert.status, alert.next_attempt_at = "pending", now
            alert.lease_owner = alert.lease_expires_at = None
            return "failed"
        return alert.status


def requeue_failed(engine: Engine, ids: Sequence[int] | None, now: datetime) -> Requeued:
    """Put failed alerts (those of ``ids``, or every one when None) back in the outbox, due now."""
    with transaction(engine) as session:
        query = select(Alert).where(col(Alert.status) == "failed") if ids is None else select(Alert)
        if ids is not None:
            query = query.where(col(Alert.id).in_(list(ids)))
        rows = {a.id: a for a in session.exec(query)}
        queued, not_failed = [], []
        for alert_id, alert in sorted(rows.items(), key=lambda item: item[0] or 0):
            if alert.status != "failed":
                not_failed.append((alert_id or 0, alert.status))
                continue
            alert.status, alert.next_attempt_at = "pending", now
            alert.lease_owner = alert.lease_expires_at = None
            queued.append(alert_id or 0)
        missing = tuple(i for i in ids or () if i not in rows)
        return Requeued(tuple(queued), tuple(not_failed), missing)


def load_alerts(engine: Engine, ids: Sequence[int]) -> list[DueAlert]:
    """The outbox rows ``ids`` that still exist, in a few queries whatever their number: a
    topic alert or a story update with its story as it is at send time; a digest or an
    operator alert with what its payload froze when it was queued. Columns, not ORM
    objects: this runs for every alert sent, and building objects was half its CPU."""
    if not ids:
        return []
    a, m, s = _ALERT.c, _MATCH.c, _STORY.c
    with reading(engine) as session:
        alerts = session.execute(
            sa.select(a.id, a.channel, a.attempts, a.kind, a.topic, a.created_at, a.payload, a.match_id, a.story_id)
            .where(a.id.in_(list(ids)))
            .order_by(a.id)
        ).all()
        match_ids = {row.match_id for row in alerts if row.match_id is not None}
        story_ids = {row.story_id for row in alerts if row.story_id is not None}
        matches = {
            row.id: row
            for row in session.execute(
                sa.select(m.id, m.article_id, m.score, m.terms, m.snippet).where(m.id.in_(match_ids))
            )
        }
        stories_ = {
            row.id: row for row in session.execute(sa.select(s.id, s.title, s.first_seen).where(s.id.in_(story_ids)))
        }
        members = session.execute(  # the outlets' columns only, not their text and features
            sa.select(
                _ARTICLE.c.id,
                _ARTICLE.c.story_id,
                _ARTICLE.c.url,
                _ARTICLE.c.title,
                _ARTICLE.c.language,
                _FEED.c.name,
                _ARTICLE.c.published_at,
            )
            .join(_FEED, _FEED.c.id == _ARTICLE.c.feed_id)
            .where(_ARTICLE.c.story_id.in_(story_ids))
            .order_by(_ARTICLE.c.fetched_at, _ARTICLE.c.id)
        ).all()
    outlets: dict[int, dict[int, Outlet]] = {}
    for article_id, story_id, url, title, language, feed, published_at in members:
        outlets.setdefault(story_id, {})[article_id] = Outlet(article_id, url, title, language, feed, published_at)
    loaded = []
    for alert in alerts:
        created = alert.created_at or utcnow()
        if alert.match_id is None or alert.story_id is None:
            loaded.append(_due(alert, created, None))
            continue
        match, story = matches.get(alert.match_id), stories_.get(alert.story_id)
        told = outlets.get(alert.story_id, {})
        if match is None or story is None or match.article_id not in told:
            continue
        content = AlertContent(
            alert_id=alert.id,
            topic=alert.topic,
            story_id=story.id,
            story_title=story.title,
            first_seen=story.first_seen or utcnow(),
            article=told[match.article_id],
            outlets=tuple(told.values()),
            score=match.score,
            terms=tuple(json.loads(match.terms)),
            snippet=match.snippet,
            idempotency_key=idempotency_key(alert.topic, story.id, alert.channel),
            created_at=created,
        )
        loaded.append(_due(alert, created, content))
    return loaded


def _due(alert: sa.Row[Any], created_at: datetime, content: AlertContent | None) -> DueAlert:
    return DueAlert(
        alert.channel, alert.attempts, content, alert.id, alert.kind, alert.topic, created_at, alert.payload
    )


def digest_entries(engine: Engine, topics: Sequence[str], since: datetime, until: datetime) -> list[DigestEntry]:
    """The stories that first matched one of ``topics`` in [since, until), each once per topic.

    Backfilled matches are left out: they are history found for a new topic, not news.
    """
    if not topics:
        return []
    earlier = _MATCH.alias("earlier")
    matched_before = (
        sa.select(earlier.c.id)
        .where(
            earlier.c.topic == _MATCH.c.topic,
            earlier.c.story_id == _MATCH.c.story_id,
            earlier.c.matched_at < sa.bindparam("since", type_=UTCDateTime()),
        )
        .exists()
    )
    first = (
        sa.select(
            _MATCH.c.topic,
            _MATCH.c.story_id,
            sa.func.min(_MATCH.c.matched_at, type_=UTCDateTime()).label("matched_at"),
            sa.func.min(_MATCH.c.id).label("match_id"),
        )
        .where(
            _MATCH.c.topic.in_(list(topics)),
            _MATCH.c.matched_at >= since,
            _MATCH.c.matched_at < until,
            sa.not_(_MATCH.c.backfill),
            ~matched_before,
        )
        .group_by(_MATCH.c.topic, _MATCH.c.story_id)
    )
    with reading(engine) as session:
        connection = session.connection()
        found = connection.execute(first, {"since": since}).all()
        if not found:
            return []
        story_ids = sorted({r.story_id for r in found})
        match_ids = [r.match_id for r in found]
        snippets = dict(
            connection.execute(sa.select(_MATCH.c.id, _MATCH.c.snippet).where(_MATCH.c.id.in_(match_ids))).all()
        )
        stories_by_id = {s.id: s for s in connection.execute(sa.select(_STORY).where(_STORY.c.id.in_(story_ids)))}
        outlets: dict[int, list[Outlet]] = {}
        articles = connection.execute(
            sa.select(_ARTICLE, _FEED.c.name.label("feed_name"))
            .join(_FEED, _FEED.c.id == _ARTICLE.c.feed_id)
            .where(_ARTICLE.c.story_id.in_(story_ids), _ARTICLE.c.fetched_at < until)
            .order_by(_ARTICLE.c.fetched_at, _ARTICLE.c.id)
        )
        for a in articles:
            outlet = Outlet(a.id, a.url, a.title, a.language, a.feed_name, a.published_at)
            outlets.setdefault(a.story_id, []).append(outlet)
    return [
        DigestEntry(
            topic=r.topic,
            story_id=r.story_id,
            title=stories_by_id[r.story_id].title,
            language=stories_by_id[r.story_id].language,
            matched_at=r.matched_at,
            snippet=snippets.get(r.match_id, ""),
            outlets=tuple(outlets.get(r.story_id, ())),
        )
        for r in found
    ]


def stored_documents(engine: Engine, since: datetime, batch: int = 500) -> Iterator[tuple[int, int, Document]]:
    """(article id, story id, document) of every article fetched since ``since``, oldest first."""
    last_id = 0
    while True:
        with reading(engine) as session:  # no write lock: pollers keep storing
            rows = session.exec(
                select(Article)
                .where(col(Article.fetched_at) >= since, col(Article.id) > last_id)
                .order_by(col(Article.id))
                .limit(batch)
            ).all()
        if not rows:
            return
        for a in rows:
            # A rejected text (a consent wall...) is matched by nobody: the title alone, as when it arrived.
            text = "" if a.text_source.startswith(REJECTED) else a.text
            yield (
                a.id or 0,
                a.story_id or 0,
                Document(title=a.title, text=text, language=a.language, url=a.url, text_source=a.text_source),
            )
        last_id = rows[-1].id or last_id


def store_backfill(
    engine: Engine,
    article_id: int,
    story_id: int,
    matches: Sequence[TopicMatch],
    routes: Routes,
    now: datetime,
) -> tuple[str, ...]:
    """Store the matches a new topic finds in history, queueing alerts on their ``routes``
    (``Routes()``: matches only). Returns the channel of each alert queued."""
    try:
        with writing(engine) as connection:
            return _add_matches(connection, article_id, story_id, matches, routes, now, backfill=True)
    except IntegrityError:
        return ()  # matched already
