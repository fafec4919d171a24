"""Retention: old article text and story keys go, in short batches; what was found stays.

An article past retention keeps its row: title, URL, canonical URL and text hash (so a
feed that serves it again is still recognised as the same item), its story, matches and
alerts. Its text and story features are emptied and its story keys deleted. Keys are
only read inside the story window (a new article's candidates), so a cutoff at least
that old never lets an event still in the window start a second story and a second alert.
Each batch is one short write transaction: the daemon's own writes go on between them.
Then the freed space is given back: SQLite's incremental vacuum (databases created with
``auto_vacuum=INCREMENTAL``, as the monitor creates them), PostgreSQL's plain VACUUM.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from monitor.store.db import writing
from monitor.store.interface import Pruned
from monitor.store.utc import UTCDateTime

ARTICLES_PER_BATCH = 500
KEYS_PER_BATCH = 5000  # about 15 keys per article
VACUUM_PAGES = 2000  # SQLite pages given back per transaction (8 MB at 4 KiB)

_OLD_KEYS = sa.text(
    "DELETE FROM story_key WHERE (key, seen_at, article_id) IN "
    "(SELECT key, seen_at, article_id FROM story_key WHERE seen_at < :before LIMIT :batch)"
).bindparams(sa.bindparam("before", type_=UTCDateTime()))
_OLD_ARTICLES = sa.text(
    "SELECT id FROM article WHERE id > :after AND fetched_at < :before AND (text <> '' OR features <> '') "
    "ORDER BY id LIMIT :batch"
).bindparams(sa.bindparam("before", type_=UTCDateTime()))
_EMPTY = sa.text("UPDATE article SET text = '', features = '' WHERE id IN :ids").bindparams(
    sa.bindparam("ids", expanding=True)
)


def prune(engine: Engine, before: datetime) -> Pruned:
    """Empty the text and features of the articles fetched before ``before`` and delete
    the story keys filed before it; then give the space back. The caller keeps ``before``
    at least a story window in the past."""
    keys = 0
    while True:
        with writing(engine) as connection:
            deleted = connection.execute(_OLD_KEYS, {"before": before, "batch": KEYS_PER_BATCH}).rowcount
        keys += deleted
        if deleted < KEYS_PER_BATCH:
            break
    articles, after = 0, 0
    while True:
        with writing(engine) as connection:
            ids = list(
                connection.execute(
                    _OLD_ARTICLES, {"after": after, "before": before, "batch": ARTICLES_PER_BATCH}
                ).scalars()
            )
            if ids:
                connection.execute(_EMPTY, {"ids": ids})
        articles += len(ids)
        if len(ids) < ARTICLES_PER_BATCH:
            break
        after = ids[-1]
    if articles or keys:
        _give_space_back(engine)
    return Pruned(articles=articles, story_keys=keys)


def _give_space_back(engine: Engine) -> None:
    if engine.dialect.name == "sqlite":
        free = None
        while True:
            with writing(engine) as connection:
                incremental = connection.exec_driver_sql("PRAGMA auto_vacuum").scalar() == 2
                left = connection.exec_driver_sql("PRAGMA freelist_count").scalar()
                # Older databases were made without it: their free pages are reused, not returned.
                if not incremental or not left or left == free:
                    return
                connection.exec_driver_sql(f"PRAGMA incremental_vacuum({VACUUM_PAGES})")
                free = left
    elif engine.dialect.name == "postgresql":
        # Plain VACUUM: takes no lock that stops reads or writes; empty pages at a table's end are returned.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM article, story_key")
