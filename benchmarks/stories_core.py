"""Cost of the pure story-clustering core per article (no database).

Run: .venv/bin/python benchmarks/stories_core.py
Prints milliseconds per call of story_features (language given / detected),
index_keys and assign against 50 candidates (the store's top N), over the seeds
and the test corpus.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))

from story_corpus import features_of, load_corpus

from monitor.model import Document
from monitor.stories import Candidate, assign, index_keys, story_features

SEEDS = Path(__file__).parent.parent / "seeds"


def seed_document(path: Path) -> Document:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return Document(title=lines[0], text="\n".join(lines[1:]))


def per_call_ms(action: Callable[[], object], calls: int) -> float:
    start = time.perf_counter()
    action()
    return (time.perf_counter() - start) * 1000 / calls


def main() -> None:
    seeds = [seed_document(path) for path in sorted(SEEDS.glob("*.txt"))]
    story_features(seeds[0], None)  # loads the language model once
    reports = load_corpus()
    corpus_features = [features_of(report) for report in reports]
    given = [replace(doc, language="id") for doc in seeds]
    rounds = 20

    def features_detected() -> None:
        for _ in range(rounds):
            for doc in seeds:
                story_features(doc, None)

    def features_given() -> None:
        for _ in range(rounds):
            for doc in given:
                story_features(doc, None)

    def corpus_features_given() -> None:
        for report in reports:
            features_of(report)

    def keys() -> None:
        for _ in range(rounds):
            for features in corpus_features:
                index_keys(features)

    candidates = [Candidate(i, i // 2, features) for i, features in enumerate(corpus_features[:50])]

    def assign_50() -> None:
        for features in corpus_features:
            assign(features, candidates)

    seed_calls = rounds * len(seeds)
    rows = [
        ("story_features, seed page (~3 kB), language detected", features_detected, seed_calls),
        ("story_features, seed page (~3 kB), language given", features_given, seed_calls),
        (
            "story_features, corpus article (~0.5 kB), language given",
            corpus_features_given,
            len(reports),
        ),
        ("index_keys", keys, rounds * len(corpus_features)),
        ("assign against 50 candidates", assign_50, len(corpus_features)),
    ]
    for label, action, calls in rows:
        print(f"{label:60s} {per_call_ms(action, calls):7.3f} ms")
    key_counts = [len(index_keys(features)) for features in corpus_features]
    print(
        f"{'index keys per article (corpus): mean / max':60s} "
        f"{sum(key_counts) / len(key_counts):7.1f} / {max(key_counts)}"
    )


if __name__ == "__main__":
    main()
