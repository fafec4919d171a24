"""The pipeline's group commit: articles that finish close together share one transaction."""

from __future__ import annotations

import asyncio
from typing import Any

from monitor import pipeline
from monitor.pipeline import ArticleWriter, DatabaseThread


def test_articles_finishing_within_the_gathering_time_are_written_in_one_batch() -> None:
    batches: list[list[Any]] = []

    def write(batch: list[Any]) -> list[Any]:
        batches.append(list(batch))
        return [None] * len(batch)

    async def go() -> None:
        writer = ArticleWriter(write, DatabaseThread())

        async def one(number: int) -> None:
            # The workers hand articles over one at a time, a few milliseconds apart.
            await asyncio.sleep(number * pipeline.GATHER_SECONDS / 10)
            assert await writer.store(number) is None  # type: ignore[arg-type]

        await asyncio.gather(*(one(number) for number in range(3)))
        await writer.store(99)  # type: ignore[arg-type]  # after the batch: a batch of its own

    asyncio.run(go())
    assert batches == [[0, 1, 2], [99]]
