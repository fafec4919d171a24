"""The web page's HTML over a real database (SQLite and PostgreSQL): what is escaped, what is
marked, and how a browser's token is taken. The browser itself is tests/acceptance/test_web.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from apiserver import free_port, served
from conftest import new_database, write_config
from test_story_store import new_article, store

from monitor.api.web import Piece, pieces
from monitor.model import Document
from monitor.store.db import create_engine, transaction, upgrade
from monitor.store.tables import Feed
from monitor.topics import TopicSet, TopicSpec

TOPIC = TopicSpec("Hostile", 'script OR "AT&T"')
HOSTILE = Document(
    title='<script>alert("title")</script> AT&T buys <b>bold</b>',
    text="A sentence first. Then <script>alert(1)</script> and AT&T again, with <img src=x onerror=alert(2)>.",
    language="en",
)
READ = "read-token-0123456789abcdef"
ADMIN = "admin-token-0123456789abcdef"


@pytest.fixture(params=["sqlite", "postgresql"])
def story_id(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, int]]:
    url = new_database(request.param, request, tmp_path)
    engine = create_engine(url)
    upgrade(engine)
    with transaction(engine) as session:
        session.add(Feed(id=1, name="<i>Outlet</i> & Co", url="https://outlet.example/feed"))
    found = TopicSet.compile([TOPIC]).match(HOSTILE)
    assert found  # the topic matches, so a snippet with hits is stored
    stored = store(engine, new_article(HOSTILE, "https://outlet.example/a?x=1&y=<2>", matches=found))
    assert stored is not None
    engine.dispose()
    yield url, stored.story_id


@contextmanager
def client(url: str, directory: Path, **api: Any) -> Iterator[httpx.Client]:
    """A real `monitor serve` on loopback; its client keeps cookies and does not follow redirects."""
    port = free_port()
    topics = [{"name": TOPIC.name, "query": TOPIC.query}]
    config = write_config(directory, url, [], topics=topics, api={"listen": f"127.0.0.1:{port}", **api})
    with served(config, port, env={"READ": READ, "ADMIN": ADMIN}) as server:
        yield server.client


def test_every_text_is_escaped_and_only_the_hits_are_marked(story_id: tuple[str, int], tmp_path: Path) -> None:
    url, story = story_id
    with client(url, tmp_path) as web:
        escaped_and_marked(web, story)


def escaped_and_marked(web: httpx.Client, story: int) -> None:
    for path in ("/", f"/stories/{story}", "/search?q=script", "/topics/hostile"):
        page = web.get(path)
        assert page.status_code == 200, (path, page.text)
        assert "<script>" not in page.text and "<img" not in page.text and "<b>" not in page.text, path
        assert "<i>Outlet</i>" not in page.text, path
    html = web.get(f"/stories/{story}").text
    assert "&lt;script&gt;alert(&#34;title&#34;)&lt;/script&gt; AT&amp;T buys &lt;b&gt;bold&lt;/b&gt;" in html
    assert "&lt;i&gt;Outlet&lt;/i&gt; &amp; Co" in html
    marked = re.findall(r"<mark>(.*?)</mark>", html)
    assert marked and set(marked) <= {"script", "AT&amp;T"}, marked
    assert 'href="https://outlet.example/a?x=1&amp;y=&lt;2&gt;"' in html
    search = web.get("/search", params={"q": '"AT&T"'}).text
    assert set(re.findall(r"<mark>(.*?)</mark>", search)) == {"AT&amp;T"}


def test_a_bad_query_shows_its_one_line_error(story_id: tuple[str, int], tmp_path: Path) -> None:
    url, _ = story_id
    with client(url, tmp_path) as web:
        page = web.get("/search", params={"q": "script AND"})
    assert page.status_code == 400
    assert "topic &#34;query&#34;: column 11: expected a term or &#34;(&#34; after AND" in page.text


def test_a_browser_signs_in_by_form_cookie_or_query_token_and_the_api_ignores_the_cookie(
    story_id: tuple[str, int], tmp_path: Path
) -> None:
    url, story = story_id
    tokens = [{"name": "r", "token": "${READ}", "scope": "read"}, {"name": "a", "token": "${ADMIN}", "scope": "admin"}]
    with client(url, tmp_path, tokens=tokens) as web:
        signs_in(web, story)
        web.cookies.clear()
        takes_query_token(web)


def signs_in(web: httpx.Client, story: int) -> None:
    away = web.get(f"/stories/{story}")
    assert away.status_code == 303 and away.headers["location"] == f"/login?next=%2Fstories%2F{story}"
    wrong = web.post("/login", data={"token": "nope-0123456789abcdef", "next": f"/stories/{story}"})
    assert wrong.status_code == 401 and "not one of this server" in wrong.text
    signed = web.post("/login", data={"token": READ, "next": f"/stories/{story}"})
    assert signed.status_code == 303 and signed.headers["location"] == f"/stories/{story}"
    assert "HttpOnly" in signed.headers["set-cookie"] and "SameSite=Strict" in signed.headers["set-cookie"]
    assert web.get(f"/stories/{story}").status_code == 200  # the cookie, kept by the client
    assert web.get("/api/v1/stories").status_code == 401  # the API never takes the cookie
    assert web.post("/login", data={"token": READ, "next": "//evil.example/"}).headers["location"] == "/"


def takes_query_token(fresh: httpx.Client) -> None:
    assert fresh.get("/sources").status_code == 303
    linked = fresh.get("/", params={"token": READ})
    assert linked.status_code == 200 and "set-cookie" in linked.headers
    assert fresh.get("/sources").status_code == 200  # the cookie it set
    assert fresh.get("/api/v1/stories", params={"token": READ}).status_code == 401

    cross = fresh.post("/alerts/1/retry", headers={"origin": "https://evil.example"})
    assert cross.status_code == 403
    assert fresh.post("/alerts/1/retry").status_code == 403  # read scope: no retry, whatever the id


def test_pieces_cut_the_text_at_the_offsets() -> None:
    assert pieces("ByteDance and TikTok", [[0, 9], [14, 20]]) == [
        Piece("ByteDance", True),
        Piece(" and ", False),
        Piece("TikTok", True),
    ]
    assert pieces("abc", [[1, 9], [2, 1]]) == [Piece("abc", False)]  # offsets outside the text are ignored
