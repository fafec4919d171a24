"""Stories through the real store: dedup, grouping, copies, the window, one alert per story.

Every test runs on SQLite and on PostgreSQL (the ``database_url`` fixture), through
``repository.store_article`` as the pipeline calls it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from monitor.model import Document, TopicMatch
from monitor.store import queries, repository
from monitor.store.db import create_engine, transaction, upgrade
from monitor.store.tables import Alert, Feed
from monitor.stories import StoryRules, story_features
from monitor.text import detect_language

SEEDS = Path(__file__).parent.parent / "seeds"
LABELS = yaml.safe_load((SEEDS / "labels.yaml").read_text(encoding="utf-8"))["documents"]
NOW = datetime(2024, 10, 22, 8, 0, tzinfo=UTC)
RULES = StoryRules()
CHANNELS = ["webhook:x", "email"]


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
) -> repository.NewArticle:
    return repository.NewArticle(
        feed_id=feed_id,
        guid=guid or url,
        url=url,
        title=doc.title,
        text=doc.text,
        language=doc.language,
        published_at=published_at,
        features=story_features(doc, published_at),
    )


def store(
    engine: Engine,
    article: repository.NewArticle,
    now: datetime = NOW,
    matches: tuple[TopicMatch, ...] = (),
) -> repository.StoredArticle | None:
    return repository.store_article(engine, article, matches, CHANNELS, RULES, now)


def stored(engine: Engine, article: repository.NewArticle, now: datetime = NOW) -> int:
    """Store an article that must be new; its story id."""
    result = store(engine, article, now)
    assert result is not None
    return result.story_id


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
    grouped = queries.stories(engine, story_id=story_of["000_dc6b95992fa60b00.txt"])[0]
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
    [story] = queries.stories(engine, story_id=story_id)
    first, joined = story["articles"]
    assert first["signal"] == "first article" and first["similarity"] == 1.0
    assert joined["title"] == copy.title and joined["feed"] == "heise"
    assert joined["signal"].startswith("near-copy")
    assert 0.5 <= joined["similarity"] < 1.0


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
    assert len(queries.articles(engine)) == 1


def test_an_article_outside_the_story_window_starts_a_new_story(engine: Engine) -> None:
    first = stored(engine, new_article(seed("000"), "https://kompas.example/a"))
    later = NOW + RULES.window + timedelta(hours=6)
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
        new_article(seed("000"), "https://kompas.example/a"),
        matches=(match("ByteDance AI"), match("Doubao")),
    )
    assert first is not None and first.alerts == 4  # 2 topics x 2 channels
    joined = store(
        engine,
        new_article(seed("002"), "https://heise.example/b", feed_id=2),
        NOW + timedelta(hours=1),
        matches=(match("ByteDance AI"),),
    )
    assert joined is not None and joined.story_id == first.story_id
    assert joined.alerts == 0 and joined.matches == 1  # matched and stored, not alerted
    other = store(
        engine,
        new_article(seed("001"), "https://kompas.example/c"),
        NOW + timedelta(hours=2),
        matches=(match("ByteDance AI"),),
    )
    assert other is not None and other.story_id != first.story_id and other.alerts == 2
    rows = {(a["topic"], a["story_id"], a["channel"]) for a in queries.alerts(engine)}
    assert len(queries.alerts(engine)) == len(rows) == 6
    assert {(t, s) for t, s, _ in rows} == {
        ("ByteDance AI", first.story_id),
        ("Doubao", first.story_id),
        ("ByteDance AI", other.story_id),
    }
    assert len(queries.matches(engine, topic="ByteDance AI")) == 3
    # The database itself refuses a second alert for the same (topic, story, channel).
    with pytest.raises(IntegrityError), transaction(engine) as session:
        match_id = session.get(Alert, 1)
        assert match_id is not None
        session.add(Alert(topic="Doubao", story_id=first.story_id, match_id=match_id.match_id, channel="email"))
