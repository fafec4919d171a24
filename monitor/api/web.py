"""The web page: what the monitor knows, for people, as server-rendered HTML (no script).

Stories newest first, each story with every copy's outlet, language and highlighted
snippet; the topics with their Atom feeds; search in the topic language; feed health;
the alert outbox, with retry buttons for admins. Every text is escaped by the templates
(Jinja2's autoescape); highlights are drawn as <mark> from the stored offsets, never by
trusting stored HTML. Access is the API's (monitor/api/auth.py): the pages also take the
``token`` cookie that /login sets.

The data comes through the same Store calls as the v1 API, each in one function of the
"data" section below.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader

from monitor.api.auth import cookie_header, token_holder
from monitor.api.slug import topic_slug
from monitor.config import Config, TopicConfig
from monitor.errors import QueryError, UsageError
from monitor.store.interface import Store
from monitor.store.records import Filters, SearchPage, TopicActivity
from monitor.store.utc import utcnow
from monitor.topics.snippet import unmarked

PAGE = 30  # stories or results per page
FEEDS_SHOWN = 1000
ALERTS_SHOWN = 100

router = APIRouter(include_in_schema=False)
templates = Environment(loader=PackageLoader("monitor.api", "templates"), autoescape=True, trim_blocks=True)
templates.filters["when"] = lambda iso: f"{iso[:10]} {iso[11:16]} UTC" if iso else "?"  # the rows' ISO times


# --- data: the store calls, the same as the v1 API's (rows in their JSON shape) -----------


def _stories(store: Store, topic: str | None, after: int | None) -> list[dict[str, Any]]:
    return [row.to_json() for row in store.stories(Filters(topic=topic), limit=PAGE + 1, after=after)]


def _story(store: Store, story_id: int) -> dict[str, Any] | None:
    found = store.story(story_id)
    return None if found is None else found.to_json()


def _story_matches(store: Store, story_id: int) -> list[dict[str, Any]]:
    return [row.to_json() for row in store.matches(Filters(story_id=story_id), limit=1000)]


def _search(store: Store, query: str, cursor: str | None) -> SearchPage:
    return store.search(query, limit=PAGE, cursor=cursor)


def _topic_activity(store: Store) -> dict[str, TopicActivity]:
    return store.topic_activity()


def _feeds(store: Store) -> list[dict[str, Any]]:
    return [row.to_json() for row in store.feeds(limit=FEEDS_SHOWN)]


def _alerts(store: Store) -> list[dict[str, Any]]:
    return [row.to_json() for row in store.alerts(limit=ALERTS_SHOWN)]


def _retry(store: Store, alert_id: int) -> str | None:
    return store.retry_failed_alert(alert_id, utcnow())


# --- pure helpers ----------------------------------------------------------------------


@dataclass(frozen=True)
class Piece:
    """A run of snippet text, marked when it is a hit."""

    text: str
    hit: bool


def pieces(text: str, highlights: Sequence[Sequence[int]]) -> list[Piece]:
    """``text`` cut at the hits' ``[start, end)`` offsets (sorted, not overlapping)."""
    out: list[Piece] = []
    at = 0
    for start, end in sorted((s, e) for s, e in highlights if 0 <= s < e <= len(text)):
        if start < at:
            continue
        if start > at:
            out.append(Piece(text[at:start], False))
        out.append(Piece(text[start:end], True))
        at = end
    if at < len(text):
        out.append(Piece(text[at:], False))
    return out


def html_snippet_pieces(snippet: str) -> list[Piece]:
    """A stored snippet (HTML, hits in <mark>) as pieces: its plain text and offsets."""
    return pieces(*unmarked(snippet))


def outlets(story: dict[str, Any]) -> list[str]:
    return list(dict.fromkeys(article["feed"] for article in story["articles"]))


def failing_first(feeds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Failing and dead feeds first (most failures first), then the others, by name."""
    return sorted(feeds, key=lambda f: (not _failing(f), -f["error_count"], f["name"]))


def _failing(feed: dict[str, Any]) -> bool:
    return bool(feed["error_count"]) or feed["last_status"] == "dead"


def local_target(target: str | None) -> str:
    """Where to go after logging in: a path of this server, never another site."""
    if not target or not target.startswith("/") or target.startswith("//") or urlsplit(target).netloc:
        return "/"
    return target


# --- pages -----------------------------------------------------------------------------


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


Stored = Annotated[Store, Depends(_store)]


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    config: Config = request.app.state.config
    body = templates.get_template(template).render(
        scope=getattr(request.state, "scope", None),
        with_tokens=bool(config.api.tokens),
        path=request.url.path,
        **context,
    )
    return HTMLResponse(body, status_code=status)


def same_origin(request: Request) -> None:
    """A form posted from another site's page is refused (with no tokens, any page the
    browser visits could otherwise press a button here)."""
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host"):
        raise HTTPException(403, "a form from another site")


def _after(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


@router.get("/", response_class=HTMLResponse)
def home(request: Request, store: Stored, after: str | None = None) -> HTMLResponse:
    """Stories, first seen newest first."""
    found = _stories(store, None, _after(after))
    return page(
        request,
        "stories.html",
        title="Stories",
        heading="Stories",
        stories=found[:PAGE],
        outlets=outlets,
        slug=topic_slug,
        older=found[PAGE - 1]["id"] if len(found) > PAGE else None,
    )


@router.get("/stories/{story_id}", response_class=HTMLResponse)
def story_page(request: Request, store: Stored, story_id: int) -> HTMLResponse:
    """One story: every copy's title, outlet, language and highlighted snippet."""
    story = _story(store, story_id)
    if story is None:
        return page(request, "missing.html", 404, title="No such story", what=f"There is no story {story_id}.")
    best: dict[int, dict[str, Any]] = {}
    topics_of: dict[int, list[str]] = {}
    for match in _story_matches(store, story_id):
        article_id = match["article_id"]
        topics_of.setdefault(article_id, []).append(match["topic"])
        if article_id not in best or match["score"] > best[article_id]["score"]:
            best[article_id] = match
    copies = [
        {
            **article,
            "topics": sorted(set(topics_of.get(article["id"], []))),
            "snippet": pieces(best[article["id"]]["snippet_text"], best[article["id"]]["highlights"])
            if article["id"] in best
            else [],
        }
        for article in story["articles"]
    ]
    return page(
        request, "story.html", title=story["title"], story=story, copies=copies, outlets=outlets(story), slug=topic_slug
    )


@router.get("/topics", response_class=HTMLResponse)
def topics_page(request: Request, store: Stored) -> HTMLResponse:
    config: Config = request.app.state.config
    activity = _topic_activity(store)
    rows = [(t, activity.get(t.name)) for t in sorted(config.topics, key=lambda t: t.name)]
    return page(request, "topics.html", title="Topics", topics=rows, slug=topic_slug)


@router.get("/topics/{slug}", response_class=HTMLResponse)
def topic_page(request: Request, store: Stored, slug: str, after: str | None = None) -> HTMLResponse:
    """One topic's stories, with its query and its Atom feed."""
    config: Config = request.app.state.config
    topic: TopicConfig | None = next((t for t in config.topics if topic_slug(t.name) == slug), None)
    if topic is None:
        return page(request, "missing.html", 404, title="No such topic", what=f"No topic has the slug {slug!r}.")
    found = _stories(store, topic.name, _after(after))
    return page(
        request,
        "stories.html",
        title=topic.name,
        heading=f"Topic: {topic.name}",
        topic=topic,
        feed_url=f"/feeds/topics/{slug}.atom",
        stories=found[:PAGE],
        outlets=outlets,
        slug=topic_slug,
        older=found[PAGE - 1]["id"] if len(found) > PAGE else None,
    )


@router.get("/search", response_class=HTMLResponse)
def search_page(
    request: Request, store: Stored, q: Annotated[str, Query()] = "", cursor: str | None = None
) -> HTMLResponse:
    """Search in the topic language; a bad query shows the message `monitor match --query` prints."""
    results: SearchPage | None = None
    problem = None
    if q.strip():
        try:
            results = _search(store, q, cursor)
        except (QueryError, UsageError) as exc:
            problem = str(exc)
    return page(
        request,
        "search.html",
        400 if problem else 200,
        title=f"Search: {q}" if q.strip() else "Search",
        q=q,
        results=results,
        problem=problem,
        snippet=html_snippet_pieces,
    )


@router.get("/sources", response_class=HTMLResponse)
def sources_page(request: Request, store: Stored) -> HTMLResponse:
    """Feed health, failing feeds first."""
    feeds = failing_first(_feeds(store))
    return page(request, "sources.html", title="Feed health", feeds=feeds, failing=sum(_failing(f) for f in feeds))


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(request: Request, store: Stored, retried: str | None = None) -> HTMLResponse:
    """The alert outbox, newest first; admins get a retry button on each failed alert."""
    return page(request, "alerts.html", title="Alerts", alerts=_alerts(store), retried=_after(retried))


@router.post("/alerts/{alert_id}/retry", dependencies=[Depends(same_origin)])
def retry(request: Request, store: Stored, alert_id: int) -> Response:
    if request.state.scope != "admin":
        return page(request, "missing.html", 403, title="Not allowed", what="Retrying an alert needs an admin token.")
    had = _retry(store, alert_id)
    if had != "failed":
        what = f"There is no alert {alert_id}." if had is None else f"Alert {alert_id} is {had}, not failed."
        return page(request, "missing.html", 409 if had else 404, title="Not retried", what=what)
    return RedirectResponse(f"/alerts?retried={alert_id}", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, target: Annotated[str | None, Query(alias="next")] = None) -> HTMLResponse:
    return page(request, "login.html", title="Log in", target=local_target(target), wrong=False)


@router.post("/login", dependencies=[Depends(same_origin)])
async def login(request: Request) -> Response:
    """The token from the form into an HttpOnly cookie; back to the page that asked for it."""
    config: Config = request.app.state.config
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    token = (form.get("token") or [""])[-1].strip()
    target = local_target((form.get("next") or ["/"])[-1])
    if config.api.tokens and (not token or token_holder(config.api.tokens, token) is None):
        return page(request, "login.html", 401, title="Log in", target=target, wrong=True)
    response = RedirectResponse(target, status_code=303)
    if config.api.tokens:
        response.headers["set-cookie"] = cookie_header(token)
    return response


@router.post("/logout", dependencies=[Depends(same_origin)])
def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.headers["set-cookie"] = cookie_header(None)
    return response
