"""The JSON shapes of the API: the CLI's JSON rows (monitor/store/queries.py) as models,
so the OpenAPI document says exactly what comes back. docs/api.md describes each field;
tests/test_api_docs.py keeps the two in step."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Page(_Shape, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null on the last page")


class MatchRow(_Shape):
    id: int
    topic: str
    article_id: int
    url: str
    title: str
    language: str | None
    published_at: str | None
    story_id: int
    score: float
    terms: list[str]
    snippet: str
    snippet_text: str
    highlights: list[list[int]]
    matched_at: str | None
    backfill: bool


class StoryArticle(_Shape):
    id: int
    url: str
    title: str
    language: str | None
    feed: str
    similarity: float
    signal: str


class StoryRow(_Shape):
    id: int
    title: str
    language: str | None
    first_seen: str | None
    topics: list[str]
    languages: list[str]
    articles: list[StoryArticle]


class ArticleRow(_Shape):
    id: int
    url: str
    canonical_url: str
    title: str
    language: str | None
    published_at: str | None
    feed: str
    story_id: int | None
    text_source: str
    text: str


class SearchRow(ArticleRow):
    score: float
    terms: list[str]
    snippet: str


class SearchResults(_Shape):
    items: list[SearchRow]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null when nothing is left")
    scanned: int = Field(description="candidates the matcher examined for this page")
    narrowed: bool = Field(description="false: nothing in the query narrowed the full-text search")
    bounded: bool = Field(description="true: the page stopped at the scan bound; follow next_cursor for more")


class FeedRow(_Shape):
    name: str
    url: str
    last_status: str | None
    last_error: str | None
    last_warning: str | None
    error_count: int
    last_checked_at: str | None
    next_check_at: str | None
    interval: int
    failing_since: str | None


class AlertRow(_Shape):
    id: int
    kind: str
    topic: str
    story_id: int | None
    channel: str
    status: str
    attempts: int
    last_error: str | None
    created_at: str | None
    delivered_at: str | None


class TopicRow(_Shape):
    name: str
    query: str
    stem: bool
    slug: str
    feed_url: str
    matches: int
    stories: int
    last_matched_at: str | None


class TopicTestRequest(_Shape):
    query: str | None = Field(default=None, description="a query to try (docs/query-language.md)")
    name: str | None = Field(default=None, description="or the name of a configured topic")
    since: str = Field(default="30d", description="over the articles stored in the last AGE")
    limit: int = Field(default=10, ge=1, le=500, description="how many of the best matches to show")


class PreviewRow(_Shape):
    score: float
    article_id: int
    story_id: int
    language: str | None
    title: str
    terms: list[str]
    snippet: str


class TopicTestResult(_Shape):
    topic: str
    scanned: int
    matched: int
    by_language: dict[str, int]
    best: list[PreviewRow]


class ErrorBody(_Shape):
    error: str
    detail: str
    column: int | None = Field(default=None, description="for a bad query: the 1-based column of the problem")
