"""The database tables. Schema changes go through an Alembic migration in migrations/."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from monitor.store.utc import UTCDateTime


def _when(index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), index=index, nullable=True))


class Feed(SQLModel, table=True):
    """A polled feed and its schedule: everything a restart needs to carry on."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    url: str = Field(unique=True)
    # "config": follows the config file; "cli": added by `monitor feeds add/import`;
    # "discovered": the feed a page announced to `feeds add`, a stranger's URL (fetch.allow_networks applies)
    origin: str = "config"
    active: bool = True  # False when removed from the configuration
    interval_override_s: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    last_status: str | None = None  # "ok", "not modified", "HTTP 404", "error"
    last_error: str | None = None
    last_warning: str | None = None  # what the last poll read anyway, e.g. a body mislabelled as gzip
    error_count: int = 0  # consecutive failures
    failing_since: datetime | None = _when()
    dead: bool = False
    interval_s: int = 0
    rhythm: str | None = None  # JSON of polling.Rhythm: recent entry dates and the feed's hints
    last_checked_at: datetime | None = _when()
    next_check_at: datetime | None = _when(index=True)
    lease_owner: str | None = None
    lease_expires_at: datetime | None = _when()


class Story(SQLModel, table=True):
    """One event, however many outlets and languages told it."""

    id: int | None = Field(default=None, primary_key=True)
    title: str  # the title of its first article, in that article's language
    language: str | None = None
    first_seen: datetime | None = _when(index=True)
    last_seen: datetime | None = _when()
    article_count: int = 0


class Article(SQLModel, table=True):
    """A fetched article, stored once however many times feeds repeat it."""

    __table_args__ = (UniqueConstraint("feed_id", "guid", name="uq_article_feed_guid"),)

    id: int | None = Field(default=None, primary_key=True)
    feed_id: int = Field(foreign_key="feed.id", index=True)
    guid: str
    url: str
    canonical_url: str = Field(unique=True)
    text_hash: str | None = Field(default=None, unique=True)  # None when the text has no words
    title: str
    text: str = Field(sa_column=Column(Text, nullable=False))
    language: str | None = None
    published_at: datetime | None = _when()
    fetched_at: datetime | None = _when(index=True)
    story_id: int | None = Field(default=None, foreign_key="story.id", index=True)
    story_similarity: float = 1.0  # to the story's first article
    story_signal: str = "first article"  # what joined it to its story
    features: str = Field(sa_column=Column(Text, nullable=False))  # StoryFeatures as JSON
    # "page", "feed" or "rejected: <reason>": where ``text`` came from (monitor.model.Document).
    text_source: str = Field(default="page", sa_column_kwargs={"server_default": "page"})


class SiteText(SQLModel, table=True):
    """How many links of one site served the same page text: a site-level fingerprint.

    A consent wall or "please enable JavaScript" page the classifier does not know comes
    back, word for word, for every link of its site; from the third link on it is not
    taken for the article's text (see monitor.pipeline). One row per (site, text), looked
    up by its primary key once per article.
    """

    __tablename__ = "site_text"
    __table_args__ = {"sqlite_with_rowid": False}  # the key is the row: one B-tree to write

    host: str = Field(primary_key=True)  # the link's host, without "www."
    text_hash: str = Field(primary_key=True)  # stories.text_hash of the page's text
    pages: int = 0  # links of this host whose page had this text
    last_seen: datetime | None = _when()


class StoryKey(SQLModel, table=True):
    """Selective keys (LSH bands, cross-lingual signals) that find story candidates.

    The primary key is the whole row, in lookup order: "the newest articles filed under
    this key since then" is one range of one B-tree (on SQLite a WITHOUT ROWID table, so
    there is no second copy of the rows), and filing an article touches one leaf per key.
    """

    __tablename__ = "story_key"
    # seen_at alone: retention deletes the keys older than the story window by time range.
    __table_args__ = (Index("ix_story_key_seen_at", "seen_at"), {"sqlite_with_rowid": False})

    key: str = Field(primary_key=True)
    seen_at: datetime = Field(sa_column=Column(UTCDateTime(), primary_key=True, nullable=False))
    article_id: int = Field(primary_key=True, foreign_key="article.id")


class Match(SQLModel, table=True):
    """An article matched a topic, and why."""

    __table_args__ = (UniqueConstraint("topic", "article_id", name="uq_match_topic_article"),)

    id: int | None = Field(default=None, primary_key=True)
    topic: str = Field(index=True)
    article_id: int = Field(foreign_key="article.id", index=True)
    story_id: int = Field(foreign_key="story.id", index=True)
    score: float
    terms: str  # JSON list
    clause: str = ""
    snippet: str = Field(sa_column=Column(Text, nullable=False))
    matched_at: datetime | None = _when(index=True)
    backfill: bool = False  # matched when the topic was added, not when the article arrived


class Alert(SQLModel, table=True):
    """The outbox: one row per message to send, under a unique key, written with its cause.

    ``kind`` "match": a topic's first alert for a story (key per topic, story, channel),
    written with the match; "update": an alerted story gained a language or outlets,
    written with the article; "digest": one period of a digest; "operator": a feed failing
    or recovered, an alert given up. What a digest or operator alert says is frozen in
    ``payload`` when it is queued; the others are read from the story at send time.
    """

    __table_args__ = (
        UniqueConstraint("key", name="uq_alert_key"),
        Index("ix_alert_due", "status", "next_attempt_at"),
        Index("ix_alert_story", "story_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str  # one row per key, ever: what makes every alert "once" (repository.outbox_key)
    kind: str = Field(default="match", sa_column_kwargs={"server_default": "match"})
    topic: str  # the topic; a digest's name; "operator" for operator alerts
    story_id: int | None = Field(default=None, foreign_key="story.id")
    match_id: int | None = Field(default=None, foreign_key="match.id")
    channel: str  # "webhook:<name>" or "email"
    payload: str | None = Field(default=None, sa_column=Column(Text, nullable=True))  # JSON, by kind
    status: str = "pending"  # pending → delivered, or failed after alerts.retry_for
    attempts: int = 0
    last_error: str | None = None
    created_at: datetime | None = _when()
    next_attempt_at: datetime | None = _when()
    delivered_at: datetime | None = _when()
    lease_owner: str | None = None
    lease_expires_at: datetime | None = _when()


class Topic(SQLModel, table=True):
    """The queries the matches were made with, to notice a topic added or changed."""

    name: str = Field(primary_key=True)
    query: str
    updated_at: datetime | None = _when()


class SearchWord(SQLModel, table=True):
    """A long word of a compounding-language article (German, Dutch, Swedish, Danish,
    Norwegian), where a search term may match inside it: ``Verbot`` in *TikTokverbot*.
    Search looks up the words holding a term here (see monitor.store.search)."""

    __tablename__ = "search_word"
    __table_args__ = {"sqlite_with_rowid": False}

    word: str = Field(primary_key=True)


# The full-text index, made by migration 0006 in each database's own kind (an FTS5 virtual
# table and its shadow tables on SQLite, a tsvector table on PostgreSQL): no model describes it.
FULL_TEXT_TABLES = ("article_fts", "article_search")


def described(name: str | None, type_: str, _parents: object) -> bool:
    """For Alembic's comparisons: everything but the full-text index has a model above."""
    return not (type_ == "table" and name is not None and name.startswith(FULL_TEXT_TABLES))
