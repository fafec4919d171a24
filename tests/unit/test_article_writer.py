"""The pipeline's group commit: articles that finish close together share one transaction."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from monitor import pipeline
from monitor.pipeline import ArticleWriter, DatabaseThread


class Recorder:
    def __init__(self) -> None:
        self.batches: list[list[Any]] = []

    def write(self, batch: list[Any]) -> list[Any]:
        self.batches.append(list(batch))
        return [None] * len(batch)


def test_articles_finishing_close_together_while_more_are_coming_are_written_in_one_batch() -> None:
    recorder = Recorder()
    coming = True

    async def go() -> None:
        nonlocal coming
        writer = ArticleWriter(recorder.write, DatabaseThread(), more_coming=lambda: coming)

        async def one(number: int) -> None:
            # The workers hand articles over one at a time, a few milliseconds apart.
            await asyncio.sleep(number * pipeline.GATHER_SECONDS / 10)
            assert await writer.store(number) is None  # type: ignore[arg-type]

        await asyncio.gather(*(one(number) for number in range(3)))
        coming = False
        await writer.store(99)  # type: ignore[arg-type]

    asyncio.run(go())
    assert recorder.batches == [[0, 1, 2], [99]]


def test_a_lone_article_is_written_at_once_when_nothing_more_is_coming(monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = Recorder()
    monkeypatch.setattr(pipeline, "GATHER_SECONDS", 10.0)  # a wait would show, however loaded the machine

    async def go() -> float:
        writer = ArticleWriter(recorder.write, DatabaseThread(), more_coming=lambda: False)
        started = time.monotonic()
        await writer.store(1)  # type: ignore[arg-type]
        return time.monotonic() - started

    assert asyncio.run(go()) < 5.0
    assert recorder.batches == [[1]]


def test_a_gathering_batch_is_written_as_soon_as_nothing_more_is_coming(monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = Recorder()
    monkeypatch.setattr(pipeline, "GATHER_SECONDS", 10.0)  # the whole wait would show, however loaded the machine
    coming = True

    async def go() -> float:
        nonlocal coming
        writer = ArticleWriter(recorder.write, DatabaseThread(), more_coming=lambda: coming)
        started = time.monotonic()
        stored = asyncio.ensure_future(writer.store(1))  # type: ignore[arg-type]
        await asyncio.sleep(0.02)
        assert not stored.done()  # gathering while the workers have more in hand
        coming = False  # the last analysis came back
        await stored
        return time.monotonic() - started

    assert asyncio.run(go()) < 5.0
    assert recorder.batches == [[1]]
