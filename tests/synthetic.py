"""Synthetic stories for the outbox tests: distinct articles no story check will join, and their matches."""

from __future__ import annotations

import random
import string
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime

from monitor.article import Analysed
from monitor.model import PAGE, Document, TopicMatch
from monitor.store.interface import NewArticle
from monitor.stories import story_features


def z(text: str) -> datetime:
    """An ISO time written with a ``Z``."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def new_article(
    document: Document,
    url: str,
    *,
    feed_id: int = 1,
    guid: str | None = None,
    published_at: datetime | None = None,
    matches: Iterable[TopicMatch] = (),
    text_hash: str | None = None,
    text_source: str = PAGE,
    page_hash: str | None = None,
) -> NewArticle:
    """``document`` at ``url`` as a worker would have analysed it, from feed ``feed_id``."""
    document = replace(document, url=url, text_source=text_source)
    features = story_features(document, published_at)
    analysed = Analysed(document, published_at, list(matches), features, text_hash, page_hash)
    return NewArticle(feed_id, guid or url, analysed)


def article(n: int, at: datetime, feed_id: int = 1, matches: Iterable[TopicMatch] = ()) -> NewArticle:
    """Article ``n``: random words no story check will join to another."""
    rng = random.Random(n)
    words = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(4, 9))) for _ in range(120)]
    doc = Document(
        title=f"Story {n}: {' '.join(words[:4])}",
        text="\n".join(" ".join(words[line * 15 : line * 15 + 15]) + "." for line in range(8)),
        language="en",
    )
    url = f"https://news{feed_id}.example/{n}"
    return new_article(doc, url, feed_id=feed_id, guid=f"g{n}", published_at=at, matches=matches, text_hash=f"h{n}")


def hit(topic: str) -> TopicMatch:
    return TopicMatch(topic, 0.9, (topic.lower(),), clause=topic.lower(), snippet=f"the <mark>{topic}</mark> news")
