"""The orchestrator's promise that one bad entry never costs the others their turn."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from hostile import HostileServer
from seedsite import publish, seeds

from monitor import pipeline, stories
from monitor.config import load_config
from monitor.service import running
from monitor.store import queries


def test_an_entry_that_hits_a_bug_is_recorded_and_the_others_are_stored(
    tmp_path: Path, site: HostileServer, make_config: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = seeds()[1]
    real = stories.story_features

    def failing_on_one(document: Any, published_at: Any) -> stories.StoryFeatures:
        if document.title == broken.title:
            raise RuntimeError("injected bug")
        return real(document, published_at)

    monkeypatch.setattr(pipeline.stories, "story_features", failing_on_one)
    config = load_config(make_config(f"sqlite:///{tmp_path / 'm.db'}", [{"name": "seeds", "url": publish(site)}]))

    async def poll_twice() -> tuple[Any, Any]:
        async with running(config) as runtime:
            first, _ = await runtime.poll([])
            monkeypatch.setattr(pipeline.stories, "story_features", real)  # the bug is fixed
            second, _ = await runtime.poll([])
            return first, second

    first, second = asyncio.run(poll_twice())
    report = first.feeds[0]
    assert report.stored == 4
    assert report.error is not None and "injected bug" in report.error and "\n" not in report.error
    # The feed's body was not marked as seen, so the next poll retries the failed entry only.
    assert second.feeds[0].stored == 1 and second.feeds[0].error is None
    engine_rows = _articles(config)
    assert sorted(a["title"] for a in engine_rows) == sorted(s.title for s in seeds())


def _articles(config: Any) -> list[dict[str, Any]]:
    from monitor.service import open_database

    return queries.articles(open_database(config), limit=100)
