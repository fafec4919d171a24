"""The same-story decision on real news it was not written for, through the real pipeline.

Each batch of SemEval-2022 task 8 pairs (tests/semeval.py) is published by two local
outlets, the first articles of the pairs by one, the second by the other; one
``monitor poll`` stores them and ``monitor stories --format json`` says which story each
joined. A pair counts as merged when both articles end in one story. The figures are the
ones docs/stories.md reports; the test fails when a change makes them worse.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import monitor
from hostile import HostileServer
from newssite import Story, publish, story_of_each_page
from semeval import CORPUS, Pair, labelled_pairs, scores

pytestmark = [
    pytest.mark.skipif(not CORPUS.exists(), reason="../shared/corpora is not beside this clone"),
    # Thirteen polls of 90 pages: about 100 s on a quiet machine, past the suite's 120 s under load.
    pytest.mark.timeout(600),
]

PAIRS_PER_BATCH = 45
PUBLISHED = datetime(2020, 1, 2, 8, 0, tzinfo=UTC)  # the corpus has no times: all within an hour
# Under what the pipeline reaches today (precision 0.88-0.89, F1 0.76-0.77; across
# languages 0.90-0.95 / 0.73-0.77 in four runs; docs/stories.md) by a pair or two: the
# order in which the pages arrive and are stored decides which story an article meets
# first, so false merges vary by a pair or two between runs (one pair moves a figure by
# 0.01, across languages by up to 0.05). A change that makes it worse fails. Issue 13's
# targets are 0.85 / 0.75.
FLOOR = {"precision": 0.85, "f1": 0.74, "across precision": 0.85, "across f1": 0.70}


def _merged(batch: list[Pair], tmp_path: Path, make_config: Any) -> list[bool]:
    def story(article: Any, minute: int) -> Story:
        return Story(article.id, article.title, article.text, article.language, PUBLISHED + timedelta(minutes=minute))

    with HostileServer() as server:
        feeds = [
            {"name": "first", "url": publish(server, "first", [story(p.a, i) for i, p in enumerate(batch)])},
            {"name": "second", "url": publish(server, "second", [story(p.b, i) for i, p in enumerate(batch)])},
        ]
        config = make_config(f"sqlite:///{tmp_path / f'pairs-{batch[0].a.id}.db'}", feeds)
        polled = monitor("--config", config, "poll", timeout=300)
        assert polled.returncode == 0, polled.stderr
        listed = monitor("--config", config, "stories", "--format", "json", "--limit", "1000")
        assert listed.returncode == 0, listed.stderr
    story_of = story_of_each_page(json.loads(listed.stdout))
    return [story_of.get(p.a.id, -1) == story_of.get(p.b.id, -2) for p in batch]


def test_real_multilingual_pairs_through_the_pipeline(tmp_path: Path, make_config: Any) -> None:
    pairs = labelled_pairs()
    merged: list[bool] = []
    for start in range(0, len(pairs), PAIRS_PER_BATCH):
        merged += _merged(pairs[start : start + PAIRS_PER_BATCH], tmp_path, make_config)
    figures = {}
    for name, chosen in (("", pairs), ("across ", [p for p in pairs if p.across_languages])):
        outcome = [(m, p.same) for m, p in zip(merged, pairs, strict=True) if p in chosen]
        tp = sum(m and same for m, same in outcome)
        fp = sum(m and not same for m, same in outcome)
        fn = sum(not m and same for m, same in outcome)
        precision, recall, f1 = scores(tp, fp, fn)
        print(
            f"\n{name or 'overall '}: precision {precision:.2f} recall {recall:.2f} F1 {f1:.2f}",
            f"(tp {tp} fp {fp} fn {fn})",
        )
        figures[f"{name}precision"], figures[f"{name}f1"] = precision, f1
    assert all(figures[key] >= floor for key, floor in FLOOR.items()), figures
