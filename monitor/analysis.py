"""Everything CPU-bound one new article needs, in one pure call made in a worker process.

Extraction, language identification, topic matching and story features all read the
same text; doing them together in the worker means the page crosses the process
boundary once, the event loop only fetches and stores, and both cores work. The
compiled topics reach each worker once, when it starts (``install_topics``), not with
every article.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from monitor import stories
from monitor.extract import extract_article
from monitor.model import Document, Entry, TopicMatch
from monitor.text import detect_language
from monitor.topics import TopicSet

_installed: dict[str, TopicSet] = {}  # this worker's topics, set once by install_topics
MIN_WORDS_FOR_TEXT_IDENTITY = 50


@dataclass(frozen=True, slots=True)
class Analysed:
    """One article as the store needs it."""

    document: Document
    published_at: datetime | None
    matches: list[TopicMatch]  # without their hits: the store keeps terms and snippet, not offsets
    features: stories.StoryFeatures
    text_hash: str | None  # see text_identity


def text_identity(text: str) -> str | None:
    """The text's hash, when equal text means the same item: real prose, not a one-line summary many feeds share."""
    if len(text.split()) < MIN_WORDS_FOR_TEXT_IDENTITY:
        return None
    return stories.text_hash(text) or None


def install_topics(topics: TopicSet) -> None:
    """Give this process the topics ``analyse`` matches against (a worker's initializer)."""
    _installed["topics"] = topics


def _topics() -> TopicSet:
    # Matching nothing would lose matches silently: a worker without topics is a bug.
    if "topics" not in _installed:
        raise RuntimeError("no topics in this worker process: create the WorkerPool with setup=install_topics")
    return _installed["topics"]


def analyse(entry: Entry, feed_language: str | None, page: bytes | None = None, page_url: str = "") -> Analysed | None:
    """The article behind ``entry``: the page's text when it has one, else the feed's own.

    None when there is nothing to store (no title and no text).
    """
    title, text = entry.title, entry.summary
    declared, published = entry.language or feed_language, entry.published_at
    need_metadata = not (title and published)
    extracted = extract_article(page, page_url or entry.url, metadata=need_metadata) if page else None
    if extracted is not None:
        text = extracted.text
        title = title or (extracted.title or "")
        declared = extracted.language or declared
        published = published or extracted.published_at
    if not text and not title:
        return None
    language = detect_language(f"{title}\n{text}", declared)
    document = Document(title=title, text=text, language=language, url=entry.url)
    return Analysed(
        document=document,
        published_at=published,
        # Dozens of Hit objects per article would double what crosses back to the event loop.
        matches=[replace(match, hits=()) for match in _topics().match(document)],
        features=stories.story_features(document, published),
        text_hash=text_identity(text),
    )
