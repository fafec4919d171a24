"""The HTTP API and Atom feeds as programs and feed readers meet them.

The five seeds are polled once per backend (SQLite and PostgreSQL) by the real CLI, then a
real `monitor serve` answers on loopback. Alerts go to two channels: a webhook receiver
that takes them and one whose port is closed, given up at once (`retry_for` is tiny), so
the outbox holds delivered and failed alerts. The paging test polls a second feed while
it pages, so it runs last in this module.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import httpx
import pytest
from apiserver import Served, free_port, served
from conftest import monitor, write_config
from hostile import HostileServer
from postgres import create_database
from receivers import WebhookReceiver, closed_port
from seedsite import Seed, publish, seeds

Row = dict[str, Any]
LISTS = ("matches", "stories", "articles", "alerts", "feeds")
ATOM = "{http://www.w3.org/2005/Atom}"
READ_TOKEN = "read-token-0123456789abcdef"
ADMIN_TOKEN = "admin-token-0123456789abcdef"
SEED_STORY_TOPICS = {  # story (seeds/labels.yaml) -> the topics its articles match
    "intern-sabotage-2024": {"ByteDance AI", "Doubao", "TikTok ban"},
    "openai-suspends-bytedance-2023": {"ByteDance AI"},
    "bytedance-lego-llm-2024": {"ByteDance AI", "Doubao", "TikTok ban"},
}


@dataclass
class Api:
    server: Served
    config: Path
    site: HostileServer
    webhook: WebhookReceiver
    directory: Path
    database: str
    alerts: dict[str, Any]


def ok(result: Any) -> str:
    assert result.returncode == 0, f"{result.args}: exit {result.returncode}\n{result.stderr}"
    return str(result.stdout)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    directory = tmp_path_factory.mktemp(f"api-{request.param}")
    if request.param == "sqlite":
        database = f"sqlite:///{directory / 'm.db'}"
    else:
        admin: str | None = request.getfixturevalue("postgres_admin_url")
        if admin is None:
            if os.environ.get("MONITOR_REQUIRE_POSTGRES"):
                pytest.fail("PostgreSQL binaries not found but MONITOR_REQUIRE_POSTGRES is set")
            pytest.skip("PostgreSQL is not installed here (CI installs it: see .ci/run)")
        database = create_database(admin, f"monitor_{uuid.uuid4().hex[:12]}")
    port = free_port()
    with HostileServer() as site, WebhookReceiver() as webhook:
        alerts = {
            "webhooks": [
                {"url": webhook.url, "secret": "${HOOK_SECRET}", "name": "receiver"},
                {"url": f"http://127.0.0.1:{closed_port()}/hook", "name": "gone"},
            ],
            "retry_for": "0.001s",  # the closed port's alerts are given up at the first failure
        }
        config = write_config(
            directory,
            database,
            [{"name": "seeds", "url": publish(site)}],
            alerts=alerts,
            api={"listen": f"127.0.0.1:{port}"},
        )
        ok(monitor("--config", config, "poll"))
        with served(config, port) as server:
            yield Api(server, config, site, webhook, directory, database, alerts)


def get(api: Api, path: str, **params: Any) -> Any:
    response = api.server.get(path, params=params)
    assert response.status_code == 200, f"{path} {params}: {response.status_code} {response.text}"
    return response.json()


def every(api: Api, name: str, **params: Any) -> list[Row]:
    """All rows of a list, page after page."""
    rows: list[Row] = []
    cursor = None
    while True:
        page = get(api, f"/api/v1/{name}", **params, **({"cursor": cursor} if cursor else {}))
        rows += page["items"]
        if (cursor := page["next_cursor"]) is None:
            return rows


def cli_rows(api: Api, *args: str) -> list[Row]:
    rows: list[Row] = json.loads(ok(monitor("--config", api.config, *args, "--format", "json")))
    return rows


def assert_error(response: httpx.Response, status: int, *words: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert {"error", "detail"} <= set(body) and body["detail"], body
    for word in words:
        assert word in body["detail"], body
    return str(body["detail"])


# --- shapes --------------------------------------------------------------------------------


def test_every_list_answers_the_cli_rows_page_by_page(api: Api) -> None:
    for name in LISTS:
        whole = get(api, f"/api/v1/{name}", limit=1000)
        assert set(whole) == {"items", "next_cursor"} and whole["next_cursor"] is None
        assert whole["items"] == cli_rows(api, name, "--limit", "1000"), name
        assert every(api, name, limit=2) == whole["items"], name  # the same rows, two at a time
    assert len(get(api, "/api/v1/articles", limit=1000)["items"]) == 5
    assert len(get(api, "/api/v1/stories", limit=1000)["items"]) == 3
    statuses = {(a["channel"], a["status"]) for a in get(api, "/api/v1/alerts", limit=1000)["items"]}
    assert statuses == {("webhook:receiver", "delivered"), ("webhook:gone", "failed")}


def test_a_story_shows_every_article_with_outlet_language_similarity_and_signal(api: Api) -> None:
    stories = get(api, "/api/v1/stories", limit=1000)["items"]
    story_of = {s["title"]: s for s in stories}
    for story in stories:
        one = get(api, f"/api/v1/stories/{story['id']}")
        assert one == story
        assert one == cli_rows(api, "stories", "--id", str(story["id"]))[0]
        for article in one["articles"]:
            assert {"feed", "language", "similarity", "signal"} <= set(article)
            assert article["feed"] == "seeds" and 0 < article["similarity"] <= 1
    sabotage = next(s for s in story_of.values() if len(s["articles"]) == 3)  # one event, three languages
    assert sabotage["languages"] == ["de", "fr", "id"]
    assert {a["signal"] for a in sabotage["articles"]} - {"first article"}  # what joined the others
    assert set(sabotage["topics"]) == SEED_STORY_TOPICS["intern-sabotage-2024"]

    article = get(api, "/api/v1/articles", limit=1)["items"][0]
    assert get(api, f"/api/v1/articles/{article['id']}") == article
    assert len(article["text"]) > 500  # the extracted text comes with the article
    assert_error(api.server.get("/api/v1/stories/999999"), 404, "no story 999999")
    assert_error(api.server.get("/api/v1/articles/999999"), 404, "no article 999999")


def test_topics_list_their_slug_atom_feed_and_activity(api: Api) -> None:
    topics = {t["name"]: t for t in get(api, "/api/v1/topics")["items"]}
    assert list(topics) == sorted(topics) == ["ByteDance AI", "Doubao", "TikTok ban"]
    assert topics["TikTok ban"]["slug"] == "tiktok-ban"
    assert topics["ByteDance AI"]["feed_url"] == "/feeds/topics/bytedance-ai.atom"
    for name, topic in topics.items():
        matches = get(api, "/api/v1/matches", topic=name, limit=1000)["items"]
        assert topic["matches"] == len(matches) > 0
        assert topic["stories"] == len({m["story_id"] for m in matches})
        assert topic["last_matched_at"] == max(m["matched_at"] for m in matches)
    assert every(api, "topics", limit=1) == list(topics.values())


# --- filters -------------------------------------------------------------------------------


def test_filters_narrow_every_list(api: Api) -> None:
    doubao = get(api, "/api/v1/matches", topic="Doubao", limit=1000)["items"]
    assert len(doubao) == 4 and {m["topic"] for m in doubao} == {"Doubao"}
    german = get(api, "/api/v1/matches", lang="de", limit=1000)["items"]
    assert german and {m["language"] for m in german} == {"de"}
    assert german == cli_rows(api, "matches", "--lang", "de", "--limit", "1000")  # the CLI filters alike
    assert (
        get(api, "/api/v1/matches", feed="seeds", limit=1000)["items"]
        == get(api, "/api/v1/matches", limit=1000)["items"]
    )
    assert get(api, "/api/v1/matches", feed="no-such-feed")["items"] == []

    articles = get(api, "/api/v1/articles", lang="fr", limit=1000)["items"]
    assert [a["language"] for a in articles] == ["fr"]
    assert len(get(api, "/api/v1/articles", topic="TikTok ban", limit=1000)["items"]) == 2
    stories = get(api, "/api/v1/stories", lang="de", limit=1000)["items"]
    assert len(stories) == 1 and "de" in stories[0]["languages"]
    assert {tuple(s["topics"]) for s in get(api, "/api/v1/stories", topic="TikTok ban")["items"]} <= {
        tuple(sorted(SEED_STORY_TOPICS["intern-sabotage-2024"]))
    }
    failed = get(api, "/api/v1/alerts", status="failed", topic="Doubao", limit=1000)["items"]
    assert len(failed) == 2 and {(a["status"], a["topic"]) for a in failed} == {("failed", "Doubao")}
    assert get(api, "/api/v1/feeds", failing="true")["items"] == []

    # since and until: a duration back from now, or a time.
    everything = get(api, "/api/v1/matches", limit=1000)["items"]
    assert get(api, "/api/v1/matches", since="1h", limit=1000)["items"] == everything
    assert get(api, "/api/v1/matches", until="1h")["items"] == []
    assert cli_rows(api, "stories", "--until", "1h") == [] and cli_rows(api, "articles", "--feed", "nope") == []
    later = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    assert get(api, "/api/v1/matches", until=later, limit=1000)["items"] == everything
    assert get(api, "/api/v1/articles", since=later)["items"] == []
    assert (
        get(api, "/api/v1/alerts", since="2024-01-01T00:00:00Z", limit=1000)["items"]
        == get(api, "/api/v1/alerts", limit=1000)["items"]
    )


def test_bad_parameters_get_400_naming_them(api: Api) -> None:
    cases = {
        "/api/v1/matches?limit=0": "limit",
        "/api/v1/matches?limit=lots": "limit",
        "/api/v1/matches?limit=1001": "limit",
        "/api/v1/matches?since=yesterday": "since",
        "/api/v1/articles?until=2024-13-45": "until",
        "/api/v1/stories?cursor=not-a-cursor": "cursor",
        "/api/v1/alerts?status=lost": "status",
        "/api/v1/matches?topc=Doubao": "topc",  # a typo is not an unfiltered list
        "/api/v1/feeds?failing=maybe": "failing",
        "/api/v1/stories/abc": "story_id",
    }
    for path, name in cases.items():
        detail = assert_error(api.server.get(path), 400)
        assert detail.startswith(name), (path, detail)
    # A cursor of one list is refused by another.
    cursor = get(api, "/api/v1/matches", limit=1)["next_cursor"]
    assert_error(api.server.get("/api/v1/stories", params={"cursor": cursor}), 400, "not a cursor of stories")
    forged = base64.urlsafe_b64encode(json.dumps(["matches", "1; DROP TABLE match"]).encode()).decode()
    assert_error(api.server.get("/api/v1/matches", params={"cursor": forged}), 400, "cursor")
    assert_error(api.server.get("/api/v1/nothing-here"), 404)


# --- topics test ---------------------------------------------------------------------------


def test_topics_test_previews_and_stores_nothing(api: Api) -> None:
    before = (get(api, "/api/v1/matches", limit=1000)["items"], len(api.webhook.requests))
    by_name = api.server.post("/api/v1/topics/test", json={"name": "Doubao"}).json()
    assert (by_name["topic"], by_name["matched"], by_name["scanned"]) == ("Doubao", 4, 5)
    assert by_name["by_language"] == {"id": 2, "de": 1, "fr": 1}
    assert [m["score"] for m in by_name["best"]] == sorted((m["score"] for m in by_name["best"]), reverse=True)
    assert all("<mark>" in m["snippet"] for m in by_name["best"])

    by_query = api.server.post("/api/v1/topics/test", json={"query": "Sabotage OR sabotase OR saboté", "limit": 2})
    found = by_query.json()
    assert by_query.status_code == 200 and found["matched"] == 3 and len(found["best"]) == 2
    assert set(found["by_language"]) == {"id", "de", "fr"}

    bad = api.server.post("/api/v1/topics/test", json={"query": "TikTok AND"})
    cli = monitor("match", "--query", "TikTok AND", "-", timeout=60)
    assert_error(bad, 400, "column 11")
    assert bad.json()["column"] == 11 and bad.json()["detail"] in cli.stderr  # as `monitor match --query` says it
    assert_error(api.server.post("/api/v1/topics/test", json={"name": "Nope"}), 404, "Nope", "Doubao")
    assert_error(api.server.post("/api/v1/topics/test", json={"name": "Doubao", "query": "x"}), 400, "not both")
    assert_error(api.server.post("/api/v1/topics/test", json={"query": "x", "since": "soon"}), 400, "since")
    assert_error(api.server.post("/api/v1/topics/test", content=b"{not json"), 400)
    assert (get(api, "/api/v1/matches", limit=1000)["items"], len(api.webhook.requests)) == before


# --- alerts --------------------------------------------------------------------------------


def test_a_failed_alert_goes_back_into_the_outbox(api: Api) -> None:
    failed = get(api, "/api/v1/alerts", status="failed", limit=1000)["items"]
    delivered = get(api, "/api/v1/alerts", status="delivered", limit=1)["items"][0]
    retried = api.server.post(f"/api/v1/alerts/{failed[0]['id']}/retry")
    assert retried.status_code == 200, retried.text
    assert retried.json() == {**failed[0], "status": "pending"}
    assert get(api, "/api/v1/alerts", status="failed", limit=1000)["items"] == failed[1:]
    assert_error(api.server.post(f"/api/v1/alerts/{failed[0]['id']}/retry"), 409, "pending")
    assert_error(api.server.post(f"/api/v1/alerts/{delivered['id']}/retry"), 409, "delivered")
    assert_error(api.server.post("/api/v1/alerts/999999/retry"), 404, "no alert 999999")
    # The daemon's next delivery tries it once more; the port is still closed, so it fails again.
    ok(monitor("--config", api.config, "poll"))
    again = {a["id"]: a for a in get(api, "/api/v1/alerts", limit=1000)["items"]}[failed[0]["id"]]
    assert again["status"] == "failed" and again["attempts"] == failed[0]["attempts"] + 1


# --- tokens --------------------------------------------------------------------------------


def test_tokens_guard_everything_but_health(api: Api, tmp_path: Path) -> None:
    port = free_port()
    tokens = [
        {"name": "reader", "token": "${READ_TOKEN}", "scope": "read"},
        {"name": "ops", "token": "${ADMIN_TOKEN}", "scope": "admin"},
    ]
    guarded = write_config(
        tmp_path, api.database, [], alerts=api.alerts, api={"listen": f"127.0.0.1:{port}", "tokens": tokens}
    )
    env = {"READ_TOKEN": READ_TOKEN, "ADMIN_TOKEN": ADMIN_TOKEN}
    read = {"Authorization": f"Bearer {READ_TOKEN}"}
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with served(guarded, port, env=env) as server:
        assert server.get("/healthz").status_code == 200
        assert server.get("/readyz").status_code == 200
        for path in ("/api/v1/matches", "/api/v1/openapi.json", "/api/v1/docs", "/feeds/all.atom"):
            missing = server.get(path)
            assert_error(missing, 401, "no token")
            assert missing.headers["www-authenticate"].startswith("Bearer")
            assert_error(server.get(path, headers={"Authorization": "Bearer wrong-token-0123456789"}), 401, "wrong")
        assert server.get("/api/v1/matches", headers=read).status_code == 200
        assert server.get("/api/v1/openapi.json", headers=admin).json()["info"]["title"] == "monitor"
        assert "swagger" in server.get("/api/v1/docs", headers=read).text.lower()  # the docs page
        # ?token= is for feed readers only.
        assert server.get("/feeds/all.atom", params={"token": READ_TOKEN}).status_code == 200
        assert_error(server.get("/api/v1/matches", params={"token": READ_TOKEN}), 401)
        failed = server.get("/api/v1/alerts", params={"status": "failed"}, headers=read).json()["items"]
        assert_error(server.post(f"/api/v1/alerts/{failed[0]['id']}/retry", headers=read), 403, "admin")
        assert server.post(f"/api/v1/alerts/{failed[0]['id']}/retry", headers=admin).status_code == 200
    assert READ_TOKEN not in server.output and ADMIN_TOKEN not in server.output


# --- Atom ----------------------------------------------------------------------------------


def atom(api: Api, path: str, **headers: str) -> httpx.Response:
    return api.server.get(path, headers=headers)


def check_rfc4287(body: bytes) -> list[ET.Element]:
    """What RFC 4287 requires of a feed and its entries (4.1.1, 4.1.2): ids, titles, updated, links."""
    feed = ET.fromstring(body)
    assert feed.tag == f"{ATOM}feed"
    for element in (feed, *feed.findall(f"{ATOM}entry")):
        assert len(element.findall(f"{ATOM}id")) == 1 and re.match(r"^[a-z]+:", element.findtext(f"{ATOM}id", ""))
        assert len(element.findall(f"{ATOM}title")) == 1
        updated = element.findall(f"{ATOM}updated")
        assert len(updated) == 1 and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", updated[0].text or "")
    assert feed.find(f"{ATOM}author/{ATOM}name") is not None  # so entries need none of their own
    assert [link.get("rel") for link in feed.findall(f"{ATOM}link")] == ["self"]
    entries = feed.findall(f"{ATOM}entry")
    for entry in entries:
        alternates = [link for link in entry.findall(f"{ATOM}link") if link.get("rel") == "alternate"]
        assert len(alternates) == 1 and alternates[0].get("href", "").startswith("http")
        assert entry.find(f"{ATOM}content") is not None or alternates
    ids = [entry.findtext(f"{ATOM}id") for entry in entries]
    assert len(ids) == len(set(ids))
    return entries


def test_atom_feeds_one_entry_per_story_with_every_outlet(api: Api) -> None:
    stories = get(api, "/api/v1/stories", limit=1000)["items"]
    response = atom(api, "/feeds/all.atom")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/atom+xml")
    entries = check_rfc4287(response.content)
    parsed = feedparser.parse(response.content)
    assert parsed.bozo is False, parsed.get("bozo_exception")
    assert len(parsed.entries) == len(entries) == len(stories) == 3  # one per story, not per copy
    by_title = {s["title"]: s for s in stories}
    for entry in parsed.entries:
        story = by_title[entry.title]
        assert {t.term for t in entry.tags} == set(story["topics"])
        content = entry.content[0].value
        for article in story["articles"]:
            assert article["url"] in content and html.escape(article["title"]) in content  # every outlet
        assert f"in {', '.join(story['languages'])};" in content  # and every language
        snippets = {
            m["snippet"] for m in get(api, "/api/v1/matches", limit=1000)["items"] if m["story_id"] == story["id"]
        }
        hits = {re.sub("</?mark>", "", s) for s in snippets}
        assert re.sub("</?strong>", "", entry.summary) in {html.unescape(h) for h in hits}  # the matched snippet
        assert "<strong>" in entry.summary  # with its hits marked
        assert entry.link == story["articles"][0]["url"]
        related = {link.href for link in entry.links if link.rel == "related"}
        assert f"{api.server.base}/stories/{story['id']}" in related  # the web page's story: every copy side by side

    topic = atom(api, "/feeds/topics/tiktok-ban.atom")
    parsed = feedparser.parse(topic.content)
    assert parsed.bozo is False and parsed.feed.title == "monitor: TikTok ban"
    tiktok = {s["title"] for s in get(api, "/api/v1/stories", topic="TikTok ban")["items"]}
    assert {e.title for e in parsed.entries} == tiktok and len(tiktok) == 2
    check_rfc4287(topic.content)
    assert_error(atom(api, "/feeds/topics/no-such-topic.atom"), 404, "tiktok-ban")


def test_atom_answers_304_to_a_reader_that_has_it(api: Api) -> None:
    first = atom(api, "/feeds/topics/doubao.atom")
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert atom(api, "/feeds/topics/doubao.atom", **{"If-None-Match": etag}).status_code == 304
    assert atom(api, "/feeds/topics/doubao.atom", **{"If-Modified-Since": modified}).status_code == 304
    assert atom(api, "/feeds/topics/doubao.atom", **{"If-None-Match": '"other"'}).status_code == 200
    old = "Mon, 01 Jan 2024 00:00:00 GMT"
    assert atom(api, "/feeds/topics/doubao.atom", **{"If-Modified-Since": old}).status_code == 200
    assert atom(api, "/feeds/all.atom", **{"If-None-Match": etag}).status_code == 200  # another feed's tag


# --- paging while rows arrive (last: it polls more articles) ----------------------------------


def more_news(base_seeds: list[Seed]) -> list[Seed]:
    """Three new Doubao stories in English, and a fourth outlet's copy of a seed's story."""
    stories = {
        "Malaysia": [
            "Schools in Penang will let pupils ask the Doubao chatbot for help with homework this term.",
            "The state education office chose forty primary schools and will publish a review in June.",
            "Parents must sign a consent form; lessons without computers continue as before.",
        ],
        "Brazil": [
            "Banco Horizonte of São Paulo answered 12,000 customer calls through Doubao during March.",
            "Its chief operating officer said waiting times fell from nine minutes to two.",
            "The central bank asked the lender to keep a human agent on every complaint about fraud.",
        ],
        "Kenya": [
            "Nairobi start-up Somo Labs translated three hundred Swahili reading lessons with Doubao.",
            "Volunteer teachers in Kisumu corrected the translations over a long weekend of workshops.",
            "The founders hope to reach rural libraries in Turkana county before the rains arrive.",
        ],
    }
    fresh = [
        Seed(
            name=f"extra-{place.lower()}.txt",
            title=f"Doubao in {place}: {lines[0].split(' ', 4)[-1][:60]}",
            body="\n".join(lines),
            language="en",
            topics=frozenset({"Doubao"}),
            story=f"extra-{place}",
        )
        for place, lines in stories.items()
    ]
    original = next(s for s in base_seeds if s.story == "openai-suspends-bytedance-2023")
    copy = Seed(
        name="extra-copy.txt",
        title=original.title,
        body=original.body + "\nBerita ini juga dimuat ulang oleh portal mitra kami.",
        language=original.language,
        topics=original.topics,
        story=original.story,
    )
    return [*fresh, copy]


def test_paging_while_new_rows_arrive_shows_each_row_once(api: Api) -> None:
    names = ("matches", "stories", "articles", "alerts")
    before = {name: [r["id"] for r in get(api, f"/api/v1/{name}", limit=1000)["items"]] for name in names}
    feed_before = atom(api, "/feeds/all.atom")
    first = {name: get(api, f"/api/v1/{name}", limit=2) for name in names}

    # New articles, matches, stories and alerts arrive between the first page and the rest.
    extra = more_news(seeds())
    feeds = [
        {"name": "seeds", "url": publish(api.site)},
        {"name": "extra", "url": publish(api.site, "/extra.xml", extra)},
    ]
    config = write_config(api.directory, api.database, feeds, alerts=api.alerts)
    out = ok(monitor("--config", config, "poll", "--feed", "extra"))
    assert "✓ extra: 4 entries, 4 new, 4 stored" in out, out

    for name in names:
        seen = [r["id"] for r in first[name]["items"]]
        cursor = first[name]["next_cursor"]
        while cursor:
            page = get(api, f"/api/v1/{name}", limit=2, cursor=cursor)
            seen += [r["id"] for r in page["items"]]
            cursor = page["next_cursor"]
        assert len(seen) == len(set(seen)), f"{name}: a row twice"
        assert seen == before[name], f"{name}: rows skipped or new rows mixed into later pages"
        now = [r["id"] for r in get(api, f"/api/v1/{name}", limit=1000)["items"]]
        assert now[len(now) - len(before[name]) :] == before[name] and len(now) > len(before[name]), name

    # The story that grew is one entry still, updated, with its new outlet; the feed changed.
    feed_after = atom(api, "/feeds/all.atom", **{"If-None-Match": feed_before.headers["etag"]})
    assert feed_after.status_code == 200 and feed_after.headers["etag"] != feed_before.headers["etag"]
    old = {e.id: e for e in feedparser.parse(feed_before.content).entries}
    new = {e.id: e for e in feedparser.parse(feed_after.content).entries}
    grown = [i for i in old if new[i].updated != old[i].updated]
    assert len(grown) == 1 and "extra-copy" in new[grown[0]].content[0].value
    assert len(new) == len(old) + 3  # three new stories, the copy joined its story
    assert new[grown[0]].title == old[grown[0]].title
