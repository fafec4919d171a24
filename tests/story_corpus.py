"""The story-clustering test corpus and an in-memory stand-in for the store's key index.

``MemoryStoryIndex`` does what the store does with ``story_key`` rows: file each article
under its ``index_keys``, and for a new article fetch the articles sharing keys with it
inside the time window, rank them by shared keys, keep the top N and call ``assign``.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import combinations
from pathlib import Path
from typing import Any

import yaml

from monitor.model import Document
from monitor.store.repository import CANDIDATES_PER_ARTICLE
from monitor.stories import (
    Assignment,
    Candidate,
    StoryFeatures,
    StoryRules,
    assign,
    index_keys,
    story_features,
)

CORPUS = Path(__file__).parent / "data" / "story_corpus.yaml"
EPOCH = datetime(2024, 10, 21, 6, 0, tzinfo=UTC)
TOP_N = CANDIDATES_PER_ARTICLE  # as many candidates as the store hands to assign


@dataclass(frozen=True)
class Report:
    """One article of the corpus and the story it truly belongs to."""

    story: str
    outlet: str
    language: str
    title: str
    text: str
    published_at: datetime
    copy: bool = False


def _page(outlet: str, text: str) -> str:
    """Wrap article prose in the kind of furniture a scraped page keeps."""
    return f"{outlet}\nHome | News | Tech\n{text}\nShare\nFollow {outlet} on Google News\n"


def load_corpus(seed: int = 20241021) -> list[Report]:
    """Every report and copy of the corpus, in publication order (deterministic)."""
    data: dict[str, Any] = yaml.safe_load(CORPUS.read_text(encoding="utf-8"))
    rng = random.Random(seed)
    reports: list[Report] = []
    for story in data["stories"]:
        start = EPOCH + timedelta(hours=rng.uniform(0, 48))
        originals = story["reports"]
        for item in originals:
            reports.append(
                Report(
                    story=story["id"],
                    outlet=item["outlet"],
                    language=item["lang"],
                    title=item["title"],
                    text=_page(item["outlet"], item["text"]),
                    published_at=start + timedelta(hours=item["hour"]),
                )
            )
        for copy in story.get("copies", []):
            original = originals[copy["of"]]
            reports.append(
                Report(
                    story=story["id"],
                    outlet=copy["outlet"],
                    language=original["lang"],
                    title=copy["title"],
                    text=_page(copy["outlet"], f"{original['text']}\n{copy['extra']}"),
                    published_at=start + timedelta(hours=copy["hour"]),
                    copy=True,
                )
            )
    rng.shuffle(reports)  # ties in time must not follow the file order
    return sorted(reports, key=lambda report: report.published_at)


class MemoryStoryIndex:
    """The store's ``story_key`` table and candidate query, in memory."""

    def __init__(self, rules: StoryRules | None = None, top_n: int = TOP_N) -> None:
        self.rules = rules or StoryRules()
        self.top_n = top_n
        self.by_key: dict[str, list[int]] = {}
        self.articles: list[tuple[int, StoryFeatures, datetime]] = []  # story, features, seen
        self.next_story = 1

    def add(self, features: StoryFeatures, seen_at: datetime) -> Assignment:
        """Place one new article, file it, and return the decision taken."""
        keys = index_keys(features)
        shared: Counter[int] = Counter()
        for key in keys:
            for article_id in self.by_key.get(key, ()):
                _, _, seen = self.articles[article_id]
                if abs(seen - seen_at) <= self.rules.window:
                    shared[article_id] += 1
        candidates = [
            Candidate(article_id, self.articles[article_id][0], self.articles[article_id][1])
            for article_id, _ in shared.most_common(self.top_n)
        ]
        decision = assign(features, candidates, self.rules)
        story_id = decision.story_id
        if story_id is None:
            story_id = self.next_story
            self.next_story += 1
        article_id = len(self.articles)
        self.articles.append((story_id, features, seen_at))
        for key in keys:
            self.by_key.setdefault(key, []).append(article_id)
        return Assignment(story_id, decision.similarity, decision.signal)


def features_of(report: Report) -> StoryFeatures:
    return story_features(
        Document(title=report.title, text=report.text, language=report.language),
        report.published_at,
    )


def pairwise_scores(gold: list[str], predicted: list[int | None]) -> tuple[float, float]:
    """Pairwise precision and recall of "these two articles are one story"."""
    true_positive = false_positive = false_negative = 0
    for i, j in combinations(range(len(gold)), 2):
        same_gold = gold[i] == gold[j]
        same_predicted = predicted[i] == predicted[j]
        true_positive += same_gold and same_predicted
        false_positive += same_predicted and not same_gold
        false_negative += same_gold and not same_predicted
    precision = true_positive / max(1, true_positive + false_positive)
    recall = true_positive / max(1, true_positive + false_negative)
    return precision, recall
