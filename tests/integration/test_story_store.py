"""Stories through the real store: dedup, grouping, copies, the window, one alert per story.

Every test runs on SQLite and on PostgreSQL (the ``database_url`` fixture), through
``repository.store_article`` as the pipeline calls it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
import synthetic
import yaml
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from conftest import ROOT
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

from monitor.article import text_identity
from monitor.model import Document, Routes, TopicMatch
from monitor.store import repository
from monitor.store.db import create_engine, downgrade, transaction, upgrade
from monitor.store.records import Filters
from monitor.store.sql import SqlStore
from monitor.store.tables import Alert, Feed, described
from monitor.store.utc import UTCDateTime
from monitor.stories import index_keys
from monitor.stories.stage import AssignStory
from monitor.text import detect_language

SEEDS = ROOT / "seeds"
LABELS = yaml.safe_load((SEEDS / "labels.yaml").read_text(encoding="utf-8"))["documents"]
NOW = datetime(2024, 10, 22, 8, 0, tzinfo=UTC)
ASSIGN_STORY = AssignStory()
CHANNELS = ("webhook:x", "email")
ROUTES = Routes(default=CHANNELS)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_engine(database_url)
    upgrade(engine)
    with transaction(engine) as session:
        session.add(Feed(id=1, name="kompas", url="https://kompas.example/feed"))
        session.add(Feed(id=2, name="heise", url="https://heise.example/feed"))
    yield engine
    engine.dispose()


def seed(name: str) -> Document:
    """A seed file as the pipeline sees it: first line the title, the rest the page text.

    Lines without a letter (004 opens with a stray ``--> -->``) are scraping debris.
    """
    path = next(SEEDS.glob(f"{name}_*.txt"))
    text = path.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if any(c.isalpha() for c in line)]
    title, body = lines[0], "\n".join(lines[1:])
    return Document(title=title, text=body, language=detect_language(f"{title}\n{body}"))


def new_article(
    doc: Document,
    url: str,
    *,
    guid: str | None = None,
    feed_id: int = 1,
    published_at: datetime = NOW,
    matches: Iterable[TopicMatch] = (),
) -> repository.NewArticle:
    """``doc`` at ``url``, with the text identity the pipeline gives it."""
    return synthetic.new_article(
        doc,
        url,
        feed_id=feed_id,
        guid=guid,
        published_at=published_at,
        matches=matches,
        text_hash=text_identity(doc.text),
    )


def store(engine: Engine, article: repository.NewArticle, now: datetime = NOW) -> repository.StoredArticle | None:
    return repository.store_article(engine, article, ROUTES, ASSIGN_STORY, now)


def stored(engine: Engine, article: repository.NewArticle, now: datetime = NOW) -> int:
    """Store an article that must be new; its story id."""
    result = store(engine, article, now)
    assert result is not None
    return result.story_id


def _story(engine: Engine, story_id: int) -> dict[str, Any]:
    """The story as `monitor stories --id N --format json` shows it."""
    found = SqlStore(engine).story(story_id)
    assert found is not None
    return found.to_json()


def match(topic: str) -> TopicMatch:
    return TopicMatch(topic, 0.9, ("bytedance",), clause="bytedance", snippet="<mark>ByteDance</mark>")


def test_seeds_are_grouped_as_labelled(engine: Engine) -> None:
    story_of = {}
    for minute, filename in enumerate(sorted(LABELS)):
        name = filename[:3]
        assert seed(name).title == LABELS[filename]["title"]
        url = f"https://outlet{name}.example/news/{name}"
        story_of[filename] = stored(engine, new_article(seed(name), url), NOW + timedelta(minutes=minute))
    for a in LABELS:
        for b in LABELS:
            same_label = LABELS[a]["story"] == LABELS[b]["story"]
            assert (story_of[a] == story_of[b]) == same_label, (a, b)
    grouped = _story(engine, story_of["000_dc6b95992fa60b00.txt"])
    assert [a["language"] for a in grouped["articles"]] == ["id", "de", "fr"]
    assert grouped["languages"] == ["de", "fr", "id"]
    assert grouped["title"] == LABELS["000_dc6b95992fa60b00.txt"]["title"]
    assert all(a["signal"].startswith("same event") for a in grouped["articles"][1:])


def test_a_syndicated_copy_joins_its_story_and_shows_why(engine: Engine) -> None:
    original = seed("002")
    story_id = stored(engine, new_article(original, "https://heise.example/news/praktikant"))
    copy = Document(
        language="de",
        title="Sabotage-Vorwurf: Bytedance entlässt Praktikanten",
        text="Startseite | Digital | KI\nLesen Sie auch: Die besten Smartphones des Jahres\n"
        + original.text
        + "\nMit Material der Nachrichtenagenturen dpa und Reuters, ergänzt von unserer Redaktion.\n"
        "Teilen\nNewsletter abonnieren",
    )
    result = store(engine, new_article(copy, "https://syndicate.example/tech/1", feed_id=2))
    assert result is not None and result.story_id == story_id and not result.new_story
    story = _story(engine, story_id)
    first, joined = story["articles"]
    assert first["signal"] == "first article" and first["similarity"] == 1.0
    assert joined["title"] == copy.title and joined["feed"] == "heise"
    assert joined["signal"].startswith("near-copy")
    assert 0.5 <= joined["similarity"] < 1.0


def test_a_batch_stores_each_article_and_keeps_the_others_when_one_fails(engine: Engine) -> None:
    found = (match("ByteDance AI"),)
    first = new_article(seed("000"), "https://kompas.example/news/1", matches=found)
    broken = new_article(seed("001"), "https://nowhere.example/1", feed_id=99, matches=found)  # no such feed
    translation = new_article(seed("002"), "https://heise.example/news/2", feed_id=2, matches=found)
    again = new_article(seed("000"), "https://kompas.example/news/1", guid="other-guid", matches=found)
    outcomes = repository.store_articles(
        engine,
        [first, broken, translation, again],
        ROUTES,
        ASSIGN_STORY,
        NOW,
    )
    stored_first, failed, joined, duplicate = outcomes
    assert isinstance(stored_first, repository.StoredArticle) and stored_first.new_story
    assert isinstance(failed, IntegrityError)
    # Written in the same transaction, the translation still finds the first article's story.
    assert isinstance(joined, repository.StoredArticle) and joined.story_id == stored_first.story_id
    assert duplicate is None
    # The failed article left no story, match or alert behind.
    [story] = [s.to_json() for s in SqlStore(engine).stories(Filters())]
    assert [a["url"] for a in story["articles"]] == [first.url, translation.url]
    assert len(SqlStore(engine).matches(Filters())) == 2
    assert len(SqlStore(engine).alerts()) == len(CHANNELS)


def test_the_same_item_is_stored_once(engine: Engine) -> None:
    doc = seed("000")
    url = "https://kompas.example/tekno/read/2024/10/22/magang-tiktok"
    assert store(engine, new_article(doc, url, guid="kompas-1")) is not None
    # Same GUID in the same feed, even under another link.
    assert store(engine, new_article(doc, url + "?page=2", guid="kompas-1")) is None
    # Same page, linked with tracking parameters, a mobile host and a fragment.
    tracked = "https://m.kompas.example/tekno/read/2024/10/22/magang-tiktok/?utm_source=x&fbclid=1#top"
    assert store(engine, new_article(doc, tracked, guid="kompas-2")) is None
    # Same text under another URL, with another headline and other page furniture.
    reposted = Document(
        language="id",
        title="Magang TikTok dipecat",
        text="Beranda | Tekno\nBaca Juga: Ponsel Terlaris\n" + doc.text.upper() + "\nBagikan",
    )
    elsewhere = new_article(reposted, "https://mirror.example/a/1", guid="mirror-1", feed_id=2)
    assert store(engine, elsewhere) is None
    assert len(SqlStore(engine).articles(Filters())) == 1


def test_an_article_outside_the_story_window_starts_a_new_story(engine: Engine) -> None:
    first = stored(engine, new_article(seed("000"), "https://kompas.example/a"))
    later = NOW + ASSIGN_STORY.window + timedelta(hours=6)
    german = new_article(seed("002"), "https://heise.example/b", published_at=later)
    result = store(engine, german, later)
    assert result is not None and result.new_story and result.story_id != first
    assert result.signal == "first article"
    # Inside the window the same report joins (the French one, same event).
    french = new_article(seed("003"), "https://lemonde.example/c", published_at=NOW + timedelta(hours=5))
    assert stored(engine, french, NOW + timedelta(hours=5)) == first


def test_one_alert_per_topic_story_and_channel(engine: Engine) -> None:
    first = store(
        engine,
        new_article(seed("000"), "https://kompas.example/a", matches=(match("ByteDance AI"), match("Doubao"))),
    )
    assert first is not None and first.alerts == 4  # 2 topics x 2 channels
    joined = store(
        engine,
        new_article(seed("002"), "https://heise.example/b", feed_id=2, matches=(match("ByteDance AI"),)),
        NOW + timedelta(hours=1),
    )
    assert joined is not None and joined.story_id == first.story_id
    assert joined.alerts == 0 and joined.matches == 1  # matched and stored, not alerted
    other = store(
        engine,
        new_article(seed("001"), "https://kompas.example/c", matches=(match("ByteDance AI"),)),
        NOW + timedelta(hours=2),
    )
    assert other is not None and other.story_id != first.story_id and other.alerts == 2
    rows = {(a.topic, a.story_id, a.channel) for a in SqlStore(engine).alerts()}
    assert len(SqlStore(engine).alerts()) == len(rows) == 6
    assert {(t, s) for t, s, _ in rows} == {
        ("ByteDance AI", first.story_id),
        ("Doubao", first.story_id),
        ("ByteDance AI", other.story_id),
    }
    assert len(SqlStore(engine).matches(Filters(topic="ByteDance AI"))) == 3
    # The database itself refuses a second alert for the same (topic, story, channel).
    with pytest.raises(IntegrityError), transaction(engine) as session:
        match_id = session.get(Alert, 1)
        assert match_id is not None
        session.add(
            Alert(
                key=match_id.key,
                topic=match_id.topic,
                story_id=first.story_id,
                match_id=match_id.match_id,
                channel=match_id.channel,
            )
        )


def test_migrations_build_the_schema_the_tables_describe(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        upgrade(engine)
        with engine.connect() as connection:
            differences = compare_metadata(
                MigrationContext.configure(connection, opts={"include_name": described}), SQLModel.metadata
            )
        assert differences == []
    finally:
        engine.dispose()


def test_a_fresh_database_is_migrated_in_one_transaction(database_url: str) -> None:
    """A process that waits for the write lock must find the schema at the head or empty,
    never between two migrations (it would then run the later ones a second time)."""
    engine = create_engine(database_url)
    commits: list[object] = []
    sa.event.listen(engine, "commit", commits.append)
    try:
        upgrade(engine)
        assert len(commits) == 1
    finally:
        engine.dispose()


def test_story_keys_survive_the_migration_to_the_covering_layout(database_url: str) -> None:
    """Keys filed under schema 0001 still find their story after 0002, and back again."""
    engine = create_engine(database_url)
    try:
        upgrade(engine, "0001")
        article = new_article(seed("000"), "https://kompas.example/a")
        keys = sorted(set(index_keys(article.features)))
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO feed (id, name, url, origin, active, error_count, dead, "
                    "interval_s) VALUES (1, 'kompas', 'https://kompas.example/feed', 'config', "
                    "true, 0, false, 0)"
                )
            )
            connection.execute(sa.text("INSERT INTO story (id, title, article_count) VALUES (7, 'first', 1)"))
            connection.execute(
                sa.text(
                    "INSERT INTO article (id, feed_id, guid, url, canonical_url, title, text, story_id, "
                    "story_similarity, story_signal, features, fetched_at) VALUES (3, 1, 'g', :url, :url, 't', "
                    "'x', 7, 1.0, 'first article', :features, :now)"
                ).bindparams(sa.bindparam("now", type_=UTCDateTime())),
                {"url": article.url, "features": article.features.to_json(), "now": NOW},
            )
            filed = sa.text("INSERT INTO story_key (key, article_id, story_id, seen_at) VALUES (:key, 3, 7, :seen)")
            filed = filed.bindparams(sa.bindparam("seen", type_=UTCDateTime()))
            connection.execute(filed, [{"key": key, "seen": NOW} for key in keys])
            connection.execute(filed, {"key": "e:never-seen", "seen": None})  # 0001 allowed it
        upgrade(engine, "0002")  # not further: only this step is undone below
        with engine.connect() as connection:
            migrated = connection.execute(sa.text("SELECT key, article_id FROM story_key ORDER BY key")).all()
        assert migrated == [(key, 3) for key in keys]
        upgrade(engine)  # today's code stores today's columns; 0002 is still undone below
        french = store(engine, new_article(seed("003"), "https://lemonde.example/c"), NOW + timedelta(hours=1))
        assert french is not None and french.story_id == 7 and french.signal.startswith("same event")
        downgrade(engine, "0001")
        with engine.connect() as connection:
            restored = connection.execute(sa.text("SELECT DISTINCT article_id, story_id FROM story_key")).all()
        assert sorted(restored) == sorted([(3, 7), (french.article_id, 7)])
    finally:
        engine.dispose()


def test_the_feed_rhythm_column_comes_and_goes_with_articles_in_place(database_url: str) -> None:
    """0003 adds feed.rhythm; undoing it must not trip the articles' foreign keys."""
    engine = create_engine(database_url)
    try:
        upgrade(engine)
        with transaction(engine) as session:
            session.add(Feed(id=1, name="kompas", url="https://kompas.example/feed"))
        assert store(engine, new_article(seed("000"), "https://kompas.example/a"), NOW) is not None
        with engine.begin() as connection:
            connection.execute(sa.text('UPDATE feed SET rhythm = \'{"dates":[],"hints":{}}\''))
        downgrade(engine, "0002")
        with engine.connect() as connection:
            assert "rhythm" not in {c["name"] for c in sa.inspect(connection).get_columns("feed")}
            assert connection.execute(sa.text("SELECT count(*) FROM article")).scalar() == 1
        upgrade(engine)
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT rhythm FROM feed")).scalar() is None
    finally:
        engine.dispose()
