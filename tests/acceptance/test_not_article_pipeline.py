"""Pages that are not an article, through the real command line and local sites.

A site that shows the fetcher a consent wall, a captcha or an "unavailable" page must
not fold its unrelated articles into one story (one alert for all of them), and a site
that serves one unknown interstitial for every link must not lose its articles as
"duplicates" of the first one. Each article says where its text came from.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from conftest import monitor
from hostile import HostileServer
from synthetic import new_article

from monitor.config import load_config
from monitor.service import open_store
from monitor.store.records import Filters

GERMAN_CONSENT_WALL = (
    "Wir setzen auf unserer Website Cookies und andere Technologien ein, um Ihnen den vollen "
    "Funktionsumfang unseres Angebotes anzubieten. Zudem ermöglichen Cookies die Personalisierung "
    "von Inhalten und dienen der Ausspielung von Werbung. Durch die weitere Nutzung unserer Website "
    "erklären Sie sich mit dem Einsatz von Cookies einverstanden. Weitere Informationen finden Sie "
    "in unserer Datenschutzerklärung."
)
CAPTCHA = (
    "We are sorry, but we have recorded a huge amount of connections from the IP address you are "
    "connecting from. We suspect that someone has misused the IP address you are using. If you want "
    "to connect with us, select I AM NOT A ROBOT. Your IP address: 192.0.2.55"
)
CHINESE_UNAVAILABLE = (
    "很抱歉，此文章不可用。该内容已被删除，或者您访问的链接已经失效。如果您想阅读本文，请致电我们的客户服务团队，"
    "工作时间为周一至周五上午九点至下午六点。感谢您的耐心等待，我们很快就会为您带来全新的改进体验。"
    "您也可以返回首页浏览其他新闻，或者使用站内搜索查找相关内容。此文章不可用的原因可能包括版权到期、"
    "内容调整或者技术维护。给您带来的不便，我们深表歉意。该内容已被删除，无法恢复。"
)
# A page a site serves for every link that no rule knows: only its repetition gives it away.
INTERSTITIAL = (
    "Welcome to the Valley Courier reader experience. Our pages are being prepared for your device "
    "and will appear in a moment. While you wait, remember that the Courier has served the valley "
    "since 1921 with local reporting, sports, culture and weather from our own newsroom. Thank you "
    "for reading, and for choosing independent local journalism every morning of the week."
)

GERMAN_ARTICLES = [
    (
        "Stadtrat beschließt neue Straßenbahnlinie nach Nordheim",
        "Der Stadtrat hat am Dienstagabend mit großer Mehrheit den Bau einer neuen Straßenbahnlinie "
        "vom Hauptbahnhof nach Nordheim beschlossen. Die Arbeiten sollen im Frühjahr beginnen.",
    ),
    (
        "Bäckerei Krumm schließt nach 120 Jahren ihre Filiale am Markt",
        "Nach 120 Jahren gibt die Bäckerei Krumm ihre Filiale am Marktplatz auf. Die Inhaberin nennt "
        "gestiegene Energiekosten und fehlendes Personal als Gründe für die Schließung.",
    ),
]
ENGLISH_ARTICLES = [
    ("Harbour ferry returns after winter repairs", "The harbour ferry resumed its crossings on Monday."),
    ("Library opens new children's reading room", "The central library opened a reading room for children."),
    ("Council delays vote on parking fees", "The vote on higher parking fees was postponed to March."),
    ("Orchestra announces spring season", "The city orchestra presented twelve concerts for the spring."),
]
CHINESE_ARTICLES = [
    ("新加坡总理发表新年致辞", "李显龙总理在新年致辞中表示，全球化将继续帮助新加坡取得成功。"),
    ("诺福克上空出现流星雨", "今年的第一场流星雨将于本周末达到高峰，天文爱好者可在黎明前观看。"),
]


def wall_page(text: str, language: str) -> bytes:
    """The page a fetcher gets instead of the article: the same for every link."""
    return f"""<!DOCTYPE html>
<html lang="{language}"><head><meta charset="utf-8"><title>Hinweis</title></head>
<body><main><div class="overlay"><p>{html.escape(text)}</p>
<p><button>OK</button></p></div></main></body></html>""".encode()


def feed_xml(base: str, prefix: str, articles: list[tuple[str, str]], *, summaries: bool = True) -> bytes:
    start = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    items = "\n".join(
        f"""<item><title>{html.escape(title)}</title><link>{base}/{prefix}/{i}.html</link>
<guid isPermaLink="false">{prefix}-{i}</guid><pubDate>{format_datetime(start + timedelta(hours=i))}</pubDate>
{f"<description>{html.escape(summary)}</description>" if summaries else ""}</item>"""
        for i, (title, summary) in enumerate(articles)
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>{prefix}</title><link>{base}/</link><description>{prefix}</description>
{items}
</channel></rss>""".encode()


def publish(
    site: HostileServer,
    prefix: str,
    articles: list[tuple[str, str]],
    page: bytes,
    *,
    summaries: bool = True,
) -> dict[str, str]:
    """A feed of ``articles`` on ``site`` whose every link answers ``page``; its config entry."""
    for i in range(len(articles)):
        site.serve(f"/{prefix}/{i}.html", page, headers={"content-type": "text/html; charset=utf-8"})
    body = feed_xml(site.url(""), prefix, articles, summaries=summaries)
    site.serve(f"/{prefix}.xml", body, headers={"content-type": "application/rss+xml; charset=utf-8"})
    return {"name": prefix, "url": site.url(f"/{prefix}.xml")}


def poll(config: Path) -> str:
    result = monitor("--config", config, "poll")
    assert result.returncode == 0, result.stderr
    return result.stdout


def query(config: Path, *args: str) -> list[dict[str, Any]]:
    result = monitor("--config", config, *args, "--format", "json", "--limit", "500")
    assert result.returncode == 0, result.stderr
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def test_two_sites_behind_the_same_german_cookie_wall_keep_unrelated_articles_apart(
    tmp_path: Path, site: HostileServer, make_config: Any
) -> None:
    with HostileServer() as other:
        feeds = [
            publish(site, "zeitung", GERMAN_ARTICLES[:1], wall_page(GERMAN_CONSENT_WALL, "de")),
            publish(other, "anzeiger", GERMAN_ARTICLES[1:], wall_page(GERMAN_CONSENT_WALL, "de")),
        ]
        config = make_config(f"sqlite:///{tmp_path / 'm.db'}", feeds)
        poll(config)
    articles = query(config, "articles")
    assert sorted(a["title"] for a in articles) == sorted(title for title, _ in GERMAN_ARTICLES)
    summaries = dict(GERMAN_ARTICLES)
    for article in articles:
        assert article["text_source"] == "feed"
        assert article["text"] == summaries[article["title"]]
        assert article["language"] == "de"
    stories = query(config, "stories")
    assert len(stories) == 2 and len({a["story_id"] for a in articles}) == 2


def test_captcha_pages_fall_back_to_the_feed_and_without_a_summary_are_rejected(
    tmp_path: Path, site: HostileServer, make_config: Any
) -> None:
    feeds = [
        publish(site, "with-summaries", ENGLISH_ARTICLES[:2], wall_page(CAPTCHA, "en")),
        publish(site, "titles-only", ENGLISH_ARTICLES[2:], wall_page(CAPTCHA, "en"), summaries=False),
    ]
    config = make_config(f"sqlite:///{tmp_path / 'm.db'}", feeds)
    poll(config)
    articles = {a["title"]: a for a in query(config, "articles")}
    assert len(articles) == 4
    for title, summary in ENGLISH_ARTICLES[:2]:
        assert (articles[title]["text_source"], articles[title]["text"]) == ("feed", summary)
    for title, _ in ENGLISH_ARTICLES[2:]:
        # The captcha text is kept to be looked at, marked as what it is.
        assert articles[title]["text_source"] == "rejected: captcha"
        assert "NOT A ROBOT" in articles[title]["text"]
    assert len({a["story_id"] for a in articles.values()}) == 4
    table = monitor("--config", config, "articles")
    assert "text_source" in table.stdout and "rejected: captcha" in table.stdout


def test_a_chinese_unavailable_page_is_no_copy(tmp_path: Path, site: HostileServer, make_config: Any) -> None:
    feeds = [
        publish(site, "xinwen", CHINESE_ARTICLES[:1], wall_page(CHINESE_UNAVAILABLE, "zh")),
        publish(site, "ribao", CHINESE_ARTICLES[1:], wall_page(CHINESE_UNAVAILABLE, "zh"), summaries=False),
    ]
    config = make_config(f"sqlite:///{tmp_path / 'm.db'}", feeds)
    poll(config)
    articles = {a["title"]: a for a in query(config, "articles")}
    assert articles[CHINESE_ARTICLES[0][0]]["text_source"] == "feed"
    assert articles[CHINESE_ARTICLES[1][0]]["text_source"] == "rejected: unavailable"
    assert len(query(config, "stories")) == 2


def test_one_interstitial_for_every_link_of_a_site_loses_no_article(
    database_url: str, site: HostileServer, make_config: Any
) -> None:
    """Before: the interstitial's text hash made every later article of the site a duplicate."""
    feed = publish(site, "courier", ENGLISH_ARTICLES, wall_page(INTERSTITIAL, "en"))
    config = make_config(database_url, [feed])
    out = poll(config)
    assert "4 entries, 4 new, 4 stored" in out, out
    articles = {a["title"]: a for a in query(config, "articles")}
    assert len(articles) == 4
    sources = sorted(a["text_source"] for a in articles.values())
    # Two links may show one page by chance; from the third link on it is the site's, not the article's.
    assert sources == ["feed", "feed", "page", "page"]
    for title, summary in ENGLISH_ARTICLES:
        if articles[title]["text_source"] == "feed":
            assert articles[title]["text"] == summary
    # A later article of the same site falls back at once.
    more = [*ENGLISH_ARTICLES, ("Bridge closed for inspection", "The old bridge is closed until Friday.")]
    publish(site, "courier", more, wall_page(INTERSTITIAL, "en"))
    assert "5 entries, 1 new, 1 stored" in poll(config)
    latest = {a["title"]: a for a in query(config, "articles")}["Bridge closed for inspection"]
    assert latest["text_source"] == "feed"


def test_articles_stored_before_the_text_source_are_from_their_page(tmp_path: Path, make_config: Any) -> None:
    """Migration 0004 marks existing rows "page"; the JSON shape carries the field."""
    import sqlalchemy as sa

    from monitor.store.db import create_engine, upgrade

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    upgrade(engine, "0003")
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO feed (id, name, url, origin, active, error_count, dead, interval_s) "
                "VALUES (1, 'old', 'https://old.example/feed', 'config', true, 0, false, 0)"
            )
        )
        connection.execute(sa.text("INSERT INTO story (id, title, article_count) VALUES (1, 'old story', 1)"))
        connection.execute(
            sa.text(
                "INSERT INTO article (id, feed_id, guid, url, canonical_url, title, text, story_id, "
                "story_similarity, story_signal, features) VALUES (1, 1, 'g', 'https://old.example/a', "
                "'https://old.example/a', 'old article', 'its text', 1, 1.0, 'first article', '{}')"
            )
        )
    engine.dispose()
    config = load_config(make_config(url, [{"name": "old", "url": "https://old.example/feed"}]))
    rows = open_store(config).articles(Filters())
    assert [(r.title, r.text_source) for r in rows] == [("old article", "page")]


def test_text_source_and_site_text_come_and_go_with_articles_in_place(database_url: str) -> None:
    """0004 undone keeps the articles (their matches and story keys point at them); redone, they read "page"."""
    import sqlalchemy as sa

    from monitor.model import Document, Routes, TopicMatch
    from monitor.store import repository
    from monitor.store.db import create_engine, downgrade, transaction, upgrade
    from monitor.store.tables import Feed
    from monitor.stories.stage import AssignStory

    engine = create_engine(database_url)
    try:
        upgrade(engine)
        with transaction(engine) as session:
            session.add(Feed(id=1, name="courier", url="https://courier.example/feed"))
        title, text = ENGLISH_ARTICLES[0]
        document = Document(title=title, text=text * 5, language="en", url="https://courier.example/a")
        stored = repository.store_article(
            engine,
            new_article(
                document,
                document.url,
                guid="a",
                matches=[TopicMatch("ferries", 0.5, ("ferry",), snippet="ferry")],
                text_source="feed",
                page_hash="0" * 32,
            ),
            Routes(),
            AssignStory(),
        )
        assert isinstance(stored, repository.StoredArticle)
        downgrade(engine, "0003")
        with engine.connect() as connection:
            inspector = sa.inspect(connection)
            assert "text_source" not in {c["name"] for c in inspector.get_columns("article")}
            assert "site_text" not in inspector.get_table_names()
            assert connection.execute(sa.text("SELECT count(*) FROM match")).scalar() == 1
        upgrade(engine)
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT text_source FROM article")).scalar() == "page"
            assert connection.execute(sa.text("SELECT count(*) FROM site_text")).scalar() == 0
    finally:
        engine.dispose()
