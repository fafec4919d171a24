"""The story corpus end to end: index keys, an in-memory index like the store's, assign.

Pairwise precision and recall of "these two articles are one story" over 48 stories,
each told by two to four outlets in two to four languages, with syndicated copies and
near-miss stories (same actors and another event; same kind of event, other actors).
"""

from __future__ import annotations

from collections import Counter

from story_corpus import MemoryStoryIndex, features_of, load_corpus, pairwise_scores


def test_corpus_is_what_it_claims_to_be() -> None:
    reports = load_corpus()
    originals = [report for report in reports if not report.copy]
    per_story = Counter(report.story for report in originals)
    languages: dict[str, set[str]] = {}
    for report in originals:
        languages.setdefault(report.story, set()).add(report.language)
    assert len(per_story) >= 40
    assert all(2 <= count <= 4 for count in per_story.values())
    assert all(len(found) >= 2 for found in languages.values())
    assert sum(report.copy for report in reports) >= 8


def test_pairwise_precision_and_recall_of_same_story() -> None:
    reports = load_corpus()
    index = MemoryStoryIndex()
    predicted = [index.add(features_of(report), report.published_at).story_id for report in reports]
    precision, recall = pairwise_scores([report.story for report in reports], predicted)
    print(f"\nstory corpus: {len(reports)} articles, precision {precision:.3f} recall {recall:.3f}")
    assert precision >= 0.9
    assert recall >= 0.9


def test_copies_join_their_original_as_near_copies() -> None:
    index = MemoryStoryIndex()
    story_of: dict[str, int] = {}
    near_copies = 0
    for report in load_corpus():
        decision = index.add(features_of(report), report.published_at)
        story_of.setdefault(report.story, decision.story_id or 0)
        if report.copy:
            assert decision.story_id == story_of[report.story], report.title
            near_copies += decision.signal.startswith("near-copy")
    assert near_copies >= 6
