"""The web page in a real browser: Debian's chromium, driven by Playwright, against a real
`monitor serve` on loopback over the seeds' poll.

A person logs in with a token, reads the stories, follows one, searches (a good query and
a bad one), opens a topic's Atom feed, looks at feed health and the alert outbox, retries
a failed alert as an admin, and reads every page on a 390 px phone screen without
sideways scrolling. Screenshots of the home and story pages are saved under tmp_path.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import feedparser
import httpx
import pytest
from apiserver import Served, free_port, served
from conftest import monitor, write_config
from hostile import HostileServer
from playwright.sync_api import Browser, Page, sync_playwright
from receivers import WebhookReceiver, closed_port
from seedsite import publish, seeds

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; `playwright install` cannot download here
READ_TOKEN = "web-read-token-0123456789"
ADMIN_TOKEN = "web-admin-token-0123456789"
PHONE = {"width": 390, "height": 844}


@dataclass
class Site:
    server: Served
    read: dict[str, str]  # the API's bearer header for the read token

    @property
    def base(self) -> str:
        return self.server.base

    def api(self, path: str, **params: Any) -> Any:
        response = self.server.get(path, params=params, headers=self.read)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium package")
        pytest.skip(f"{CHROMIUM} is not installed here (apt-get install chromium; CI installs it)")
    with sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where chromium's sandbox refuses to start.
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    directory = tmp_path_factory.mktemp("web")
    port = free_port()
    items = seeds()
    with HostileServer() as outlets, WebhookReceiver() as webhook:
        feeds = [
            {"name": "Outlet One", "url": publish(outlets, "/one.xml", items[: len(items) // 2])},
            {"name": "Outlet Two", "url": publish(outlets, "/two.xml", items[len(items) // 2 :])},
            {"name": "Broken Feed", "url": f"http://127.0.0.1:{closed_port()}/feed.xml"},
        ]
        alerts = {
            "webhooks": [
                {"url": webhook.url, "secret": "${HOOK_SECRET}", "name": "receiver"},
                {"url": f"http://127.0.0.1:{closed_port()}/hook", "name": "gone"},
            ],
            "retry_for": "0.001s",  # the closed port's alerts fail at once: the outbox has some to retry
        }
        tokens = [
            {"name": "reader", "token": "${READ_TOKEN}", "scope": "read"},
            {"name": "ops", "token": "${ADMIN_TOKEN}", "scope": "admin"},
        ]
        config = write_config(
            directory,
            f"sqlite:///{directory / 'm.db'}",
            feeds,
            alerts=alerts,
            api={"listen": f"127.0.0.1:{port}", "tokens": tokens},
        )
        env = {"READ_TOKEN": READ_TOKEN, "ADMIN_TOKEN": ADMIN_TOKEN}
        polled = monitor("--config", config, "poll", env=env)
        assert "Broken Feed" in polled.stdout + polled.stderr, polled.stderr
        with served(config, port, "serve", env=env) as server:
            yield Site(server, {"Authorization": f"Bearer {READ_TOKEN}"})


def log_in(page: Page, site: Site, token: str, path: str = "/") -> None:
    page.goto(site.base + path)
    assert page.url.startswith(site.base + "/login"), page.url  # no token yet: the login form
    page.fill("input[name=token]", token)
    page.click("button[type=submit]")
    assert page.url == site.base + path, page.url


def no_sideways_scroll(page: Page) -> int:
    width: int = page.evaluate("document.documentElement.scrollWidth")
    return width


def test_a_person_reads_the_stories_and_follows_one(browser: Browser, site: Site, tmp_path: Path) -> None:
    stories = site.api("/api/v1/stories", limit=1000)["items"]
    assert len(stories) == 3
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()

    page.goto(site.base + "/")
    page.fill("input[name=token]", "not-a-token-0123456789")
    page.click("button[type=submit]")
    assert "not one of this server's tokens" in page.inner_text("main")
    page.fill("input[name=token]", READ_TOKEN)
    page.click("button[type=submit]")
    assert page.url == site.base + "/"

    # Stories newest first, each a link whose text is its title, with outlets, languages, topics.
    assert page.locator("li.story h2 a").all_inner_texts() == [s["title"] for s in stories]
    for story, item in zip(stories, page.locator("li.story").all(), strict=True):
        outlets = sorted({a["feed"] for a in story["articles"]})
        assert sorted(item.locator(".outlets").inner_text().split(", ")) == outlets
        assert item.locator(".languages").inner_text() == ", ".join(story["languages"])
        assert item.locator(".topics a").all_inner_texts() == story["topics"]
    home = tmp_path / "home.png"
    page.screenshot(path=str(home), full_page=True)

    # The story told in three languages, by both outlets.
    told = next(s for s in stories if len(s["articles"]) == 3)
    page.click(f"li.story h2 a:text-is({told['title']!r})")
    assert page.url == f"{site.base}/stories/{told['id']}"
    assert page.inner_text("h1") == told["title"]
    matches = site.api("/api/v1/matches", limit=1000)["items"]
    copies = page.locator("li.article").all()
    assert len(copies) == 3
    for article, copy in zip(told["articles"], copies, strict=True):
        assert copy.locator("h2 a").inner_text() == article["title"]
        assert copy.locator("h2 a").get_attribute("href") == article["url"]
        assert copy.locator(".outlet").inner_text() == article["feed"]
        assert copy.locator(".language").inner_text() == article["language"]
        best = max((m for m in matches if m["article_id"] == article["id"]), key=lambda m: m["score"])
        hits = [best["snippet_text"][start:end] for start, end in best["highlights"]]
        assert hits and copy.locator(".snippet mark").all_inner_texts() == hits  # the stored offsets
        assert copy.locator(".snippet").inner_text() == best["snippet_text"]  # escaped text, not markup
    assert sorted({c.locator(".language").inner_text() for c in copies}) == ["de", "fr", "id"]
    story_shot = tmp_path / "story.png"
    page.screenshot(path=str(story_shot), full_page=True)
    print(f"\nscreenshots: {home} {story_shot}")
    context.close()


def test_search_shows_results_and_a_bad_query_s_error(browser: Browser, site: Site) -> None:
    context = browser.new_context()
    page = context.new_page()
    log_in(page, site, READ_TOKEN, "/search")
    page.fill("input[name=q]", "Doubao OR 豆包")
    page.click("form.search button")
    found = site.api("/api/v1/search", q="Doubao OR 豆包")["items"]
    assert found
    assert page.locator("li.result h2").all_inner_texts() == [item["title"] for item in found]
    assert page.locator("li.result mark").count() >= len(found)
    page.locator("li.result h2 a").first.click()  # a result leads to its story
    assert page.url == f"{site.base}/stories/{found[0]['story_id']}"

    page.goto(site.base + "/search")
    page.fill("input[name=q]", "TikTok AND")
    page.click("form.search button")
    bad = site.server.get("/api/v1/search", params={"q": "TikTok AND"}, headers=site.read).json()
    assert page.inner_text(".error") == bad["detail"]
    assert "column 11" in bad["detail"]
    assert page.input_value("input[name=q]") == "TikTok AND"  # the query stays, to be corrected
    context.close()


def test_a_topic_page_links_its_atom_feed(browser: Browser, site: Site) -> None:
    context = browser.new_context()
    page = context.new_page()
    log_in(page, site, READ_TOKEN, "/topics")
    page.click("li h2 a:text-is('TikTok ban')")
    assert page.url == f"{site.base}/topics/tiktok-ban"
    topic_stories = site.api("/api/v1/stories", topic="TikTok ban")["items"]
    assert page.locator("li.story h2 a").all_inner_texts() == [s["title"] for s in topic_stories]
    href = page.get_attribute("a.atom", "href")
    assert href == "/feeds/topics/tiktok-ban.atom"
    assert page.get_attribute("link[rel=alternate]", "href") == href  # readers find it from the page too
    feed = feedparser.parse(httpx.get(site.base + href, headers=site.read).content)
    assert not feed.bozo
    assert {entry.title for entry in feed.entries} == {s["title"] for s in topic_stories}
    context.close()


def test_feed_health_puts_failing_feeds_first_and_admins_retry_alerts(browser: Browser, site: Site) -> None:
    context = browser.new_context()
    page = context.new_page()
    log_in(page, site, READ_TOKEN, "/sources")
    feeds = site.api("/api/v1/feeds")["items"]
    broken = next(f for f in feeds if f["name"] == "Broken Feed")
    assert broken["error_count"] == 1 and broken["last_error"]
    names = [h.split(" ")[0:2] for h in page.locator("li.feed h2").all_inner_texts()]
    assert names == [["Broken", "Feed"], ["Outlet", "One"], ["Outlet", "Two"]]  # failing first, then by name
    assert broken["last_error"] in page.locator("li.feed").first.inner_text()

    page.goto(site.base + "/alerts")
    failed = site.api("/api/v1/alerts", status="failed", limit=1000)["items"]
    assert failed and page.locator(".alert .status").all_inner_texts().count("failed") == len(failed)
    assert page.locator("form button").filter(has_text="Retry").count() == 0  # read scope: no buttons
    forbidden = context.request.post(f"{site.base}/alerts/{failed[0]['id']}/retry")
    assert forbidden.status == 403

    page.click("nav button")  # log out, then in again as an admin
    log_in(page, site, ADMIN_TOKEN, "/alerts")
    page.click(f"button:text-is('Retry alert {failed[0]['id']}')")
    assert page.url == f"{site.base}/alerts?retried={failed[0]['id']}"
    assert page.locator(f"#alert-{failed[0]['id']} .status").inner_text() == "pending"
    assert failed[0]["id"] in {a["id"] for a in site.api("/api/v1/alerts", status="pending", limit=1000)["items"]}
    context.close()


def test_every_page_fits_a_phone_screen(browser: Browser, site: Site, tmp_path: Path) -> None:
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
    page = context.new_page()
    story = max(site.api("/api/v1/stories")["items"], key=lambda s: len(s["articles"]))  # the longest page
    page.goto(f"{site.base}/?token={READ_TOKEN}")  # ?token= keeps the token in the cookie
    assert page.url.startswith(site.base + "/?")
    widths = {}
    for number, path in enumerate(
        (
            "/",
            f"/stories/{story['id']}",
            "/topics",
            "/topics/bytedance-ai",
            "/search?q=TikTok",
            "/search?q=(",
            "/sources",
            "/alerts",
        )
    ):
        page.goto(site.base + path)
        assert not page.url.startswith(site.base + "/login"), path
        widths[path] = no_sideways_scroll(page)
        shot = tmp_path / f"phone-{number}.png"  # what a person sees on the phone, to look at when it fails
        page.screenshot(path=str(shot), full_page=True)
        print(f"\nscreenshot of {path} at 390 px: {shot}")
    assert all(width <= PHONE["width"] for width in widths.values()), widths
    context.close()
