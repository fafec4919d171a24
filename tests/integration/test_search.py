"""Full-text search in the topic language (`monitor search`, store.search.search_articles).

The query-language table is stored as articles, on SQLite and on PostgreSQL, and every
query of it is searched with `monitor search`: the articles found must be exactly those
`monitor match --query` matches, one by one. The index only narrows; the matcher decides.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from apiserver import free_port, served
from click.testing import CliRunner
from conftest import monitor, new_database, one_line_error, write_config
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from synthetic import new_article
from test_query_language import CASES
from test_story_store import ASSIGN_STORY, ROUTES
from test_topics_properties import SETTINGS, VOCAB, _queries

from monitor.cli import cli
from monitor.errors import QueryError, UsageError
from monitor.model import Document
from monitor.store import repository
from monitor.store.db import create_engine, transaction, upgrade
from monitor.store.search import (
    FTS_TABLE,
    compound_lookup,
    fts5_query,
    indexed_text,
    search_articles,
    write_index,
)
from monitor.store.tables import Article, Feed
from monitor.topics import TopicSet, TopicSpec, parse
from monitor.topics.fulltext import compounds, expand, narrowing

NOW = datetime(2024, 10, 22, 8, 0, tzinfo=UTC)
# Documents with a host for site: (the table's documents have none).
SITE_DOCS = [
    ("ByteDance site:heise.de", Document("", "ByteDance news", "en", "https://www.heise.de/news/bytedance-1.html")),
    ("ByteDance site:heise.de", Document("", "ByteDance news", "en", "https://notheise.de/news")),
    ("ByteDance site:(lemonde.fr OR numerama.com)", Document("", "ByteDance news", "en", "https://www.numerama.com/x")),
    ("ByteDance NOT site:example.com", Document("", "ByteDance news", "en", "https://news.example.com/a")),
]
# What only stored articles have: a text rejected as a consent wall (searched by its title only).
EXTRA_DOCS = [
    Document("Consent", "TikTok ban", "en", "https://consent.example/a", text_source="rejected: consent wall"),
]
QUERIES = list(dict.fromkeys([query for query, *_ in CASES] + [query for query, _ in SITE_DOCS] + ["TikTok ban"]))


def store_documents(engine: Engine, documents: list[Document]) -> list[int]:
    """Store each document as its own article, through the pipeline's writer; their ids."""
    with transaction(engine) as session:
        session.add(Feed(id=1, name="table", url="https://table.example/feed"))
    articles = [
        _article(doc, f"https://case{index}.example/{index}" if not doc.url else f"{doc.url}?case={index}")
        for index, doc in enumerate(documents)
    ]
    outcomes = repository.store_articles(engine, articles, ROUTES, ASSIGN_STORY, NOW)
    ids = []
    for outcome in outcomes:
        assert isinstance(outcome, repository.StoredArticle), outcome
        ids.append(outcome.article_id)
    return ids


def _article(doc: Document, url: str) -> repository.NewArticle:
    # No text identity: the table repeats texts on purpose, each case is its own article.
    return new_article(doc, url, published_at=NOW, text_source=doc.text_source)


def table_documents() -> list[Document]:
    return (
        [Document(title, text, language) for _, title, text, language, _ in CASES]
        + [doc for _, doc in SITE_DOCS]
        + EXTRA_DOCS
    )


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def table_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, list[int], list[Document]]]:
    """The query-language table stored as articles: (database URL, article ids, documents)."""
    url = new_database(request.param, request, tmp_path_factory.mktemp("search"))
    engine = create_engine(url)
    upgrade(engine)
    documents = table_documents()
    ids = store_documents(engine, documents)
    engine.dispose()
    yield url, ids, documents


def matched_by_monitor_match(query: str, ids: list[int], documents: list[Document]) -> set[int]:
    """What `monitor match --query` says of each stored document."""
    topics = TopicSet.compile([TopicSpec("query", query)])
    return {
        article_id
        for article_id, doc in zip(ids, documents, strict=True)
        if topics.match(Document(doc.title, "" if doc.text_rejected else doc.text, doc.language, doc.url))
    }


def test_the_query_table_searched_finds_what_monitor_match_matches(
    table_db: tuple[str, list[int], list[Document]], tmp_path: Path
) -> None:
    url, ids, documents = table_db
    config = write_config(tmp_path, url, [])
    runner = CliRunner()
    mismatches = []
    for query in QUERIES:
        result = runner.invoke(cli, ["-c", str(config), "search", query, "--format", "json", "--limit", "1000"])
        assert result.exit_code == 0, f"{query}: {result.output}"
        found = {row["id"] for row in json.loads(result.stdout)}
        expected = matched_by_monitor_match(query, ids, documents)
        if found != expected:
            mismatches.append((query, sorted(found - expected), sorted(expected - found)))
    assert mismatches == []
    # The table's own verdicts hold for its documents, so the comparison is not vacuous.
    for index, (query, *_, verdict) in enumerate(CASES):
        assert (ids[index] in matched_by_monitor_match(query, ids, documents)) is verdict


def test_the_query_table_searched_over_http_finds_what_monitor_match_matches(
    table_db: tuple[str, list[int], list[Document]], tmp_path: Path
) -> None:
    """The same table through GET /api/v1/search of a real `monitor serve`: the same answers."""
    url, ids, documents = table_db
    port = free_port()
    config = write_config(tmp_path, url, [], api={"listen": f"127.0.0.1:{port}"})
    mismatches = []
    with served(config, port) as server:
        for query in QUERIES:
            response = server.get("/api/v1/search", params={"q": query, "limit": 1000})
            assert response.status_code == 200, f"{query}: {response.text}"
            page = response.json()
            assert page["next_cursor"] is None and not page["bounded"], query  # the whole table in one page
            found = {row["id"] for row in page["items"]}
            expected = matched_by_monitor_match(query, ids, documents)
            if found != expected:
                mismatches.append((query, sorted(found - expected), sorted(expected - found)))
        bad = server.get("/api/v1/search", params={"q": "TikTok AND"})
        assert bad.status_code == 400
        assert bad.json()["error"] == "bad query" and bad.json()["column"] == 11
        with pytest.raises(QueryError) as raised:  # the one line `monitor match --query` prints
            TopicSet.compile([TopicSpec("query", "TikTok AND")])
        assert bad.json()["detail"] == str(raised.value)
        foreign = server.get("/api/v1/search", params={"q": "TikTok", "cursor": "bm90IG91cnM"})
        assert foreign.status_code == 400 and foreign.json()["detail"].startswith("cursor: "), foreign.text
    assert mismatches == []


@pytest.mark.parametrize(
    ("query", "title"),
    [
        ("proprietaire", "accents folded"),
        ("propriétaire", "accents folded"),
        ("豆包", "Han without spaces"),
        ("字节跳动", "Han without spaces"),
        ("バイトダンス", "Katakana"),
        ("틱톡", "Hangul inside a longer word"),
        ("Verbot", "inside a German compound"),
        ("Sabotage", "inside a German compound"),
    ],
)
def test_accents_cjk_and_compounds_are_found(
    table_db: tuple[str, list[int], list[Document]], query: str, title: str
) -> None:
    url, ids, documents = table_db
    engine = create_engine(url)
    try:
        page = search_articles(engine, query, limit=1000)
    finally:
        engine.dispose()
    assert page.items, title
    assert {item.id for item in page.items} == matched_by_monitor_match(query, ids, documents)
    assert page.narrowed and not page.bounded


def test_a_rare_word_is_looked_up_not_scanned(table_db: tuple[str, list[int], list[Document]]) -> None:
    """The index narrows: searching a word examines the articles holding it, not all of them."""
    url, _, documents = table_db
    engine = create_engine(url)
    try:
        page = search_articles(engine, "Doubao", limit=1000)
        everything = search_articles(engine, "lang:en", limit=1000)
    finally:
        engine.dispose()
    holding = sum("doubao" in f"{doc.title} {doc.text}".casefold() for doc in documents)
    assert page.scanned == holding < len(documents) // 10
    assert not everything.narrowed and everything.scanned == len(documents)


def test_a_rejected_text_is_searched_by_its_title_only(table_db: tuple[str, list[int], list[Document]]) -> None:
    url, ids, _ = table_db
    engine = create_engine(url)
    try:
        by_text = {item.id for item in search_articles(engine, '"TikTok ban"', limit=1000).items}
        by_title = search_articles(engine, "title:Consent", limit=1000).items
    finally:
        engine.dispose()
    assert ids[-1] not in by_text
    assert [item.id for item in by_title] == [ids[-1]]
    assert by_title[0].text_source == "rejected: consent wall"


def test_bad_queries_fail_with_the_line_monitor_match_prints(tmp_path: Path) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", [])
    document = tmp_path / "doc.txt"
    document.write_text("Title\nBody text\n", encoding="utf-8")
    for query in ("TikTok AND", "lang:german", "(TikTok"):
        searched = one_line_error(monitor("-c", config, "search", query))
        matched = one_line_error(monitor("-c", config, "match", "--query", query, document))
        assert searched == matched
        assert "column " in searched


def test_a_bad_cursor_or_limit_is_refused(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine)
    with pytest.raises(UsageError, match="cursor"):
        search_articles(engine, "TikTok", cursor="banana")
    with pytest.raises(QueryError, match='topic "query": column 11'):
        search_articles(engine, "TikTok AND")
    engine.dispose()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def test_pages_follow_the_cursor_newest_first_while_articles_arrive(engine: Engine) -> None:
    with transaction(engine) as session:
        session.add(Feed(id=1, name="table", url="https://table.example/feed"))
    urls = (f"https://p.example/{n}" for n in range(1000))

    def add(text: str = "Doubao grows") -> int:
        (outcome,) = repository.store_articles(
            engine, [_article(Document("", text, "en"), next(urls))], ROUTES, ASSIGN_STORY, NOW
        )
        assert isinstance(outcome, repository.StoredArticle)
        return outcome.article_id

    first = [add() for _ in range(5)]
    for _ in range(3):
        add("nothing to see")
    seen: list[int] = []
    cursor = None
    while True:
        page = search_articles(engine, "Doubao", limit=2, cursor=cursor)
        seen.extend(item.id for item in page.items)
        add()  # new articles arrive between pages: newer than the cursor, they do not shift it
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == sorted(first, reverse=True)


def test_a_query_with_nothing_to_narrow_on_scans_with_a_bound_and_says_so(engine: Engine) -> None:
    with transaction(engine) as session:
        session.add(Feed(id=1, name="table", url="https://table.example/feed"))
    docs = [Document("", f"Nachricht {i} aus Berlin", "de" if i % 3 == 0 else "en") for i in range(12)]
    ids = store_documents_after_feed(engine, docs)
    german = {article_id for article_id, doc in zip(ids, docs, strict=True) if doc.language == "de"}
    found: set[int] = set()
    cursor = None
    pages = 0
    while True:
        page = search_articles(engine, "lang:de", limit=50, cursor=cursor, bound=5)
        assert not page.narrowed
        assert page.scanned <= 5
        found.update(item.id for item in page.items)
        pages += 1
        if page.next_cursor is None:
            break
        assert page.bounded
        cursor = page.next_cursor
    assert found == german and pages == 3


def store_documents_after_feed(engine: Engine, documents: list[Document]) -> list[int]:
    outcomes = repository.store_articles(
        engine,
        [_article(doc, f"https://n.example/{i}") for i, doc in enumerate(documents)],
        ROUTES,
        ASSIGN_STORY,
        NOW,
    )
    return [outcome.article_id for outcome in outcomes if isinstance(outcome, repository.StoredArticle)]


def test_since_keeps_to_recent_articles(engine: Engine) -> None:
    with transaction(engine) as session:
        session.add(Feed(id=1, name="table", url="https://table.example/feed"))
    old = repository.store_articles(
        engine,
        [_article(Document("", "Doubao old", "en"), "https://o.example/1")],
        ROUTES,
        ASSIGN_STORY,
        NOW - timedelta(days=3),
    )
    new = repository.store_articles(
        engine,
        [_article(Document("", "Doubao new", "en"), "https://o.example/2")],
        ROUTES,
        ASSIGN_STORY,
        NOW,
    )
    assert isinstance(old[0], repository.StoredArticle) and isinstance(new[0], repository.StoredArticle)
    page = search_articles(engine, "Doubao", since=NOW - timedelta(days=1))
    assert [item.id for item in page.items] == [new[0].article_id]
    page = search_articles(engine, "Doubao", until=NOW - timedelta(days=1))
    assert [item.id for item in page.items] == [old[0].article_id]


def test_the_migration_indexes_the_articles_stored_before_it(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        upgrade(engine, "0005")
        with transaction(engine) as session:
            session.add(Feed(id=1, name="old", url="https://old.example/feed"))
            session.flush()
            for index, (title, text, language) in enumerate(
                [("Doubao", "字节跳动发布豆包大模型", "zh"), ("Verbot", "Das Tiktokverbot kommt", "de")]
            ):
                session.add(
                    Article(
                        feed_id=1, guid=str(index), url=f"https://old.example/{index}",
                        canonical_url=f"https://old.example/{index}", title=title, text=text,
                        language=language, fetched_at=NOW, features="{}",
                    )
                )  # fmt: skip
        upgrade(engine)
        assert [item.title for item in search_articles(engine, "豆包").items] == ["Doubao"]
        assert [item.title for item in search_articles(engine, "Verbot").items] == ["Verbot"]
        with engine.connect() as connection:
            # The German article's words longer than five letters: those a term may be found inside.
            assert set(connection.execute(sa.text("SELECT word FROM search_word")).scalars()) == {
                "tiktokverbot",
                "verbot",
            }
    finally:
        engine.dispose()


# --- the narrowing never loses a match, over generated queries and documents ---------------

_INDEX = sa.create_engine("sqlite://", poolclass=sa.pool.StaticPool)
_INDEXED = iter(range(1, 10**9))


def _index() -> Engine:
    with _INDEX.begin() as connection:
        if not connection.execute(sa.text("SELECT count(*) FROM sqlite_schema WHERE name = 'article_fts'")).scalar():
            connection.execute(sa.text(FTS_TABLE))
            connection.execute(sa.text("CREATE TABLE search_word (word TEXT PRIMARY KEY) WITHOUT ROWID"))
    return _INDEX


# The property tests' vocabulary, with compounds, inflections and runs of Han characters.
WORDS = [
    *VOCAB,
    "TikTokverbot",
    "Verbote",
    "Sabotage",
    "interdit",
    "larang",
    "豆包大模型",
    "KI Modell",
    "TikTok-Verbot",
]


def _articles() -> st.SearchStrategy[Document]:
    text = st.lists(st.sampled_from([*WORDS, ".", ","]), max_size=12).map(" ".join)
    return st.builds(Document, title=text, text=text, language=st.sampled_from(["de", "de", "nl", "en", "fr", None]))


@SETTINGS
@given(_queries(), _articles())
@example("Verbot", Document("", "TikTokverbot", "de"))
@example("(Sabotage NEAR/2 ban) OR 豆包", Document("", "Sabotagevorwürfe . ban", "de"))
@example('title:"KI-Modell" AND interdi*', Document("KI Modell", "interdit", "fr"))
def test_the_full_text_index_never_rules_out_a_document_the_query_matches(query: str, doc: Document) -> None:
    try:
        topics = TopicSet.compile([TopicSpec("t", query)])
    except QueryError:
        return
    need = narrowing(parse(query))
    if need is None or not topics.match(doc):
        return
    article_id = next(_INDEXED)
    with _index().begin() as connection:
        write_index(connection, article_id, indexed_text(doc.title, doc.text, doc.language, doc.text_source))
        expanded = expand(need, compound_lookup(connection, compounds(need)))
        if expanded is None:
            return
        found = connection.execute(
            sa.text("SELECT rowid FROM article_fts WHERE article_fts MATCH :q AND rowid = :id"),
            {"q": fts5_query(expanded), "id": article_id},
        ).all()
    assert found, (query, doc, fts5_query(expanded))
