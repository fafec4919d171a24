"""Retention and backup, on SQLite and on a real PostgreSQL.

Old article text and story keys go; matches, alerts and stories stay; an article still in
the story window keeps what finds its story (so its event never alerts twice); and the
database gives the space back.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import monitor, one_line_error
from hostile import HostileServer
from seedsite import publish, seeds

from monitor.store import db, repository
from monitor.store.utc import UTCDateTime

NOW = datetime.now(UTC)


def backdate(engine: sa.Engine, feed: str, when: datetime) -> None:
    """Make a feed's articles (and their story keys) look fetched at ``when``."""
    stamp = {"when": when, "feed": feed}
    with engine.begin() as connection:
        ids = "SELECT a.id FROM article a JOIN feed f ON f.id = a.feed_id WHERE f.name = :feed"
        for statement in (
            f"UPDATE article SET fetched_at = :when WHERE id IN ({ids})",
            f"UPDATE story_key SET seen_at = :when WHERE article_id IN ({ids})",
        ):
            connection.execute(sa.text(statement).bindparams(sa.bindparam("when", type_=UTCDateTime())), stamp)


def counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table: int(connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())
            for table in ("article", "story", "match", "alert")
        }


def articles_of(engine: sa.Engine, feed: str) -> list[tuple[int, str, str, int]]:
    """(id, text, features, story keys) of each article of ``feed``."""
    query = sa.text(
        "SELECT a.id, a.text, a.features, (SELECT count(*) FROM story_key k WHERE k.article_id = a.id) "
        "FROM article a JOIN feed f ON f.id = a.feed_id WHERE f.name = :feed ORDER BY a.id"
    )
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(query, {"feed": feed})]  # type: ignore[misc]


def size(engine: sa.Engine) -> int:
    """SQLite: pages in the file; PostgreSQL: bytes of the story_key and article tables (TOAST too)."""
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            return int(connection.exec_driver_sql("PRAGMA page_count").scalar_one())
        query = "SELECT pg_table_size('story_key') + pg_table_size('article')"
        return int(connection.exec_driver_sql(query).scalar_one())


def test_retention_empties_old_articles_keeps_what_was_found_and_the_story_window(
    database_url: str, site: HostileServer, make_config: Any, webhook: Any
) -> None:
    items = seeds()
    feeds = [
        {"name": "old", "url": publish(site, "/old.xml", items[: len(items) // 2])},
        {"name": "recent", "url": publish(site, "/recent.xml", items[len(items) // 2 :])},
    ]
    config = make_config(
        database_url,
        feeds,
        retention={"articles": "1d"},  # shorter than the story window: the window wins
        alerts={"webhooks": [{"url": webhook.url, "name": "hook"}]},
    )
    engine = db.create_engine(database_url)
    for name in ("old", "recent"):
        assert monitor("-c", config, "poll", "--feed", name, timeout=300).returncode == 0
    backdate(engine, "old", NOW - timedelta(days=200))
    backdate(engine, "recent", NOW - timedelta(days=2))  # past retention, inside the 72 h window
    before, size_before = counts(engine), size(engine)
    assert before["match"] > 0 and before["alert"] > 0

    result = monitor("-c", config, "db", "prune")
    assert result.returncode == 0, result.stderr
    assert "matches, alerts and stories kept" in result.stdout

    assert counts(engine) == before  # no row gone: matches, alerts, stories, the articles themselves
    old = articles_of(engine, "old")
    assert old and all(text == "" and features == "" and keys == 0 for _, text, features, keys in old)
    recent = articles_of(engine, "recent")
    assert all(text and features and keys for _, text, features, keys in recent)
    # A new article of a recent event still finds its story: the candidates lookup sees the recent ones.
    with engine.connect() as connection:
        for article_id, *_ in recent:
            keys = connection.execute(
                sa.text("SELECT key FROM story_key WHERE article_id = :id"), {"id": article_id}
            ).scalars()
            found = repository._candidates(connection, sorted(keys), NOW - timedelta(hours=72))
            assert article_id in {candidate.article_id for candidate in found}
    # Pruning again finds nothing new; and the old items are still recognised, so nothing is stored twice.
    assert "emptied 0 articles" in monitor("-c", config, "db", "prune").stdout
    assert monitor("-c", config, "poll", timeout=300).returncode == 0
    assert counts(engine)["article"] == before["article"]

    # Everything past the window: every key goes, and the database gives the space back.
    backdate(engine, "recent", NOW - timedelta(days=200))
    assert monitor("-c", config, "db", "prune").returncode == 0
    assert all(keys == 0 and text == "" for _, text, _, keys in articles_of(engine, "recent"))
    assert size(engine) < size_before
    if engine.dialect.name == "sqlite":  # said in docs/operations.md: SQLite's incremental vacuum
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA freelist_count").scalar_one() == 0
    engine.dispose()


def test_without_retention_nothing_is_pruned(tmp_path: Path, make_config: Any) -> None:
    config = make_config(f"sqlite:///{tmp_path / 'm.db'}", [])
    result = monitor("-c", config, "db", "prune")
    assert result.returncode == 0 and "kept forever" in result.stdout


def test_backup_copies_a_sqlite_database_in_use(tmp_path: Path, site: HostileServer, make_config: Any) -> None:
    config = make_config(f"sqlite:///{tmp_path / 'm.db'}", [{"name": "seeds", "url": publish(site)}])
    assert monitor("-c", config, "poll", timeout=300).returncode == 0
    engine = db.create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    with engine.connect() as reader:  # a reader holds the database open meanwhile, as the daemon would
        reader.exec_driver_sql("SELECT count(*) FROM article").scalar_one()
        result = monitor("-c", config, "db", "backup", tmp_path / "copy.db")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("backed up ")
    with sqlite3.connect(tmp_path / "copy.db") as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        titles = sorted(row[0] for row in copy.execute("SELECT title FROM article"))
    assert titles == sorted(s.title for s in seeds())
    assert not (tmp_path / "copy.db.partial").exists()
    unwritable = monitor("-c", config, "db", "backup", tmp_path / "no-such-folder" / "copy.db")
    assert "backup to" in one_line_error(unwritable)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_backup_of_postgresql_points_to_pg_dump(database_url: str, make_config: Any, tmp_path: Path) -> None:
    result = monitor("-c", make_config(database_url, []), "db", "backup", tmp_path / "x")
    assert "pg_dump" in one_line_error(result)
    assert not (tmp_path / "x").exists()
