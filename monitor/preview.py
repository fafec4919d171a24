"""A topic tried over stored articles before it alerts anyone: `monitor topics test` and
`POST /api/v1/topics/test`. Stores nothing."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from monitor.config import TopicConfig
from monitor.errors import MonitorError
from monitor.model import Document
from monitor.topics import TopicSet, TopicSpec


@dataclass(frozen=True)
class PreviewMatch:
    score: float
    article_id: int
    story_id: int
    language: str | None
    title: str
    terms: tuple[str, ...]
    snippet: str


@dataclass(frozen=True)
class TopicPreview:
    topic: str
    scanned: int  # articles stored since the start of the window
    matched: int
    by_language: tuple[tuple[str, int], ...]  # most matches first
    best: tuple[PreviewMatch, ...]  # highest score first


def chosen_topic(topics: Sequence[TopicConfig], name: str | None, query: str | None) -> TopicSpec:
    """The configured topic ``name`` or the ad-hoc ``query`` (exactly one of them) as a spec.

    Raises MonitorError naming the topics that exist for an unknown name; the query is
    parsed when compiled (QueryError with its column).
    """
    if bool(name) == bool(query):
        raise MonitorError("give a topic name or a query, not both")
    if name:
        chosen = next((t for t in topics if t.name == name), None)
        if chosen is None:
            raise MonitorError(f"no topic named {name!r}; the topics are: {', '.join(t.name for t in topics)}")
        return TopicSpec(chosen.name, chosen.query, chosen.stem)
    return TopicSpec("query", query or "")


def preview_topic(spec: TopicSpec, documents: Iterable[tuple[int, int, Document]], limit: int) -> TopicPreview:
    """How many of the stored ``documents`` ((article id, story id, document), e.g. a store's
    ``stored_documents(since)``) the topic matches, per language, and the best ``limit``."""
    topic = TopicSet.compile([spec])
    scanned, per_language, best = 0, Counter[str](), []
    for article_id, story_id, document in documents:
        scanned += 1
        for found in topic.match(document):
            per_language[document.language or "?"] += 1
            best.append(
                PreviewMatch(
                    round(found.score, 3),
                    article_id,
                    story_id,
                    document.language,
                    document.title,
                    tuple(found.terms),
                    found.snippet,
                )
            )
    best.sort(key=lambda m: (-m.score, m.article_id))
    return TopicPreview(
        topic=spec.name,
        scanned=scanned,
        matched=sum(per_language.values()),
        by_language=tuple(per_language.most_common()),
        best=tuple(best[:limit]),
    )
