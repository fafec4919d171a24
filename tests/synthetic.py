"""Synthetic stories for the outbox tests: distinct articles no story check will join, and their matches."""

from __future__ import annotations

import random
import string
from datetime import datetime

from monitor.model import Document, TopicMatch
from monitor.store.interface import NewArticle
from monitor.stories import story_features


def z(text: str) -> datetime:
    """An ISO time written with a ``Z``."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def article(n: int, at: datetime, feed_id: int = 1) -> NewArticle:
    rng = random.Random(n)
    words = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(4, 9))) for _ in range(120)]
    doc = Document(
        title=f"Story {n}: {' '.join(words[:4])}",
        text="\n".join(" ".join(words[line * 15 : line * 15 + 15]) + "." for line in range(8)),
        language="en",
    )
    return NewArticle(
        feed_id=feed_id,
        guid=f"g{n}",
        url=f"https://news{feed_id}.example/{n}",
        title=doc.title,
        text=doc.text,
        language="en",
        published_at=at,
        features=story_features(doc, at),
        text_hash=f"h{n}",
    )


def hit(topic: str) -> TopicMatch:
    return TopicMatch(topic, 0.9, (topic.lower(),), clause=topic.lower(), snippet=f"the <mark>{topic}</mark> news")
