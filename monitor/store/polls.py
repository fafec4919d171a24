"""The statements of polling: the start-up chores, claiming due feeds, recording how
their polls went, claiming due alerts and the leases.

A cycle where every feed answers 304 runs nothing else, so these are SQLAlchemy Core
statements over light descriptions of the columns they touch, not the ORM's models: a
quiet poll loads neither SQLModel nor SQLAlchemy's ORM (0.15 s of CPU at every start).
``tests/unit/test_poll_columns.py`` checks the columns below against the tables
(``monitor.store.tables``, the schema's one definition).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from monitor import polling
from monitor.store.db import reading_connection, serialised, upsert, writing
from monitor.store.interface import (
    DISCOVERED,
    LEASE,
    Backlog,
    FeedState,
    HeldLeases,
    OperatorWatch,
    PollRecord,
    WantedFeed,
    free_name,
)
from monitor.store.utc import UTCDateTime, utcnow

log = logging.getLogger(__name__)

# Advisory lock keys (PostgreSQL) of the start-up chores that one process at a time runs;
# 7403110 is the migrations' (store/migrations/env.py).
SYNC_FEEDS_CHORE = 7403111
RECORD_TOPICS_CHORE = 7403112

FEED = sa.table(
    "feed",
    sa.column("id", sa.Integer()),
    sa.column("name", sa.String()),
    sa.column("url", sa.String()),
    sa.column("origin", sa.String()),
    sa.column("active", sa.Boolean()),
    sa.column("interval_override_s", sa.Integer()),
    sa.column("etag", sa.String()),
    sa.column("last_modified", sa.String()),
    sa.column("body_hash", sa.String()),
    sa.column("last_status", sa.String()),
    sa.column("last_error", sa.String()),
    sa.column("last_warning", sa.String()),
    sa.column("error_count", sa.Integer()),
    sa.column("failing_since", UTCDateTime()),
    sa.column("dead", sa.Boolean()),
    sa.column("interval_s", sa.Integer()),
    sa.column("rhythm", sa.String()),
    sa.column("last_checked_at", UTCDateTime()),
    sa.column("next_check_at", UTCDateTime()),
    sa.column("lease_owner", sa.String()),
    sa.column("lease_expires_at", UTCDateTime()),
)
ALERT = sa.table(
    "alert",
    sa.column("id", sa.Integer()),
    sa.column("channel", sa.String()),
    sa.column("status", sa.String()),
    sa.column("created_at", UTCDateTime()),
    sa.column("next_attempt_at", UTCDateTime()),
    sa.column("lease_owner", sa.String()),
    sa.column("lease_expires_at", UTCDateTime()),
)
TOPIC = sa.table(
    "topic",
    sa.column("name", sa.String()),
    sa.column("query", sa.String()),
    sa.column("updated_at", UTCDateTime()),
)
LEASED = (FEED, ALERT)  # the tables whose rows workers lease


# --- the start-up chores -------------------------------------------------------------------


def sync_feeds(engine: Engine, feeds: Sequence[WantedFeed], now: datetime | None = None) -> None:
    """Make the feed table follow the config file; feeds added by hand are left alone.

    A feed removed from the file keeps its history but is no longer polled; a renamed
    one keeps its history too (feeds are known by URL). Safe to race: processes starting
    together take turns (an advisory lock on PostgreSQL, the write lock on SQLite), and
    a row another process inserted meanwhile is skipped, not an error.
    """
    now = now or utcnow()
    by_url = {f.url: f for f in feeds}
    c = FEED.c
    with writing(engine) as connection:
        serialised(connection, SYNC_FEEDS_CHORE)
        known = {
            row.url: row
            for row in connection.execute(sa.select(c.id, c.name, c.url, c.origin, c.active, c.interval_override_s))
        }
        states = []
        for feed in known.values():
            wanted = by_url.get(feed.url)
            if wanted is not None:
                state = ("config", True, _seconds(wanted.interval))
                if (feed.origin, feed.active, feed.interval_override_s) != state:  # most starts change nothing
                    states.append(_state(feed.id, *state))
            elif feed.origin == "config" and feed.active:
                states.append(_state(feed.id, feed.origin, False, feed.interval_override_s))
        taken = {feed.name for feed in known.values()}
        renames, new_rows = [], []
        for cfg in feeds:
            existing = known.get(cfg.url)
            if existing is None:
                new_rows.append(_new_feed(free_name(cfg.name, taken), cfg.url, _seconds(cfg.interval), now))
            elif existing.name != cfg.name and cfg.name not in taken:
                taken.discard(existing.name)
                renames.append({"feed_id": existing.id, "name": cfg.name})
                taken.add(cfg.name)
        if states:
            connection.execute(_SET_STATE, states)
        for rename in renames:  # in the order chosen: each takes a name no feed holds by then
            connection.execute(_RENAME, rename)
        if new_rows:  # after the renames: a new feed may take a name one of them gave up
            connection.execute(upsert(connection.dialect.name, FEED).on_conflict_do_nothing(), new_rows)


_SET_STATE = (
    FEED.update()
    .where(FEED.c.id == sa.bindparam("feed_id"))
    .values(origin=sa.bindparam("origin"), active=sa.bindparam("active"), interval_override_s=sa.bindparam("override"))
)
_RENAME = FEED.update().where(FEED.c.id == sa.bindparam("feed_id")).values(name=sa.bindparam("name"))


def _state(feed_id: int, origin: str, active: bool, override: int | None) -> dict[str, Any]:
    return {"feed_id": feed_id, "origin": origin, "active": active, "override": override}


def _new_feed(name: str, url: str, override: int | None, now: datetime) -> dict[str, Any]:
    """A feed of the config file's, due now (the other columns' defaults are ``tables.Feed``'s)."""
    return {
        "name": name,
        "url": url,
        "origin": "config",
        "active": True,
        "interval_override_s": override,
        "error_count": 0,
        "dead": False,
        "interval_s": 0,
        "next_check_at": now,
    }


def _seconds(interval: timedelta | None) -> int | None:
    return int(interval.total_seconds()) if interval else None


def changed_topics(engine: Engine, queries: dict[str, str], now: datetime | None = None) -> list[str]:
    """Record the configured queries; return the names that are new or whose query changed."""
    now = now or utcnow()
    with writing(engine) as connection:
        # Processes starting together take turns: the first records a changed topic and
        # backfills it; the others find it recorded and do not.
        serialised(connection, RECORD_TOPICS_CHORE)
        known = {row.name: row.query for row in connection.execute(sa.select(TOPIC.c.name, TOPIC.c.query))}
        added = [{"name": n, "query": q, "updated_at": now} for n, q in queries.items() if n not in known]
        edited = [{"topic": n, "query": q} for n, q in queries.items() if n in known and known[n] != q]
        if added:
            connection.execute(TOPIC.insert(), added)
        if edited:
            edit = TOPIC.update().where(TOPIC.c.name == sa.bindparam("topic"))
            connection.execute(edit.values(query=sa.bindparam("query"), updated_at=now), edited)
    return [name for name, query in queries.items() if known.get(name) != query]


def active_feeds(engine: Engine) -> list[tuple[str, str]]:
    """(name, url) of every polled feed."""
    with reading_connection(engine) as connection:
        query = sa.select(FEED.c.name, FEED.c.url).where(FEED.c.active).order_by(FEED.c.name)
        return [(name, url) for name, url in connection.execute(query)]


# --- claiming and recording polls --------------------------------------------------------------


def _claim(
    connection: sa.Connection,
    table: sa.TableClause,
    due: sa.ColumnElement[bool],
    order: Any,
    owner: str,
    now: datetime,
    lease: timedelta,
    limit: int,
) -> list[int]:
    """Lease up to ``limit`` due rows to ``owner``; rows leased by a dead worker come back when the lease expires."""
    free = sa.or_(table.c.lease_expires_at.is_(None), table.c.lease_expires_at < now)
    pick = sa.select(table.c.id).where(due, free).order_by(order).limit(limit)
    if connection.dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    claim = (
        sa.update(table)
        .where(table.c.id.in_(pick.scalar_subquery()))
        .values(lease_owner=owner, lease_expires_at=now + lease)
        .returning(table.c.id)
    )
    return [row[0] for row in connection.execute(claim)]


def claim_due_feeds(
    engine: Engine,
    owner: str,
    now: datetime,
    *,
    limit: int = 500,
    lease: timedelta = LEASE,
    names: Iterable[str] | None = None,
) -> list[FeedState]:
    """Lease the feeds whose time has come; with ``names``, those feeds due or not (empty: all)."""
    c = FEED.c
    due = c.active & ~c.dead
    if names is None:
        due = due & (c.next_check_at <= now)
    elif wanted := list(names):
        due = due & c.name.in_(wanted)
    limit = limit if names is None else 1_000_000
    with writing(engine) as connection:
        ids = _claim(connection, FEED, due, c.next_check_at, owner, now, lease, limit)
        polled = sa.select(
            c.id,
            c.name,
            c.url,
            c.etag,
            c.last_modified,
            c.body_hash,
            c.error_count,
            c.failing_since,
            c.interval_override_s,
            c.rhythm,
            c.origin,
        )
        rows = connection.execute(polled.where(c.id.in_(ids)).order_by(c.name)).all()
        return [
            FeedState(
                id=f.id,
                name=f.name,
                url=f.url,
                etag=f.etag,
                last_modified=f.last_modified,
                body_hash=f.body_hash,
                error_count=f.error_count,
                failing_since=f.failing_since,
                interval_override=timedelta(seconds=f.interval_override_s) if f.interval_override_s else None,
                rhythm=_rhythm(f),
                trusted=f.origin != DISCOVERED,
            )
            for f in rows
        ]


def _rhythm(feed: Any) -> polling.Rhythm:
    """``feed``: a row with its name and rhythm."""
    try:
        return polling.Rhythm.from_json(feed.rhythm)
    except (ValueError, KeyError, TypeError):
        log.warning("feed %s: unreadable rhythm %.80r; starting afresh", feed.name, feed.rhythm)
        return polling.Rhythm()


def next_feed_due(engine: Engine) -> datetime | None:
    """When the next feed falls due: its next check, or its lease's end if that is later
    (a feed being polled, here or by another worker, is not due before). None: no feed."""
    check, lease = FEED.c.next_check_at, FEED.c.lease_expires_at
    when = sa.case((lease > check, lease), else_=check)
    query = sa.select(sa.type_coerce(sa.func.min(when), UTCDateTime())).where(FEED.c.active & ~FEED.c.dead)
    with reading_connection(engine) as connection:
        due: datetime | None = connection.execute(query).scalar()
        return due


def _when(condition: Any, then: Any, otherwise: Any) -> Any:
    return sa.case((condition, then), else_=otherwise)


_FAILED = sa.bindparam("failed", type_=sa.Boolean())
_PARSED = sa.bindparam("parsed", type_=sa.Boolean())
_NOW = sa.bindparam("now", type_=UTCDateTime())
_RECORD_POLL = (
    FEED.update()
    .where(FEED.c.id == sa.bindparam("feed_id"))
    .values(
        last_checked_at=_NOW,
        next_check_at=sa.bindparam("next_check_at", type_=UTCDateTime()),
        interval_s=sa.bindparam("interval_s"),
        last_status=sa.bindparam("status"),
        last_error=sa.bindparam("error"),
        last_warning=sa.bindparam("warning"),
        dead=sa.bindparam("dead"),
        lease_owner=None,
        lease_expires_at=None,
        error_count=_when(_FAILED, FEED.c.error_count + 1, 0),
        failing_since=_when(_FAILED, sa.func.coalesce(FEED.c.failing_since, _NOW), None),
        # A 304 or a failure keeps the validators and the rhythm of the last parse.
        etag=_when(_PARSED, sa.bindparam("etag"), FEED.c.etag),
        last_modified=_when(_PARSED, sa.bindparam("last_modified"), FEED.c.last_modified),
        body_hash=_when(_PARSED, sa.bindparam("body_hash"), FEED.c.body_hash),
        rhythm=_when(_PARSED, sa.bindparam("rhythm"), FEED.c.rhythm),
    )
)


def record_polls(engine: Engine, records: Sequence[PollRecord], operator: OperatorWatch | None = None) -> None:
    """Store how each poll went and when to poll next, and release the leases: one
    statement for the lot, since most polls are 304s that change little. A feed failing
    for ``operator.alert_after``, or recovered after that, queues an operator alert in
    the same transaction."""
    if not records:
        return
    rows = [
        {
            "feed_id": r.feed_id,
            "now": r.checked_at,
            "next_check_at": r.next_check_at,
            "interval_s": int(r.interval.total_seconds()),
            "status": r.status,
            "error": r.error,
            "warning": r.warning,
            "dead": r.dead,
            "failed": r.failed,
            "parsed": r.outcome is polling.PollOutcome.OK,
            "etag": r.etag,
            "last_modified": r.last_modified,
            "body_hash": r.body_hash,
            "rhythm": r.rhythm.to_json() if r.rhythm else None,
        }
        for r in records
    ]
    with writing(engine) as connection:
        connection.execute(_RECORD_POLL, rows)
        if operator is not None:
            from monitor.store import notices  # the outbox's other rows: with an operator channel only

            notices.queue_feed_changes(connection, records, operator.channel, operator.alert_after)


# --- claiming alerts, the leases, health -------------------------------------------------------


def claim_due_alerts(
    engine: Engine,
    owner: str,
    now: datetime,
    *,
    limit: int = 100,
    lease: timedelta = LEASE,
    channels: Sequence[str] | None = None,
    other_than: Sequence[str] | None = None,
) -> list[int]:
    """Lease due alerts of ``channels`` (all when None), or of every channel but ``other_than``."""
    c = ALERT.c
    due = (c.status == "pending") & (c.next_attempt_at <= now)
    if channels is not None:
        due = due & c.channel.in_(list(channels))
    if other_than is not None:
        due = due & c.channel.not_in(list(other_than))
    with writing(engine) as connection:
        return _claim(connection, ALERT, due, c.next_attempt_at, owner, now, lease, limit)


def renew_leases(engine: Engine, owner: str, held: HeldLeases, until: datetime) -> None:
    """Extend the leases of the work still in progress; one short write, none when idle."""
    work = [(table, sorted(ids)) for table, ids in ((FEED, held.feeds), (ALERT, held.alerts)) if ids]
    if not work:
        return
    with writing(engine) as connection:
        for table, ids in work:
            connection.execute(
                sa.update(table).where(table.c.lease_owner == owner, table.c.id.in_(ids)).values(lease_expires_at=until)
            )


def lease_owners(engine: Engine) -> set[str]:
    """Every worker that holds a lease on a feed or an alert, expired or not."""
    with reading_connection(engine) as connection:
        found: set[str] = set()
        for table in LEASED:
            owner = table.c.lease_owner
            owners = connection.execute(sa.select(owner).where(owner.is_not(None)).distinct())
            found.update(name for (name,) in owners)
        return found


def release_leases(engine: Engine, owner: str, keep: HeldLeases | None = None) -> None:
    """Give back what a worker holds (but the work in ``keep``): a stopping one's, a dead one's,
    or the polls a live one abandoned, so nobody waits for them to expire."""
    keep = keep or HeldLeases()
    with writing(engine) as connection:
        for table, kept in ((FEED, keep.feeds), (ALERT, keep.alerts)):
            connection.execute(
                sa.update(table)
                .where(table.c.lease_owner == owner, table.c.id.not_in(sorted(kept)))
                .values(lease_owner=None, lease_expires_at=None)
            )


def backlog(engine: Engine, now: datetime) -> Backlog:
    """How long the oldest undelivered alert has waited, and how many due feeds no worker holds."""
    f = FEED.c
    free = sa.or_(f.lease_expires_at.is_(None), f.lease_expires_at < now)
    due = f.active & ~f.dead & (f.next_check_at <= now) & free
    oldest_query = sa.select(sa.type_coerce(sa.func.min(ALERT.c.created_at), UTCDateTime())).where(
        ALERT.c.status == "pending"
    )
    with reading_connection(engine) as connection:
        oldest: datetime | None = connection.execute(oldest_query).scalar()
        count = connection.execute(sa.select(sa.func.count()).select_from(FEED).where(due)).scalar_one()
    return Backlog(max(now - oldest, timedelta(0)) if oldest else timedelta(0), int(count))


def probe_write(engine: Engine) -> None:
    """A real write that changes nothing: raises StorageError while the database refuses writes."""
    with writing(engine) as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = version_num"))
