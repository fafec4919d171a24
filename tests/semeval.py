"""Real multilingual news pairs (SemEval-2022 task 8) as the story tests and the fit read them.

``../shared/corpora/stories/semeval2022-task8-tune.csv`` holds 670 scraped article pairs in
ten languages with human similarity scores (1 = same story ... 4 = unrelated). The texts
are copyrighted: they are read from ``../shared`` only, never copied into the project, and
the callers skip when the folder is absent (a user's clone does not have it).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpora" / "stories" / "semeval2022-task8-tune.csv"
SAME, DIFFERENT = 1.5, 2.5  # Overall <= 1.5: the same story; >= 2.5: different; between: left out
HEADLINE_WORDS = 12


@dataclass(frozen=True)
class Article:
    id: str
    language: str
    title: str
    text: str


@dataclass(frozen=True)
class Pair:
    a: Article
    b: Article
    same: bool

    @property
    def languages(self) -> tuple[str, str]:
        return self.a.language, self.b.language

    @property
    def across_languages(self) -> bool:
        return self.a.language != self.b.language


def headline_and_text(raw: str) -> tuple[str, str]:
    """A scraped text as a feed would bring it: the headline is glued to the body, so the
    first line (when there are several) or the first 12 words stand for the headline, and
    the whole text is the page."""
    text = raw.strip()
    first, _, rest = text.partition("\n")
    if rest and len(first) < 200:
        return first.strip(), text
    return " ".join(text.split()[:HEADLINE_WORDS]), text


def labelled_pairs(path: Path = CORPUS) -> list[Pair]:
    """The pairs with a clear label, each article once (a pair listed twice counts once)."""
    pairs: dict[tuple[str, str], Pair] = {}
    with path.open(newline="", encoding="utf-8") as file:
        for row in csv.DictReader(file):
            overall = float(row["Overall"])
            if SAME < overall < DIFFERENT:
                continue
            first, second = row["pair_id"].split("_")
            a = Article(first, row["lang1"], *headline_and_text(row["text_1"]))
            b = Article(second, row["lang2"], *headline_and_text(row["text_2"]))
            pairs.setdefault((first, second), Pair(a, b, overall <= SAME))
    return list(pairs.values())


def scores(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    """Precision, recall and F1 of "same story"."""
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1
