"""The JSON API under /api/v1: what the CLI's query commands show, for programs.

Lists answer ``{"items": [...], "next_cursor": ...}``; the cursor is the key of the
last row shown (keyset paging, monitor/store/queries.py), so pages stay exact while
new rows arrive. Every handler asks the app's ``Store`` (monitor.store.interface); none holds SQL.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse

from monitor.api.auth import require_admin
from monitor.api.schemas import (
    AlertRow,
    ArticleRow,
    ErrorBody,
    FeedRow,
    MatchRow,
    Page,
    PreviewRow,
    SearchResults,
    SearchRow,
    StoryRow,
    TopicRow,
    TopicTestRequest,
    TopicTestResult,
)
from monitor.api.slug import topic_slug
from monitor.config import Config, parse_duration
from monitor.errors import MonitorError, QueryError, UsageError
from monitor.preview import chosen_topic, preview_topic
from monitor.store.interface import Store as Queried
from monitor.store.records import NO_ACTIVITY, Filters
from monitor.store.utc import utcnow

API_PREFIX = "/api/v1"
MAX_LIMIT = 1000
K = TypeVar("K", int, str)


class BadParameter(HTTPException):
    def __init__(self, name: str, detail: str) -> None:
        super().__init__(400, f"{name}: {detail}")


def known_parameters(request: Request) -> None:
    """A parameter the endpoint does not take is a 400, not silently ignored (a typo'd filter
    would otherwise return everything)."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    known = set(_query_names(dependant))
    if unknown := sorted(set(request.query_params) - known):
        takes = ", ".join(sorted(known)) or "no parameters"
        raise BadParameter(unknown[0], f"not a parameter of {request.url.path}; it takes {takes}")


def _query_names(dependant: Any) -> Iterator[str]:
    """The query parameters of an endpoint and of the dependencies it takes them through."""
    yield from (p.alias for p in dependant.query_params)
    for sub in dependant.dependencies:
        yield from _query_names(sub)


router = APIRouter(
    prefix=API_PREFIX,
    dependencies=[Depends(known_parameters)],
    responses={
        400: {"model": ErrorBody, "description": "a bad parameter, cursor or query"},
        401: {"model": ErrorBody, "description": "no token, or a wrong one (when api.tokens is set)"},
    },
)


def _store(request: Request) -> Queried:
    store: Queried = request.app.state.store
    return store


def _config(request: Request) -> Config:
    config: Config = request.app.state.config
    return config


Store = Annotated[Queried, Depends(_store)]
Settings = Annotated[Config, Depends(_config)]

_ISO_HINT = "a duration (2d, 12h, 30m) before now, or a time such as 2024-10-22T08:00:00Z"


def moment(name: str, value: str | None) -> datetime | None:
    """``since``/``until``: a duration back from now, or an ISO 8601 time (UTC when it names no zone)."""
    if value is None:
        return None
    try:
        return utcnow() - parse_duration(value)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise BadParameter(name, f"{value[:40]!r} is neither {_ISO_HINT}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _encode(kind: str, key: int | str) -> str:
    return base64.urlsafe_b64encode(json.dumps([kind, key]).encode()).decode().rstrip("=")


def _decode(kind: str, cursor: str | None, key_type: type[K]) -> K | None:
    if cursor is None:
        return None
    try:
        found, key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError, binascii.Error):
        found, key = None, None
    if found != kind or not isinstance(key, key_type) or isinstance(key, bool):
        raise BadParameter("cursor", f"not a cursor of {kind}; pass the next_cursor of the previous page as given")
    return key


def _json(rows: Sequence[Any]) -> list[dict[str, Any]]:
    return [row.to_json() for row in rows]


def _page(
    kind: str, fetch: Callable[[int], Sequence[Any]], paging: Paging, key: Callable[[Any], int | str]
) -> Page[Any]:
    """One page: one row more asked than shown, to know whether a next page exists."""
    rows = fetch(paging.limit + 1)
    more = len(rows) > paging.limit
    return Page(
        items=list(rows[: paging.limit]),
        next_cursor=_encode(kind, key(rows[paging.limit - 1])) if more else None,
    )


TopicName = Annotated[str | None, Query(description="only this topic (its name)")]
Since = Annotated[str | None, Query(description=f"only from then on: {_ISO_HINT}")]
Until = Annotated[str | None, Query(description=f"only before then: {_ISO_HINT}")]
Lang = Annotated[str | None, Query(description="only this language (ISO 639-1, e.g. de)", max_length=16)]
FeedName = Annotated[str | None, Query(description="only from this feed (its name)")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="at most this many rows per page")]
Cursor = Annotated[str | None, Query(description="the next_cursor of the previous page")]


# The parameters the lists share, each group parsed once (a dependency) into a record.


@dataclass(frozen=True)
class Period:
    """``since`` and ``until`` as moments."""

    since: datetime | None
    until: datetime | None


def period(since: Since = None, until: Until = None) -> Period:
    return Period(moment("since", since), moment("until", until))


def filters(
    when: Annotated[Period, Depends(period)], topic: TopicName = None, lang: Lang = None, feed: FeedName = None
) -> Filters:
    return Filters(topic, when.since, when.until, lang, feed)


@dataclass(frozen=True)
class Paging:
    """``limit`` and ``cursor``; ``after`` decodes the cursor as the key of its list."""

    limit: int
    cursor: str | None

    def after(self, kind: str, key_type: type[K]) -> K | None:
        return _decode(kind, self.cursor, key_type)


def paging(limit: Limit = 50, cursor: Cursor = None) -> Paging:
    return Paging(limit, cursor)


Periods = Annotated[Period, Depends(period)]
Filtered = Annotated[Filters, Depends(filters)]
Paged = Annotated[Paging, Depends(paging)]


@router.get("/matches", response_model=Page[MatchRow])
def matches(store: Store, where: Filtered, page: Paged) -> Page[Any]:
    """Stored matches, newest first: topic, article, score, the terms that fired, the snippet."""
    after = page.after("matches", int)
    return _page(
        "matches",
        lambda n: _json(store.matches(where, limit=n, after=after)),
        page,
        lambda row: row["id"],
    )


@router.get("/stories", response_model=Page[StoryRow])
def stories(store: Store, where: Filtered, page: Paged) -> Page[Any]:
    """Stories, first seen newest first: one event, every outlet and language that carried it.

    ``since`` keeps the stories still growing then; ``lang`` and ``feed`` those with an
    article in that language or from that feed."""
    after = page.after("stories", int)
    return _page(
        "stories",
        lambda n: _json(store.stories(where, limit=n, after=after)),
        page,
        lambda row: row["id"],
    )


@router.get("/stories/{story_id}", response_model=StoryRow, responses={404: {"model": ErrorBody}})
def story(store: Store, story_id: int) -> Any:
    """One story with each article's outlet, language, similarity and the signal that joined it."""
    found = store.story(story_id)
    if found is None:
        raise HTTPException(404, f"no story {story_id}; GET {API_PREFIX}/stories lists them")
    return found.to_json()


@router.get("/articles", response_model=Page[ArticleRow])
def articles(store: Store, where: Filtered, page: Paged) -> Page[Any]:
    """Stored articles, newest first, with their extracted text and where it came from."""
    after = page.after("articles", int)
    return _page(
        "articles",
        lambda n: _json(store.articles(where, limit=n, after=after)),
        page,
        lambda row: row["id"],
    )


@router.get("/articles/{article_id}", response_model=ArticleRow, responses={404: {"model": ErrorBody}})
def article(store: Store, article_id: int) -> Any:
    """One article with its text."""
    found = store.article(article_id)
    if found is None:
        raise HTTPException(404, f"no article {article_id}; GET {API_PREFIX}/articles lists them")
    return found.to_json()


@router.get("/search", response_model=SearchResults)
def search(
    store: Store,
    q: Annotated[str, Query(min_length=1, description="a query in the topic language (docs/query-language.md)")],
    when: Periods,
    page: Paged,
) -> Any:
    """Stored articles that ``q`` matches, newest stored first: the full-text index narrows,
    the topic matcher decides (docs/search.md). ``since``/``until`` are by arrival."""
    try:
        found = store.search(q, since=when.since, until=when.until, limit=page.limit, cursor=page.cursor)
    except UsageError as exc:
        raise BadParameter("cursor", str(exc)) from None
    return SearchResults(
        items=[SearchRow(**item.to_json()) for item in found.items],
        next_cursor=found.next_cursor,
        scanned=found.scanned,
        narrowed=found.narrowed,
        bounded=found.bounded,
    )


@router.get("/feeds", response_model=Page[FeedRow])
def feeds(
    store: Store,
    page: Paged,
    failing: Annotated[bool, Query(description="only feeds that fail or are dead")] = False,
) -> Page[Any]:
    """The polled feeds by name: last status and error, failures in a row, next check."""
    after = page.after("feeds", str)
    return _page(
        "feeds",
        lambda n: _json(store.feeds(failing=failing, limit=n, after=after)),
        page,
        lambda row: row["name"],
    )


@router.get("/alerts", response_model=Page[AlertRow])
def alerts(
    store: Store,
    when: Periods,
    page: Paged,
    topic: TopicName = None,
    status: Annotated[Literal["pending", "delivered", "failed"] | None, Query(description="only this state")] = None,
) -> Page[Any]:
    """The alert outbox, newest first: what was sent where, what waits for a retry and why."""
    after = page.after("alerts", int)
    return _page(
        "alerts",
        lambda n: _json(
            store.alerts(topic=topic, status=status, limit=n, after=after, since=when.since, until=when.until)
        ),
        page,
        lambda row: row["id"],
    )


@router.post(
    "/alerts/{alert_id}/retry",
    response_model=AlertRow,
    dependencies=[Depends(require_admin)],
    responses={403: {"model": ErrorBody}, 404: {"model": ErrorBody}, 409: {"model": ErrorBody}},
)
def retry_alert(store: Store, alert_id: int) -> Any:
    """Put a failed alert back into the outbox for one more delivery attempt (admin scope).

    The daemon sends it at its next check (`polling.tick`)."""
    had = store.retry_failed_alert(alert_id, utcnow())
    if had is None:
        raise HTTPException(404, f"no alert {alert_id}; GET {API_PREFIX}/alerts?status=failed lists the failed ones")
    if had != "failed":
        raise HTTPException(409, f"alert {alert_id} is {had}; only a failed alert can be retried")
    retried = store.alert(alert_id)
    if retried is None:  # gone since (a restore, a hand-edited database)
        raise HTTPException(404, f"no alert {alert_id}")
    return retried.to_json()


@router.get("/topics", response_model=Page[TopicRow])
def topics(store: Store, config: Settings, page: Paged) -> Page[Any]:
    """The configured topics by name: query, Atom feed, and what each has matched so far."""
    after = page.after("topics", str)
    activity = store.topic_activity()

    def rows(n: int) -> list[TopicRow]:
        chosen = sorted((t for t in config.topics if after is None or t.name > after), key=lambda t: t.name)[:n]
        return [
            TopicRow(
                name=t.name,
                query=t.query,
                stem=t.stem,
                slug=topic_slug(t.name),
                feed_url=f"/feeds/topics/{topic_slug(t.name)}.atom",
                matches=(seen := activity.get(t.name, NO_ACTIVITY)).matches,
                stories=seen.stories,
                last_matched_at=_iso(seen.last_matched_at),
            )
            for t in chosen
        ]

    return _page("topics", rows, page, lambda row: row.name)


@router.post("/topics/test", response_model=TopicTestResult, responses={404: {"model": ErrorBody}})
def topics_test(store: Store, config: Settings, body: TopicTestRequest) -> Any:
    """Try a query, or a configured topic, over the stored articles: how many would match,
    per language, and the best matches. Stores nothing and alerts nobody."""
    if bool(body.query) == bool(body.name):
        raise BadParameter("body", 'give {"query": ...} or {"name": ...}, not both')
    try:
        since = utcnow() - parse_duration(body.since)
    except ValueError as exc:
        raise BadParameter("since", str(exc)) from None
    try:
        spec = chosen_topic(config.topics, body.name, body.query)
        found = preview_topic(spec, store.stored_documents(since), body.limit)
    except QueryError:
        raise
    except MonitorError as exc:
        raise HTTPException(404, str(exc)) from None
    return TopicTestResult(
        topic=found.topic,
        scanned=found.scanned,
        matched=found.matched,
        by_language=dict(found.by_language),
        best=[
            PreviewRow(
                score=m.score,
                article_id=m.article_id,
                story_id=m.story_id,
                language=m.language,
                title=m.title,
                terms=list(m.terms),
                snippet=m.snippet,
            )
            for m in found.best
        ],
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z") if moment else None


_COLUMN = re.compile(r"column (\d+)")


def query_error(_request: Request, exc: Exception) -> JSONResponse:
    """A query that does not parse: 400 with the column, as `monitor match --query` says it."""
    column = _COLUMN.search(str(exc))
    body: dict[str, Any] = {"error": "bad query", "detail": str(exc)}
    if column:
        body["column"] = int(column.group(1))
    return JSONResponse(body, status_code=400)
